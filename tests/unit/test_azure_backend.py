"""``az://`` URLs, settings and identity, without a server (Azurite runs in tests/integration)."""

from __future__ import annotations

import inspect
import os
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from modelshelf import Shelf
from modelshelf.backends import open_backend
from modelshelf.backends.azure import EMULATOR_KEY, AzureBackend, AzureSettings
from modelshelf.backends.registry import get_backend_class, store_identity
from modelshelf.errors import StoreAuthError, UnsupportedStoreError

KEY = EMULATOR_KEY  # a well-formed key; nothing here sends a request
ENDPOINT = "http://127.0.0.1:9/devstoreaccount1"  # the discard port: never contacted here


@pytest.fixture(autouse=True)
def no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's Azure settings must not reach these tests."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "AZURITE_")):
            monkeypatch.delenv(name)


def keyed(**extra: object) -> dict[str, object]:
    return {"account_name": "acme", "account_key": KEY, **extra}


# -- URLs ------------------------------------------------------------------------------------


def test_az_and_azure_schemes_open_the_same_backend() -> None:
    assert get_backend_class("az") is AzureBackend
    assert get_backend_class("azure") is AzureBackend
    backend = open_backend("azure://models/team/", **keyed())
    assert isinstance(backend, AzureBackend)
    assert backend.url == "az://models/team"
    assert repr(backend) == "AzureBackend('az://models/team')"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("az://", "needs a container"),
        ("az:///prefix", "needs a container"),
        ("az://Models/p", "not valid"),
        ("az://ab/p", "not valid"),
        ("az://a--b/p", "not valid"),
        ("az://-ab/p", "not valid"),
        ("az://" + "a" * 64, "not valid"),
        ("az://models@acme.blob.core.windows.net/p", "AZURE_STORAGE_ACCOUNT_NAME"),
        ("az://models/p?x=1", "no query"),
        ("az://mo[dels/p", "not a valid Azure URL"),
        ("az://models/a/../b", "'..' segments"),
        ("az://models/./b", "'..' segments"),
        ("az://models/a//b", "empty"),
        ("az://models/a\x01b", "control characters"),
    ],
)
def test_malformed_urls_get_one_line_naming_the_fix(url: str, words: str) -> None:
    for call in (lambda: open_backend(url, **keyed()), lambda: Shelf(url, **keyed())):
        with pytest.raises(UnsupportedStoreError) as info:
            call()
        message = str(info.value)
        assert words in message and "\n" not in message
        assert "az://container/prefix" in message or "AZURE_" in message


@pytest.mark.parametrize("container", ["abc", "my-models-2", "$root", "$web", "a" * 63])
def test_valid_container_names_open(container: str) -> None:
    assert open_backend(f"az://{container}/p", **keyed()).url == f"az://{container}/p"


@pytest.mark.property
@given(st.text(alphabet=string.printable + "é[]@:?#%", max_size=40))
@example("models/a/../b")
@example("models/a/./b")
def test_any_az_url_opens_or_is_refused_cleanly(rest: str) -> None:
    url = "az://" + rest
    try:
        ident = AzureBackend.identity(url, account_name="acme")
        backend = AzureBackend.from_url(url, **keyed())
    except UnsupportedStoreError as exc:
        assert "\n" not in str(exc)
        return
    assert ident["url"] == backend.url and backend.url.startswith("az://")


# -- settings and credentials ---------------------------------------------------------------


def test_settings_document_their_environment_variables() -> None:
    source = inspect.getsource(AzureSettings)
    for variable in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY",
                     "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_TOKEN", "AZURE_STORAGE_ENDPOINT",
                     "AZURE_STORAGE_USE_EMULATOR"):  # fmt: skip
        assert variable in source


def test_unknown_setting_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnsupportedStoreError, match=r"unknown Azure setting.*account_key"):
        open_backend("az://models", **keyed(acount_key="x"))


def test_no_account_names_the_variable() -> None:
    with pytest.raises(StoreAuthError, match="AZURE_STORAGE_ACCOUNT_NAME") as info:
        open_backend("az://models", account_key=KEY)
    assert "AWS" not in str(info.value)


def test_no_credentials_names_azure_settings_and_never_aws() -> None:
    with pytest.raises(StoreAuthError) as info:
        open_backend("az://models/p", account_name="acme")
    message = str(info.value)
    assert "AZURE_STORAGE_ACCOUNT_KEY" in message and "AZURE_STORAGE_SAS_TOKEN" in message
    assert "anonymous" in message and "AWS" not in message and "\n" not in message


@pytest.mark.parametrize("bad", ["not base64!", "abc"])
def test_a_key_that_is_not_base64_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(StoreAuthError, match="not base64") as info:
        open_backend("az://models", account_name="acme", account_key=bad)
    assert bad not in str(info.value)


