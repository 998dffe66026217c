"""Named stores from the config file against a real SeaweedFS on loopback, from the CLI.

Nothing comes from the environment here: the endpoint, region and keys are the file's, so the
test shows the file alone is enough, and that each bad setting is one line naming the store.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf.cli.main import main


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config(s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    env = s3_bucket.env
    path = tmp_path / "config.toml"
    path.write_text(
        f'default_store = "dev"\n'
        f'[stores.dev]\nurl = "{s3_bucket.url}"\nendpoint = "{env["AWS_ENDPOINT_URL"]}"\n'
        f'region = "{env["AWS_REGION"]}"\n'
        f'[stores.dev.options]\naccess_key_id = "{env["AWS_ACCESS_KEY_ID"]}"\n'
        f'secret_access_key = "{env["AWS_SECRET_ACCESS_KEY"]}"\n'
        f'[stores.wrongkey]\nurl = "{s3_bucket.url}"\nendpoint = "{env["AWS_ENDPOINT_URL"]}"\n'
        f'[stores.wrongkey.options]\naccess_key_id = "{env["AWS_ACCESS_KEY_ID"]}"\n'
        f'secret_access_key = "not-the-secret-8080"\n'
        f'[stores.down]\nurl = "{s3_bucket.url}"\nendpoint = "http://127.0.0.1:{_closed_port()}"\n'
        f'[stores.down.options]\naccess_key_id = "a"\nsecret_access_key = "b"\n'
        f'[stores.public]\nurl = "{s3_bucket.url}"\nendpoint = "{env["AWS_ENDPOINT_URL"]}"\n'
        "anonymous = true\n"
    )
    path.chmod(0o600)  # it holds keys
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    monkeypatch.delenv("MODELSHELF_STORE")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_default_named_store_pushes_and_pulls(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "weights.bin"
    model.write_bytes(b"w" * 5000)
    code, _, err = run(capsys, "push", str(model), "m")
    assert code == 0, err
    code, out, err = run(capsys, "--store", "dev", "pull", "m", "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == "1.0"


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("wrongkey", "refused access"),
        ("down", "cannot reach the store"),
        ("public", "refused access"),  # SeaweedFS with identities refuses unsigned requests
    ],
)
def test_bad_settings_in_the_file_are_one_line_naming_the_store(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str, says: str
) -> None:
    model = tmp_path / "weights.bin"
    model.write_bytes(b"w" * 5000)
    code, out, err = run(capsys, "--store", store, "push", str(model), "m")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert says in lines[0] and "not-the-secret-8080" not in err
    assert (
        lines[-1]
        == f"  hint: the store {store!r} is declared in {config} (modelshelf config stores)"
    )
    code, out, err = run(capsys, "--store", "dev", "ls", "--json")
    assert code == 0 and json.loads(out) == []  # nothing half written
