"""``modelshelf ui`` refuses what it must not serve: a non-loopback address (no tokens guard
it), and a registry's URL (which serves these pages itself)."""

from __future__ import annotations

import pytest

from modelshelf.cli.main import main
from modelshelf.cli.ui import show_entry_url
from modelshelf.registry.run import is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.2", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_ui_refuses_a_non_loopback_host(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ui", "--host", "0.0.0.0", "--port", "1"]) == 1
    assert "loopback" in capsys.readouterr().err


def test_ui_refuses_a_registry_and_names_its_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", "http://127.0.0.1:9/", "ui", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "serves these pages itself" in err and "http://127.0.0.1:9" in err


def test_the_url_to_open_is_printed_whole(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:8090/?ui-token=Zm9vYmFyYmF6cXV4"
    show_entry_url(url)  # the secret is the point of this line: never cut as the others' are
    assert url in capsys.readouterr().err
