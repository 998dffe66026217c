"""Review of issue 14 (stores): each test pins a defect the review found.

Each failed on the code as reviewed (then marked ``xfail(strict=True)``) and passes since its fix.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pytest

from modelshelf import ConfigError, ModelshelfError, Shelf, constants
from modelshelf.backends import Backend, ObjectMeta, PutMode, open_backend, register_backend
from modelshelf.backends._obstore import translate_error
from modelshelf.backends.azure import EMULATOR_KEY, AzureBackend
from modelshelf.backends.gcs import GCSBackend
from modelshelf.backends.memory import MemoryBackend
from modelshelf.backends.s3 import S3Backend
from modelshelf.cli.main import main
from modelshelf.config import load_config
from modelshelf.errors import StoreAuthError, StoreError, UnsupportedStoreError
from modelshelf.mirror.plan import make_plan, split_url
from modelshelf.mirror.run import mirror
from modelshelf.store.named import mask_options, resolve_store

ENDPOINT = "http://127.0.0.1:9/acme"  # the discard port: nothing here sends a request


@pytest.fixture(autouse=True)
def no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's cloud settings must not reach these tests."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "AZURITE_", "GOOGLE_", "STORAGE_EMULATOR", "GCE_")):
            monkeypatch.delenv(name)


# -- credentials: an explicit setting must beat the environment ----------------------------------


@pytest.mark.parametrize("explicit", [{"sas_token": "sv=2021&sig=abc"}, {"token": "bearer"}])
def test_azure_explicit_credential_beats_a_key_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, explicit: dict[str, str]
) -> None:
    # The module says "explicit keyword arguments winning"; a user who passes a read-only SAS
    # (or a named store's sas_token) must not be signed with whatever key the shell holds.
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", EMULATOR_KEY)
    chosen = AzureBackend._credentials(explicit, "az://models", "acme", ENDPOINT)  # type: ignore[arg-type]
    assert chosen["credential_type"] != "access_key"


def test_gcs_explicit_credential_beats_a_service_account_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT", "/nonexistent/other-project-key.json")
    # Today: StoreAuthError "cannot use GOOGLE_SERVICE_ACCOUNT": the explicit token is ignored.
    backend = GCSBackend("models", bearer_token="static-token", endpoint="http://127.0.0.1:9")
    assert backend.url == "gs://models"


def test_environment_overrides_the_file_for_a_named_azure_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "modelshelf.toml"
    config.write_text(
        '[stores.prod]\nurl = "az://models/shelf"\nendpoint = "http://127.0.0.1:9/acme"\n'
        '[stores.prod.options]\naccount_name = "acme"\naccount_key = "RklMRQ=="\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:9/other")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", EMULATOR_KEY)
    options = resolve_store("prod").options
    # Issue 14: "environment variables override the file" (s3 only today: ENV_OVERRIDES).
    assert options.get("endpoint") != "http://127.0.0.1:9/acme"
    assert options.get("account_key") != "RklMRQ=="


# -- secrets in what is shown ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://admin:p@ssw0rd@minio:9000", "http://admin@minio:9000"),
        ("http://u:a@b@c@h/x", "http://u@h/x"),
    ],
)
def test_a_password_with_an_at_sign_is_cut_whole(url: str, expected: str) -> None:
    # urllib (and every HTTP client) ends the userinfo at the LAST '@' of the authority; today
    # `config stores`, identities and error lines show "http://admin@ssw0rd@minio:9000".
    assert mask_options({"endpoint": url})["endpoint"] == expected


# -- mirror: nothing written outside DEST ----------------------------------------------------------


def _seeded(name: str) -> None:
    backend = open_backend(f"memory://{name}")
    backend.put("models/lr/coef.npy", b"c" * 100)
    backend.put("models/lr/config.json", b"{}")


def test_mirror_writes_nothing_outside_dest_through_a_symlink_in_it(tmp_path: Path) -> None:
    _seeded("review-symlink")
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "models").symlink_to(outside, target_is_directory=True)
    with contextlib.suppress(ModelshelfError, OSError):
        mirror("memory://review-symlink/models", dest)
    assert sorted(p.name for p in outside.rglob("*")) == []


# -- mirror: keys that are one file on macOS and Windows -------------------------------------------


def _plan(*keys: str) -> list[tuple[str, str]]:
    listing = [ObjectMeta(key, 3, etag=f"e{i}") for i, key in enumerate(keys)]
    _, refused = make_plan(
        listing, source="s3://b", prefix="p", single=False, include=(), exclude=(),
        index={}, local={},
    )  # fmt: skip
    return refused


def test_keys_equal_under_nfc_are_refused() -> None:
    # design-notes: "two names equal under NFC are refused" (push does); on APFS both keys are
    # one file: the second silently replaces the first, and every rerun fetches both again.
    assert _plan(unicodedata.normalize("NFC", "p/café"), unicodedata.normalize("NFD", "p/café"))


@pytest.mark.parametrize(
    "pair", [("p/Model.bin", "p/model.bin"), ("p/Data", "p/data/x")], ids=["files", "file-folder"]
)
def test_keys_equal_but_for_case_are_refused_or_warned(
    pair: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # One file on macOS/Windows defaults: data lost without a word (push at least warns).
    refused = _plan(*pair)
    assert refused or any("case" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("key", ["p/model.bin:hidden", "p/CON", "p/weights.bin."])
def test_keys_windows_would_not_write_as_that_file_are_refused(key: str) -> None:
    # check_key refuses "X:" at a segment start for Windows' sake, but "a:b" writes the stream b
    # of file a, "CON" is the console device and "x." is the file "x" there.
    assert _plan(key)


def test_an_explicit_profile_beats_keys_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/backends.md ranks --profile first (as the AWS CLI does: a command-line profile beats
    # AWS_ACCESS_KEY_ID); today the environment's keys sign and the profile only gives a region.
    creds = tmp_path / "credentials"
    creds.write_text("[dev]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    backend = S3Backend("models", profile="dev", endpoint="http://127.0.0.1:9")
    assert backend._store.config.get("access_key_id") == "PROFILEKEY"  # type: ignore[attr-defined]


class _UserInfoBackend(MemoryBackend):
    """A custom backend whose URL carries user:password@host, as a plugin's might."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MemoryBackend:
        return MemoryBackend.from_url("memory://" + url.split("@", 1)[1])


