"""``registry serve --certfile --keyfile`` serves HTTPS, and the CLI reaches it through the global
``--ca-file`` (the registry's CA, a test CA made with trustme); without it, the certificate is
refused with one line saying how to give the CA."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.registry import RegistryProcess, admin_token
from tests.servers.remote import RemoteStore

from modelshelf.cli.main import main

trustme = pytest.importorskip("trustme")
pytestmark = pytest.mark.integration


@pytest.fixture
def https_registry(tmp_path: Path) -> Iterator[tuple[RegistryProcess, str, Path]]:
    """A registry over HTTPS in front of a file:// store: (process, admin token, CA file)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    backing = RemoteStore(kind="file", url=(tmp_path / "store").as_uri())
    token = admin_token(backing)
    args = ["--certfile", str(cert_file), "--keyfile", str(key_file)]
    with RegistryProcess(backing.url, tmp_path / "proc", args=args) as process:
        yield process, token, ca_file


def test_the_cli_reaches_an_https_registry_with_its_ca_file(
    https_registry: tuple[RegistryProcess, str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, token, ca_file = https_registry
    assert process.url.startswith("https://")
    monkeypatch.setenv("MODELSHELF_TOKEN", token)
    code = main(["registry", "token", "ls", "--json", "--store", process.url,
                 "--ca-file", str(ca_file)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [row["name"] for row in json.loads(out)["tokens"]] == ["admin"]
    assert token not in out + err
    # Without the CA the certificate does not verify: one line, naming how to give the CA.
    code = main(["registry", "token", "ls", "--store", process.url])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "TLS verification" in err and "--ca-file" in err, err
    assert len(err.strip().splitlines()) == 1 and token not in err
