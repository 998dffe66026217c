"""``modelshelf registry token create | ls | revoke`` on a ``file://`` store, and ``registry
serve``'s refusals that come before any server starts.

The token's text is printed once, alone on its stdout line, with a note on stderr that it will
not be shown again; no listing (text or ``--json``) ever holds it or its hash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelshelf.backends import open_backend
from modelshelf.cli.main import cli, main
from modelshelf.registry import tokens
from modelshelf.store.bucket import Store

TOKEN_TEXT = re.compile(r"msr_[a-z0-9][a-z0-9.-]*_[A-Za-z0-9_-]{40,}")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    folder = tmp_path / "store"
    folder.mkdir()
    return folder.as_uri()


def book(url: str) -> tokens.TokenBook:
    return tokens.TokenBook(Store(open_backend(url)))


def test_create_prints_the_token_once_and_it_verifies(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, err = run(
        capsys, "registry", "token", "create", "ci-bot", "--scope", "write:nlp/",
        "--scope", "read:*", "--expires", "90d", "--store", store_url,
    )  # fmt: skip
    assert code == 0, err
    assert out.count("\n") == 1 and TOKEN_TEXT.fullmatch(out.strip()), out
    text = out.strip()
    assert "will not be shown again" in err, err
    assert text not in err
    principal = book(store_url).verify(text)
    assert principal.name == "ci-bot"
    assert sorted(str(s) for s in principal.scopes) == ["read:*", "write:nlp/"]


def test_ls_never_shows_a_secret_nor_a_hash(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, _ = run(capsys, "registry", "token", "create", "ann", "--scope", "admin:*",
                       "--store", store_url)  # fmt: skip
    text = out.strip()
    secret = text.split("_", 2)[2]  # msr_<name>_<secret>: the secret may hold _
    code, listing, err = run(capsys, "registry", "token", "ls", "--store", store_url)
    assert code == 0, err
    assert "ann" in listing and "admin:*" in listing
    code, as_json, err = run(capsys, "registry", "token", "ls", "--json", "--store", store_url)
    assert code == 0, err
    rows = json.loads(as_json)["tokens"]
    assert [row["name"] for row in rows] == ["ann"]
    assert rows[0]["revoked"] is False and rows[0]["scopes"] == ["admin:*"]
    for shown in (listing, as_json, err):
        assert secret not in shown and text not in shown
        assert "sha256" not in shown


def test_create_json_holds_the_token_once_and_no_hash(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, err = run(capsys, "--json", "registry", "token", "create", "bot", "--scope",
                         "read:cv/", "--store", store_url)  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert TOKEN_TEXT.fullmatch(data["token"])
    assert data["name"] == "bot" and data["scopes"] == ["read:cv/"] and data["expires"] is None
    assert "sha256" not in data
    assert data["token"] not in err and all(json.loads(line) for line in err.splitlines())


def test_revoke_refuses_the_token_at_once(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    _, out, _ = run(capsys, "registry", "token", "create", "gone", "--scope", "read:*",
                    "--store", store_url)  # fmt: skip
    text = out.strip()
    code, out, err = run(capsys, "registry", "token", "revoke", "gone", "--store", store_url)
    assert code == 0, err
    from modelshelf.registry.context import CallerRefusedError

    with pytest.raises(CallerRefusedError, match="revoked"):
        book(store_url).verify(text)
    _, as_json, _ = run(capsys, "registry", "token", "ls", "--json", "--store", store_url)
    assert json.loads(as_json)["tokens"][0]["revoked"] is True


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "Bad_Name", "--scope", "read:*"], "not a token name"),
        (["create", "ok", "--scope", "delete:*"], "ACTION:PREFIX"),
        (["create", "ok", "--scope", "read:*", "--expires", "soon"], "duration"),
        (["revoke", "nobody"], "nobody"),
    ],
)
def test_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str], store_url: str, args: list[str], says: str
) -> None:
    code, out, err = run(capsys, "registry", "token", *args, "--store", store_url)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and says in err, err


def test_a_token_name_is_never_reused(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    for expected in (0, 1):
        code, _, err = run(capsys, "registry", "token", "create", "once", "--scope", "read:*",
                           "--store", store_url)  # fmt: skip
        assert code == expected, err
    assert "never reused" in err


def test_serve_help_names_its_options() -> None:
    result = CliRunner().invoke(cli, ["registry", "serve", "--help"], prog_name="modelshelf")
    assert result.exit_code == 0, result.output
    for option in ("--store", "--host", "--port", "--workers", "--certfile", "--keyfile",
                   "--anonymous-read", "--no-redirect", "--spool-dir"):  # fmt: skip
        assert option in result.output


def test_serve_refuses_bad_settings_before_it_starts(
    capsys: pytest.CaptureFixture[str], store_url: str, tmp_path: Path
) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate")
    code, _, err = run(capsys, "registry", "serve", "--certfile", str(cert), "--store", store_url)
    assert code == 1 and "--certfile and --keyfile together" in err, err
    code, _, err = run(capsys, "registry", "serve", "--anonymous-read", "a b", "--store", store_url)
    assert code == 1 and "ACTION:PREFIX" in err, err
    code, _, err = run(capsys, "registry", "serve", "--store", "http://127.0.0.1:9/")
    assert code == 1 and "bucket" in err, err


def test_serve_without_the_extra_names_the_install(
    capsys: pytest.CaptureFixture[str], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # an import of it fails
    code, _, err = run(capsys, "registry", "serve", "--store", store_url)
    assert code == 1 and "pip install 'modelshelf[registry]'" in err, err