def test_a_shelf_never_shows_a_password_of_its_url() -> None:
    register_backend("reviewauth", _UserInfoBackend, clobber=True)
    shelf = Shelf("reviewauth://user:hunter2@host/x")
    assert "hunter2" not in shelf.store_id  # the identity is already cut
    assert "hunter2" not in repr(shelf)


# -- mirror: the store options of the command line, and third-party errors -----------------------


class _Recording(Backend):
    """A third-party backend (not under modelshelf.*) that records its settings; its listing
    fails, when asked to, with its own exception carrying its secret (as a careless SDK's)."""

    opened: ClassVar[list[dict[str, Any]]] = []
    fail = False

    def __init__(self, url: str, **settings: Any) -> None:
        self.url, self.settings = url, settings
        self.opened.append(settings)

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> _Recording:
        return cls(url, **settings)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        if self.fail:
            raise ConnectionError(f"no route to host (api_key={self.settings.get('api_key')})")
        return iter(())

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        raise NotImplementedError

    def get_range(self, key: str, start: int, end: int) -> bytes:
        raise NotImplementedError

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        raise NotImplementedError

    def head(self, key: str) -> ObjectMeta:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


_Recording.__module__ = "thirdparty.stores"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--backend-opt", "region=eu-west-1"], {"region": "eu-west-1"}),
        (["--anonymous"], {"anonymous": True}),
        (["--profile", "prod"], {"profile": "prod"}),
    ],
)
def test_the_mirror_command_opens_the_store_with_the_given_settings(
    tmp_path: Path, flags: list[str], expected: dict[str, Any]
) -> None:
    register_backend("reviewrec", _Recording, clobber=True)
    _Recording.opened, _Recording.fail = [], False
    assert main(["mirror", "reviewrec://bucket/p/", str(tmp_path / "d"), *flags]) == 0
    assert _Recording.opened and _Recording.opened[-1] == expected