@pytest.mark.parametrize("account", ["AB", "Acme", "acme-corp", "a" * 25])
def test_an_invalid_account_name_is_refused(account: str) -> None:
    with pytest.raises(UnsupportedStoreError, match=r"account name .* not valid"):
        open_backend("az://models", account_name=account, account_key=KEY)


@pytest.mark.parametrize(
    "endpoint",
    [
        "127.0.0.1:10000",
        "ftp://host",
        "http://",
        "http://h:99999",
        "http://h/a?x=1",
        "http://user:hunter2@h",
        "http://h o",
    ],
)
def test_a_malformed_endpoint_is_refused_before_any_request(endpoint: str) -> None:
    with pytest.raises(UnsupportedStoreError, match="Azure endpoint") as info:
        open_backend("az://models", **keyed(endpoint=endpoint))
    assert "hunter2" not in str(info.value) and "\n" not in str(info.value)


def test_environment_supplies_settings_and_keywords_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "fromenv")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", KEY)
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:9/fromenv")
    assert open_backend("az://models").store_identity()["account"] == "fromenv"
    ident = open_backend("az://models", account_name="fromkw", endpoint=ENDPOINT).store_identity()
    assert (ident["account"], ident["endpoint"]) == ("fromkw", ENDPOINT)


@pytest.mark.parametrize(
    "credentials",
    [
        {"account_key": KEY},
        {"sas_token": "?sv=2021&sig=abc"},
        {"token": "bearer"},
        {"anonymous": True},
    ],
)
def test_each_kind_of_credential_opens_without_a_request(credentials: dict[str, object]) -> None:
    backend = open_backend("az://models/p", account_name="acme", endpoint=ENDPOINT, **credentials)
    assert backend.url == "az://models/p"


def test_anonymous_given_as_text_is_read_as_a_flag() -> None:
    # "false" (e.g. from a command-line option) must not drop the signature
    with pytest.raises(StoreAuthError, match="no Azure credentials"):
        open_backend("az://models", account_name="acme", anonymous="false")
    assert open_backend("az://models", account_name="acme", anonymous="true").url == "az://models"


def test_delegated_flows_are_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CREDENTIAL_TYPE", "azure_cli")
    assert open_backend("az://models", account_name="acme").url == "az://models"


def test_emulator_needs_no_account_or_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    ident = open_backend("az://models").store_identity()
    assert ident["account"] == "devstoreaccount1"
    assert ident["endpoint"] == "http://127.0.0.1:10000/devstoreaccount1"
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", "http://127.0.0.1:12345/")
    ident = open_backend("az://models").store_identity()
    assert ident["endpoint"] == "http://127.0.0.1:12345/devstoreaccount1"


# -- identity: which store, never who asks ---------------------------------------------------


def test_identity_names_account_and_default_endpoint() -> None:
    ident = AzureBackend.identity("az://models/team/", account_name="acme")
    assert ident == {
        "backend": "modelshelf.backends.azure:AzureBackend",
        "url": "az://models/team",
        "account": "acme",
        "endpoint": "https://acme.blob.core.windows.net",
    }


def test_identity_is_the_same_whoever_asks_and_holds_no_secret() -> None:
    secrets = {"account_key": KEY, "sas_token": "sig=SECRETSAS", "token": "SECRETTOKEN"}
    with_secrets = store_identity("az://models/p", account_name="acme", **secrets)
    anonymous = store_identity("az://models/p", account_name="acme", anonymous=True)
    assert with_secrets == anonymous
    text = repr(with_secrets) + repr(open_backend("az://models/p", account_name="acme", **secrets))
    assert KEY not in text and "SECRET" not in text


def test_another_account_or_endpoint_is_another_store() -> None:
    base = Shelf("az://models/p", **keyed()).store_id
    assert Shelf("az://models/p", **keyed(account_name="other")).store_id != base
    assert Shelf("az://models/p", **keyed(endpoint=ENDPOINT)).store_id != base
    assert Shelf("azure://models/p/", **keyed()).store_id == base


def test_password_in_an_endpoint_never_reaches_the_identity() -> None:
    ident = AzureBackend.identity("az://models", account_name="acme",
                                  endpoint="http://u:hunter2@h:1/acme")  # fmt: skip
    assert "hunter2" not in repr(ident)


# -- hints -------------------------------------------------------------------------------------


def test_hints_name_azure_settings_only() -> None:
    hints = AzureBackend.hints
    assert "AZURE_STORAGE_ACCOUNT_KEY" in hints.credentials
    assert "AZURE_STORAGE_ENDPOINT" in hints.endpoint
    assert "AWS" not in hints.credentials + hints.endpoint


@pytest.mark.property
@given(st.text(max_size=80))
def test_every_test_container_name_is_a_valid_container(test_name: str) -> None:
    from tests.servers.azurite import container_name

    name = container_name(test_name)
    assert open_backend(f"az://{name}/p", **keyed()).url == f"az://{name}/p"
