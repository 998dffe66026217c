"""The registry client's HTTP behaviour against a real server on 127.0.0.1 (tests/http_script.py):
errors decoded to their types, retries of 503 and dropped connections, 401/403 messages, the
token in no text, a presigned redirect followed without the token, bounded answers, TLS."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.http_script import DROP, Reply, error, running

from modelshelf.errors import (
    FOR_CLI,
    AliasConflictError,
    InvalidInputError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    UntrustedStoreDataError,
    VersionNotFoundError,
)
from modelshelf.store._http_reads import HttpBlob
from modelshelf.store._http_transport import Transport, load_token
from modelshelf.store.http import HttpStore

TOKEN = "msr_ci-bot_c2VjcmV0LXNlY3JldC1zZWNyZXQ"
SHA = "ab" * 32


_OPEN: list[Transport | HttpStore] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def transport(url: str, token: str | None = TOKEN, **kw: object) -> Transport:
    client = Transport(url, token=token, max_wait=0.01, **kw)  # type: ignore[arg-type]
    _OPEN.append(client)
    return client


def test_an_error_answer_is_rebuilt_as_its_type_with_its_attributes() -> None:
    with running() as server:
        gone = error(404, "VersionNotFoundError", "nlp/x:1.0 was removed")
        server.route("GET", "/api/v1/a", gone)
        server.route("GET", "/api/v1/b", error(409, "AliasConflictError", "moved", current="1.2"))
        server.route("GET", "/api/v1/c", error(400, "NotAnError", "something"))
        client = transport(server.url)
        with pytest.raises(VersionNotFoundError, match=r"nlp/x:1\.0 was removed"):
            client.send("GET", "/a")
        with pytest.raises(AliasConflictError) as conflict:
            client.send("GET", "/b")
        assert conflict.value.current == "1.2"  # type: ignore[attr-defined]
        with pytest.raises(StoreError) as other:
            client.send("GET", "/c")
        assert type(other.value) is StoreError


def test_503_is_retried_as_retry_after_says_then_answers() -> None:
    answers = [Reply(503, b"", {"Retry-After": "0"})] * 2 + [Reply(200, {"ok": True})]
    with running() as server:
        server.route("GET", "/api/v1/x", lambda _r: answers.pop(0))
        assert transport(server.url).json("GET", "/x", limit=100, what="x") == {"ok": True}
        assert len(server.requests("GET")) == 3


def test_503_after_every_try_is_store_unavailable_and_not_retried_for_a_post() -> None:
    with running() as server:
        busy = error(503, "StoreUnavailableError", "the store is unavailable")
        busy.headers["Retry-After"] = "1"
        server.route("GET", "/api/v1/x", busy)
        server.route("POST", "/api/v1/x", busy)
        client = transport(server.url)
        with pytest.raises(StoreUnavailableError):
            client.send("GET", "/x")
        assert len(server.requests("GET")) == 5
        with pytest.raises(StoreUnavailableError):
            client.send("POST", "/x", body=b"{}")
        assert len(server.requests("POST")) == 1


def test_a_dropped_connection_is_retried_on_a_get_only() -> None:
    answers = [DROP, Reply(200, {"ok": 1})]
    with running() as server:
        server.route("GET", "/api/v1/x", lambda _r: answers.pop(0))
        server.route("POST", "/api/v1/y", DROP)
        client = transport(server.url)
        assert client.json("GET", "/x", limit=100, what="x") == {"ok": 1}
        with pytest.raises(StoreUnreachableError, match="cannot reach the store"):
            client.send("POST", "/y", body=b"{}")
        assert len(server.requests("POST")) == 1


def test_an_unreachable_registry_is_store_unreachable_without_the_token() -> None:
    with running() as server:
        url = server.url
    with pytest.raises(StoreUnreachableError) as caught:
        transport(url).send("GET", "/x")
    assert url in str(caught.value) and TOKEN not in str(caught.value)


def test_401_says_how_to_give_a_token_and_403_names_the_scope() -> None:
    with running() as server:
        server.route("GET", "/api/v1/bare401", Reply(401, b"nope"))
        server.route("GET", "/api/v1/bare403", Reply(403, b""))
        needs = "the registry needs a token: set MODELSHELF_TOKEN"
        server.route("GET", "/api/v1/typed401", error(401, "StoreAuthError", needs))
        scope = "the token ci-bot lacks write:nlp/sentiment"
        server.route("GET", "/api/v1/typed403", error(403, "StoreAuthError", scope))
        anonymous = transport(server.url, token=None)
        with pytest.raises(StoreAuthError, match=r"needs a token.*MODELSHELF_TOKEN"):
            anonymous.send("GET", "/bare401")
        with pytest.raises(StoreAuthError, match=r"token given was refused.*token_file"):
            transport(server.url).send("GET", "/bare401")
        with pytest.raises(StoreAuthError, match=r"refused access \(HTTP 403\).*scope"):
            transport(server.url).send("GET", "/bare403")
        with pytest.raises(StoreAuthError, match="MODELSHELF_TOKEN"):
            transport(server.url).send("GET", "/typed401")
        with pytest.raises(StoreAuthError, match=r"refused access \(HTTP 403\): the token ci-bot"):
            transport(server.url).send("GET", "/typed403")


def test_the_token_is_sent_as_a_bearer_header_and_cut_from_an_echoed_message() -> None:
    with running() as server:
        server.route(
            "GET",
            "/api/v1/echo",
            lambda r: error(400, "InvalidInputError", f"bad header {r.headers['authorization']}"),
        )
        client = transport(server.url)
        with pytest.raises(InvalidInputError) as caught:
            client.send("GET", "/echo")
        assert server.requests()[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in str(caught.value) and "***" in str(caught.value)
        assert TOKEN not in repr(client)
        store = HttpStore(server.url, token=TOKEN)
        _OPEN.append(store)
        assert TOKEN not in repr(store) and TOKEN not in str(vars(store))


def test_a_blob_redirect_is_followed_with_the_range_and_without_token_or_cookies() -> None:
    content = bytes(range(256)) * 4
    with running() as server:
        presigned = f"{server.url}/presigned/{SHA}?X-Amz-Signature=abc"
        server.route(
            "GET",
            f"/api/v1/blobs/{SHA}",
            Reply(307, b"", {"Location": presigned, "Set-Cookie": "session=s3cr3t; Path=/"}),
        )

        def ranged(request: object) -> Reply:
            start, end = request.headers["range"].removeprefix("bytes=").split("-")  # type: ignore[attr-defined]
            part = content[int(start) : int(end) + 1]
            return Reply(206, part, {"Content-Range": f"bytes {start}-{end}/{len(content)}"})

        server.route("GET", f"/presigned/{SHA}", ranged)
        blob = HttpBlob(transport(server.url), SHA, direct_up_to=0)
        assert blob.read_range(10, 20) == content[10:20]
        assert b"".join(blob.read_chunks(0, 1024)) == content
        followed = server.requests("GET", f"/presigned/{SHA}")
        assert len(followed) == 2
        for request in followed:
            assert "authorization" not in request.headers
            assert "cookie" not in request.headers
        assert followed[0].headers["range"] == "bytes=10-19"
        first = server.requests("GET", f"/api/v1/blobs/{SHA}")
        assert first[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_blob_without_redirects_or_a_small_range_asks_the_registry_for_the_bytes() -> None:
    with running() as server:
        server.route(
            "GET", f"/api/v1/blobs/{SHA}", Reply(206, b"abc", {"Content-Range": "bytes 0-2/3"})
        )
        server.route("HEAD", f"/api/v1/blobs/{SHA}", Reply(404))
        blob = HttpBlob(transport(server.url), SHA, redirects=False, direct_up_to=0)
        assert blob.read_range(0, 3) == b"abc"
        assert HttpBlob(transport(server.url), SHA).read_range(0, 3) == b"abc"  # small
        for request in server.requests():
            assert request.headers["x-modelshelf-no-redirect"] == "1"
        with pytest.raises(ObjectNotFoundError):
            blob.size()


def test_a_json_answer_past_its_bound_is_refused() -> None:
    with running() as server:
        server.route("GET", "/api/v1/big", Reply(200, {"x": "y" * 5000}))
        with pytest.raises(UntrustedStoreDataError, match="over the 1000 allowed"):
            transport(server.url).json("GET", "/big", limit=1000, what="a listing")
        server.route("GET", "/api/v1/list", Reply(200, [1, 2]))
        with pytest.raises(UntrustedStoreDataError, match="not a JSON object"):
            transport(server.url).json("GET", "/list", limit=1000, what="a listing")


def test_an_unexpected_redirect_is_an_error_naming_the_registry() -> None:
    with running() as server:
        server.route("GET", "/api/v1/x", Reply(302, b"", {"Location": "https://elsewhere/"}))
        with pytest.raises(StoreError, match="redirect"):
            transport(server.url).send("GET", "/x")
        assert len(server.requests()) == 1


def test_the_token_comes_from_the_argument_then_the_file_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_TOKEN", "msr_env_x")
    token_file = tmp_path / "token"
    token_file.write_text("msr_file_y\n")
    assert load_token("msr_arg_z", token_file, "u") == "msr_arg_z"
    assert load_token(None, token_file, "u") == "msr_file_y"
    assert load_token(None, None, "u") == "msr_env_x"
    monkeypatch.delenv("MODELSHELF_TOKEN")
    assert load_token(None, None, "u") is None
    with pytest.raises(InvalidInputError, match="cannot be read"):
        load_token(None, tmp_path / "missing", "u")
    token_file.write_text("msr_a_b\nsecond line")
    with pytest.raises(ValueError, match="one line") as bad:
        load_token(None, token_file, "u")
    assert "msr_a_b" not in str(bad.value)


# -- TLS -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return context, pem


def test_tls_with_the_registry_ca_verifies_and_without_it_is_refused_clearly(
    tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    context, pem = tls
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with running(context) as server:
        server.route("GET", "/api/v1/x", Reply(200, {"ok": True}))
        assert transport(server.url, ca_file=pem).json("GET", "/x", limit=99, what="x")
        with pytest.raises(StoreAuthError) as refused:
            transport(server.url).send("GET", "/x")
        message = str(refused.value)
        assert f"TLS verification of {server.url} failed" in message
        assert "ca_file=PATH or SSL_CERT_FILE" in message and TOKEN not in message
        assert "--ca-file PATH or SSL_CERT_FILE" in refused.value.render(FOR_CLI)
        monkeypatch.setenv("SSL_CERT_FILE", str(pem))
        assert transport(server.url).json("GET", "/x", limit=99, what="x") == {"ok": True}


def test_a_bad_ca_file_is_refused_before_any_request(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match="cannot be used"):
        transport("https://127.0.0.1:9", ca_file=bad)


def test_json_of_a_request_body_is_compact_utf8() -> None:
    with running() as server:
        server.route("POST", "/api/v1/x", lambda r: Reply(200, {"got": r.json()}))
        answer = transport(server.url).json(
            "POST", "/x", payload={"é": 1}, limit=99, what="x", idempotent=False
        )
        assert answer == {"got": {"é": 1}}
        assert server.requests()[0].body == json.dumps({"é": 1}, ensure_ascii=False,
                                                       separators=(",", ":")).encode()  # fmt: skip


def test_a_refusal_in_the_registrys_words_is_named_once() -> None:
    with running() as server:
        words = "the registry refused access to the token 'ci': its secret is wrong; set"
        words += " MODELSHELF_TOKEN"
        server.route("GET", "/api/v1/x", error(401, "StoreAuthError", words))
        with pytest.raises(StoreAuthError) as caught:
            transport(server.url).send("GET", "/x")
        assert str(caught.value) == f"{server.url}: {words}"