def test_mirror_turns_a_third_party_error_into_a_store_error_without_its_secret(
    tmp_path: Path,
) -> None:
    register_backend("reviewrec", _Recording, clobber=True)
    _Recording.opened, _Recording.fail = [], True
    try:
        with pytest.raises(StoreError) as info:  # today: the plugin's own ConnectionError
            mirror("reviewrec://bucket/p/", tmp_path / "d", api_key="SUPERSECRET123")
        assert "SUPERSECRET123" not in str(info.value)
    finally:
        _Recording.fail = False


class _KeepsItsUrl(MemoryBackend):
    """A third-party backend whose url keeps the user:password@ it was opened with."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MemoryBackend:
        backend = MemoryBackend.from_url("memory://" + url.split("@", 1)[1])
        backend.url = url
        return backend


_KeepsItsUrl.__module__ = "thirdparty.stores"


def test_a_copy_never_records_or_reports_a_password_of_the_source(tmp_path: Path) -> None:
    register_backend("reviewkeep", _KeepsItsUrl, clobber=True)
    model = tmp_path / "model"
    model.mkdir()
    (model / "a.bin").write_bytes(b"abc")
    dev = Shelf("reviewkeep://user:hunter2@host/review-log", cache_dir=tmp_path / "cache")
    dev.push(model, "a/b", progress=False)
    prod = Shelf((tmp_path / "prod").as_uri(), cache_dir=tmp_path / "cache")
    report = dev.copy("a/b:1.0", prod, progress=False)
    # The destination's audit log is kept forever and shown by `modelshelf log`; the report is
    # what `copy --json` prints.
    assert "hunter2" not in str(prod.log("a/b")[-1])
    assert "hunter2" not in report.source


@pytest.mark.parametrize("code", ["PermanentRedirect", "AuthorizationHeaderMalformed"])
@pytest.mark.parametrize("backend", [GCSBackend, AzureBackend], ids=["gcs", "azure"])
def test_an_xml_error_code_never_names_aws_settings_for_another_cloud(
    code: str, backend: type[GCSBackend] | type[AzureBackend]
) -> None:
    # _obstore._NEXT_STEP is applied whatever the hints: the GCS XML API speaks S3's codes.
    error = RuntimeError(
        f"Server returned non-2xx status code: 400 Bad Request: <Error><Code>{code}</Code>"
        "<Message>m</Message></Error>"
    )
    with pytest.raises(StoreError) as info:
        translate_error(error, "gs://models", "k", backend.hints)
    assert "AWS" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["gs://models/a/../b", "gs://models/a//b", "gs://models/a\nb", "gs://models/p?x=1"]
)
def test_a_malformed_gs_url_is_refused_as_a_url_on_one_line(url: str) -> None:
    # az:// refuses these before obstore (commit 18cd406); gs:// lets obstore's ValueError reach
    # the credentials handler: "cannot use the bearer_token setting ... service account", or
    # drops the query without a word.
    with pytest.raises(UnsupportedStoreError) as info:
        open_backend(url, bearer_token="t", endpoint="http://127.0.0.1:9")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("url", ["az://models/a\nb", "az://models/a\tb"])
def test_an_az_url_with_a_tab_or_newline_is_refused_not_another_prefix(url: str) -> None:
    backend = None
    with contextlib.suppress(UnsupportedStoreError):
        backend = open_backend(
            url, account_name="acme", account_key=EMULATOR_KEY, endpoint=ENDPOINT
        )
    assert backend is None, f"opened {backend.url if backend else ''}"


@pytest.mark.parametrize("url", ["s3://models/conduct/a\tb", "memory://m/a\nb"])
def test_a_mirror_url_with_a_tab_or_newline_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedStoreError):
        split_url(url)  # today ('s3://models', 'conduct/ab', False)


def test_a_config_error_never_echoes_a_pasted_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A secret pasted on a line of its own (the name forgotten): the error names it as the key.
    config = tmp_path / "modelshelf.toml"
    config.write_text('[stores.prod]\nurl = "s3://b"\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET\n')
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    with pytest.raises(ConfigError) as info:
        load_config()
    assert "line 3" in str(info.value)
    assert "CYSECRET" not in str(info.value)


class _ReplacedMidway(Backend):
    """One object that another writer replaces (same size) while its ranges are read."""

    url = "reviewswap://bucket"
    data: ClassVar[dict[str, bytes]] = {}

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> _ReplacedMidway:
        return cls()

    def _etag(self) -> str:
        return "e1" if self.data["p/big"].startswith(b"A") else "e2"

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        yield ObjectMeta("p/big", len(self.data["p/big"]), etag=self._etag())

    def head(self, key: str) -> ObjectMeta:
        return ObjectMeta(key, len(self.data[key]), etag=self._etag())

    def get_range(self, key: str, start: int, end: int) -> bytes:
        chunk = self.data[key][start:end]
        self.data[key] = b"B" * len(self.data[key])  # the other writer's PUT lands now
        return chunk

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        yield self.data[key]

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


def test_a_mirror_never_writes_a_mix_of_two_versions_of_an_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", 4)  # 16 bytes: four ranged reads
    monkeypatch.setattr(constants, "max_concurrency", lambda: 1)
    register_backend("reviewswap", _ReplacedMidway, clobber=True)
    _ReplacedMidway.data = {"p/big": b"A" * 16}
    with contextlib.suppress(ModelshelfError):  # "changed during the mirror" is a fine answer
        mirror("reviewswap://bucket/p", tmp_path / "d")
    target = tmp_path / "d" / "p" / "big"
    # Today: "AAAABBBBBBBBBBBB", reported as fetched, indexed under the listing's ETag e1.
    assert not target.exists() or target.read_bytes() in (b"A" * 16, b"B" * 16)


def test_a_copy_error_of_the_destination_names_the_destination_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "modelshelf.toml"
    config.write_text(
        f'[stores.dev]\nurl = "{(tmp_path / "dev").as_uri()}"\n'
        '[stores.prod]\nurl = "s3://prod-models/shelf"\nendpoint = "http://127.0.0.1:9"\n'
        '[stores.prod.options]\naccess_key_id = "a"\nsecret_access_key = "b"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    model = tmp_path / "model"
    model.mkdir()
    (model / "a.bin").write_bytes(b"abc")
    Shelf("dev", cache_dir=tmp_path / "cache").push(model, "a/b", progress=False)
    capsys.readouterr()
    assert main(["copy", "a/b:1.0", "prod", "--store", "dev", "--quiet"]) != 0
    err = capsys.readouterr().err
    # Today: "... cannot reach the store s3://prod-models/shelf ... the store 'dev' is declared
    # in ...": the hint points at the store that worked.
    assert "'dev'" not in err


@pytest.mark.parametrize("url", ["az://acme:S3CR3TKEY@models/p", "gs://svc:S3CR3TKEY@models/p"])
def test_a_secret_written_into_a_store_url_is_not_echoed(url: str, tmp_path: Path) -> None:
    # azure.py even expects it ("give the account with AZURE_STORAGE_ACCOUNT_NAME, not in the
    # URL") and prints the URL whole; gcs.py prints the "bucket" 'svc:S3CR3TKEY@models'.
    with pytest.raises(ModelshelfError) as info:
        Shelf(url, cache_dir=tmp_path).versions("a")  # as `modelshelf --store URL versions a`
    assert "S3CR3TKEY" not in str(info.value)


def test_gcs_anonymous_false_as_text_keeps_the_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--backend-opt anonymous=false` arrives as text; _stores._BOOLEAN_SETTINGS converts it for
    # s3 only and gcs.py tests `if opts.get("anonymous")`: requests go out unsigned. (az:// was
    # fixed for this in fa771fc.)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default file
    with pytest.raises(StoreAuthError, match="no Google credentials"):
        open_backend("gs://models", anonymous="false", endpoint="http://127.0.0.1:9")
