"""Store errors people can act on: settings checked up front, S3 causes kept, 5xx falls back.

No test here needs a real S3 server: settings fail before any request, error translation is fed
the text obstore produces (copied from obstore 0.12.1 against SeaweedFS and a 503 server), and the
"restarting server" is a tiny HTTP server on loopback that answers 503 to everything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from obstore import exceptions as obx

from modelshelf.backends._obstore import translate_error
from modelshelf.backends.registry import open_backend
from modelshelf.cli.main import main
from modelshelf.errors import (
    ObjectNotFoundError,
    OfflineError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    UnsupportedStoreError,
)
from modelshelf.shelf.shelf import Shelf

KEYS = {"access_key_id": "a", "secret_access_key": "b"}


# -- settings are checked before any request ------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"endpoint": "127.0.0.1:9000"}, "http://127.0.0.1:9000"),
        ({"endpoint": "localhost"}, "http://localhost"),
        ({"endpoint": "http://"}, "no host"),
        ({"endpoint": "ftp://host"}, "http:// or https://"),
        ({"endpoint": "http://host:99999"}, "port"),
        ({"endpoint": "http://host:abc"}, "port"),
        ({"endpoint": "http://host/p?x=1"}, "query"),
        ({"endpoint": "http://user:pw@host"}, "credentials"),
        ({"endpoint": "http://ho st:9000"}, "host"),
        ({"region": "us east 1"}, "region"),
        ({"region": ""}, "region"),
    ],
)
def test_bad_s3_settings_fail_up_front_and_say_the_fix(
    settings: dict[str, str], needle: str
) -> None:
    with pytest.raises(UnsupportedStoreError) as info:
        open_backend("s3://bucket/prefix", **KEYS, **settings)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_endpoint_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "127.0.0.1:9000")
    with pytest.raises(UnsupportedStoreError, match="AWS_ENDPOINT_URL"):
        open_backend("s3://bucket", **KEYS)


@pytest.mark.parametrize("bucket", ["a b", "b%2F", "b\x1b[31m", "x" * 300])
def test_bad_bucket_names_fail_up_front(bucket: str) -> None:
    with pytest.raises(UnsupportedStoreError, match="bucket"):
        open_backend(f"s3://{bucket}/prefix", **KEYS, endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:9000", "https://s3.example.com", "http://[::1]:9000/", "http://h/base"],
)
def test_good_endpoints_are_accepted(endpoint: str) -> None:
    open_backend("s3://My_Old.bucket-1/prefix", **KEYS, endpoint=endpoint, region="auto")


def test_cli_endpoint_without_scheme_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    code = main(["--store", "s3://bucket", "ls"])
    out, err = capfd.readouterr()  # file descriptors: a Rust panic writes to fd 2 directly
    assert code == 1 and out == ""
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "http://127.0.0.1:9000" in err and "panicked" not in err


# -- S3 errors keep their cause and say the next step --------------------------------------

_XML_404 = (
    "Generic S3 error: Error performing list request: Error performing GET"
    " http://127.0.0.1:8333/nope?list-type=2&prefix=p%2F in 832µs - Server returned non-2xx"
    ' status code: 404 Not Found: <?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket'
    "</Code><Message>The specified bucket does not exist</Message><Resource>/nope</Resource>"
    '<BucketName>nope</BucketName></Error>\n\nDebug source:\nGeneric {\n    store: "S3",\n}'
)
_XML_503 = (
    "Generic S3 error: Error performing GET http://127.0.0.1:4010/b/k in 32ms, after 3 retries,"
    " max_retries: 3, retry_timeout: 20s  - Server returned non-2xx status code: 503 Service"
    ' Unavailable: <?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
    "<Message>Please reduce your request rate.</Message></Error>\n\nDebug source:\nGeneric {}"
)
_EMPTY_500 = (
    "Generic S3 error: Error performing HEAD http://127.0.0.1:4010/b/k in 27ms, after 3 retries,"
    " max_retries: 3, retry_timeout: 20s  - Server returned non-2xx status code: 500 Internal"
    ' Server Error: \n\nDebug source:\nGeneric {\n    store: "S3",\n}'
)
_PLAIN_400 = (
    "Generic S3 error: Error performing GET http://127.0.0.1:4010/b/k in 2ms - Server returned"
    " non-2xx status code: 400 Bad Request: \n\nDebug source:\nGeneric {}"
)


def _translated(exc: BaseException) -> StoreError:
    with pytest.raises(StoreError) as info:
        translate_error(exc, "s3://nope/p", "assets/m/versions")
    assert info.value.__cause__ is exc
    return info.value


def test_no_such_bucket_is_named_with_the_next_step() -> None:
    error = _translated(obx.GenericError(_XML_404))
    assert type(error) is StoreError
    assert "NoSuchBucket" in str(error) and "The specified bucket does not exist" in str(error)
    assert "create the bucket" in str(error) and "<?xml" not in str(error)


def test_no_such_bucket_on_get_is_not_a_missing_object() -> None:
    text = _XML_404.replace("Generic S3 error:", "Object at location k not found:")
    error = _translated(obx.NotFoundError(text))
    assert not isinstance(error, ObjectNotFoundError)
    assert "NoSuchBucket" in str(error) and "create the bucket" in str(error)


@pytest.mark.parametrize(
    ("text", "needle"),
    [(_XML_503, "ServiceUnavailable: Please reduce your request rate."), (_EMPTY_500, "HTTP 500")],
)
def test_server_errors_after_retries_mean_unavailable(text: str, needle: str) -> None:
    error = _translated(obx.GenericError(text))
    assert isinstance(error, StoreUnavailableError) and isinstance(error, StoreUnreachableError)
    assert needle in str(error) and "try again" in str(error) and "\n" not in str(error)


def test_other_status_keeps_the_status_and_points_at_the_endpoint() -> None:
    error = _translated(obx.GenericError(_PLAIN_400))
    assert type(error) is StoreError
    assert "HTTP 400 Bad Request" in str(error) and "endpoint" in str(error)


def test_store_text_in_errors_is_kept_on_one_line() -> None:
    text = _XML_404.replace("The specified bucket", "bad\r\nline\x1b[2J")
    assert "\n" not in str(_translated(obx.GenericError(text))).replace("\\n", "")


# -- a server that answers 503 to everything: retries, then the cache answers ---------------


class _Always503(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012  (a log the test reads)

    def _answer(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
            b"<Message>restarting</Message></Error>"
        )
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _answer  # noqa: N815

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def restarting_server() -> Iterator[str]:
    _Always503.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Always503)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_store_answering_503_falls_back_to_the_cache(
    restarting_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What an earlier pull would have left: the manifest and the resolution of "latest",
    # cached under the identity of the S3 store that now answers 503.
    monkeypatch.setenv("AWS_ENDPOINT_URL", restarting_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    shelf = Shelf("s3://bucket/models")
    local = Shelf((tmp_path / "seed").as_uri())
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    local.push(model, "m")
    manifest = local.resolve("m").manifest
    shelf.cache.save_manifest(shelf.store_id, manifest)
    shelf.cache.write_ref(shelf.store_id, "m", "aliases:latest", manifest.version)

    resolved = shelf.resolve("m")
    assert resolved.offline and resolved.version == "1.0"
    # Retried before giving up: the same request more than once.
    assert len(_Always503.requests) > 1 and len(set(_Always503.requests)) == 1

    code = main(["--store", "s3://bucket/models", "show", "m"])
    out, err = capsys.readouterr()
    assert code == 0 and "m:1.0" in out
    assert "warning: " in err and "using the cached resolution" in err
    assert "503" in err or "ServiceUnavailable" in err

    code = main(["--store", "s3://bucket/models", "show", "never-pulled"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.startswith("error: ")
    assert "never pulled" in err


def test_503_without_a_cache_is_an_offline_error(
    restarting_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", restarting_server)
    shelf = Shelf("s3://bucket", **KEYS)
    with pytest.raises(OfflineError):
        shelf.resolve("m")
    with pytest.raises(StoreUnavailableError, match="try again"):
        shelf.assets()


def test_an_s3_url_urllib_cannot_split_is_one_line_from_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from modelshelf.cli.main import main

    code = main(["--store", "s3://b[x", "ls"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "not a valid S3 URL" in err and "bug" not in err


def test_warnings_from_store_text_are_escaped_on_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from modelshelf.cli.main import _setup_logging

    _setup_logging()
    logging.getLogger("modelshelf").warning("server said %s", "\x1b]0;pwned\x07 done")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;pwned\\x07 done" in err
