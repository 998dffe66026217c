"""Named stores in the config file: parsing, errors with file/line/key, selection, precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelshelf import ConfigError, Shelf
from modelshelf.cli.main import main
from modelshelf.config import Config, StoreConfig, is_store_name, key_lines, load_config
from modelshelf.store.named import resolve_store

FULL = """\
# team stores
default_store = "prod"

[stores.prod]
url = "s3://models/shelf"
endpoint = "http://127.0.0.1:8333"
region = "eu-west-1"
profile = "team"

[stores.prod.options]
secret_access_key = "sk-very-secret-1"

[stores.public]
url = "s3://open-data/models"
anonymous = true

[stores.local]
url = "./shelf"
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "modelshelf.toml"
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_full_file_parses(config_file: Path) -> None:
    config_file.write_text(FULL)
    config = load_config()
    assert config.exists and config.default_store == "prod"
    prod = config.stores["prod"]
    assert prod.url == "s3://models/shelf"
    assert prod.settings() == {
        "endpoint": "http://127.0.0.1:8333", "region": "eu-west-1", "profile": "team",
        "secret_access_key": "sk-very-secret-1",
    }  # fmt: skip
    assert "sk-very-secret-1" not in repr(prod) and "secret_access_key" in repr(prod)
    assert config.stores["public"].anonymous is True
    assert config.stores["local"].settings() == {}


def test_a_missing_file_is_an_empty_config(config_file: Path) -> None:
    assert load_config() == Config(path=config_file)


# (file text, line, key) of the error.
FAILURES = [
    ('default_store = "prod"\n[stores.prod]\nurl = s3://x\n', 3, "url"),
    ('\n\ncolour = "red"\n', 3, "colour"),
    ('[stores.prod]\nurl = "s3://b"\n\nendpont = "http://x"\n', 4, "stores.prod.endpont"),
    ('[stores.prod]\nurl = "s3://b"\nanonymous = "yes"\n', 3, "stores.prod.anonymous"),
    ('# c\n[stores.prod]\nregion = "x"\n', 2, "stores.prod.url"),
    ('default_store = "nope"\n[stores.prod]\nurl = "s3://b"\n', 1, "default_store"),
    ('[stores.p]\nurl = "s3://b"\n[stores.p.options]\nok = 1\nnested = [1]\n', 5,
     "stores.p.options.nested"),
    ('stores = { prod = { region = "x" } }\n', 1, "stores.prod.url"),
    ("\nstores.prod.url = 3\n", 2, "stores.prod.url"),
    ('[stores.prod]\nurl = "prod2"\n', 2, "stores.prod.url"),
    ('[stores."a b"]\nurl = "s3://b"\n', 1, 'stores.a b'),
    ('[stores.p]\nurl = "s3://b"\nregion = "x"\n[stores.p.options]\nregion = "y"\n', 5,
     "stores.p.options.region"),
    ('[stores.p]\nurl = "s3://b"\nregion = ""\n', 3, "stores.p.region"),
    ('stores = "s3://b"\n', 1, "stores"),
    ('[stores.p]\nurl = """\ns3://b\n"""\n[stores.p.x]\n', 5, "stores.p.x"),
    ('[stores."a\\nb\\u001b[2J"]\nurl = "s3://b"\n', 1, "stores.a"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "key"), FAILURES)
def test_errors_name_the_file_line_and_key(
    config_file: Path, text: str, line: int, key: str
) -> None:
    config_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    error = caught.value
    assert (error.path, error.line) == (str(config_file), line), str(error)
    assert key in error.key
    message = str(error)
    assert message.startswith(f"config file {config_file}, line {line}")
    assert "\n" not in message


def test_a_file_that_is_not_utf8(config_file: Path) -> None:
    config_file.write_bytes(b'[stores.p]\nurl = "s3://\xff"\n')
    with pytest.raises(ConfigError, match=r"line 2: not UTF-8"):
        load_config()


def test_key_lines_follow_tables_dotted_and_quoted_keys() -> None:
    lines = key_lines('a = 1\n[t."q.k"]\nb.c = 2  # x\n[[arr]]\nd = 3\n')
    assert lines[("a",)] == 1
    assert lines[("t", "q.k")] == 2
    assert lines[("t", "q.k", "b", "c")] == 3 and lines[("t", "q.k", "b")] == 3
    assert lines[("arr", "d")] == 5


@pytest.mark.parametrize(
    ("value", "name"),
    [("prod", True), ("team-a.v2", True), ("s3://b/p", False), ("./prod", False),
     ("/srv/shelf", False), ("~/shelf", False), ("pkg.mod:Class", False), ("C:\\x", False),
     ("models/shelf", False), ("", False)],
)  # fmt: skip
def test_what_is_a_store_name(value: str, name: bool) -> None:
    assert is_store_name(value) is name


# -- selecting a store ------------------------------------------------------------------------


def _local_store(config_file: Path, tmp_path: Path, default: bool = False) -> str:
    url = (tmp_path / "team-store").as_uri()
    head = 'default_store = "team"\n' if default else ""
    config_file.write_text(
        f'{head}[stores.team]\nurl = "{url}"\n[stores.other]\nurl = "memory://o"\n'
    )
    return url


def test_store_flag_env_and_default_store_select_a_named_store(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    url = _local_store(config_file, tmp_path)
    model = tmp_path / "m.bin"
    model.write_bytes(b"x" * 100)
    code, _, err = run(capsys, "--store", "team", "push", str(model), "m")
    assert code == 0, err
    assert Shelf(url).versions("m") == ["1.0"]
    monkeypatch.setenv("MODELSHELF_STORE", "team")
    assert Shelf().url == url and Shelf().store_name == "team"
    monkeypatch.delenv("MODELSHELF_STORE")
    assert Shelf().url != url  # no default_store: the built-in folder
    _local_store(config_file, tmp_path, default=True)
    code, out, err = run(capsys, "versions", "m")
    assert code == 0 and "1.0" in out
    assert Shelf("memory://explicit").url == "memory://explicit"  # a URL stays a URL


def test_an_unknown_name_lists_the_known_ones(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _local_store(config_file, tmp_path)
    code, _, err = run(capsys, "--store", "prodd", "ls")
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: no store named 'prodd' (given as the store); known stores in {config_file}:"
        " other, team; or give a URL such as s3://bucket/prefix, file:///path or ./folder"
    ]


def test_a_malformed_file_is_one_line_for_any_command_that_needs_it(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text('[stores.prod]\nurl = "s3://b"\nprofle = "x"\n')
    code, _, err = run(capsys, "--store", "prod", "ls")
    assert code == 1
    assert err.startswith(f"error: config file {config_file}, line 3, key stores.prod.profle:")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "--store", "memory://fine", "ls")  # a URL never reads the file
    assert code == 0, err


def test_environment_beats_the_file_and_flags_beat_both(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text(FULL)
    plain = resolve_store("prod")
    assert plain.options["endpoint"] == "http://127.0.0.1:8333" and not plain.overridden
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://10.0.0.9:9000")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    env = resolve_store("prod")
    assert "endpoint" not in env.options and "region" not in env.options
    assert "secret_access_key" not in env.options  # the file's key yields to the env's pair
    assert env.options["profile"] == "team"
    assert env.overridden == {
        "endpoint": "AWS_ENDPOINT_URL", "region": "AWS_REGION",
        "secret_access_key": "AWS_ACCESS_KEY_ID",
    }  # fmt: skip
    assert Shelf("prod").store_id == Shelf("s3://models/shelf").store_id  # same endpoint now
    flags = resolve_store("prod", {"endpoint": "http://flag:1", "profile": "other"})
    assert flags.options["endpoint"] == "http://flag:1" and flags.options["profile"] == "other"
    assert "sk-very-secret-1" not in repr(resolve_store("prod"))


def test_the_files_endpoint_selects_the_store(config_file: Path) -> None:
    config_file.write_text(FULL)
    assert Shelf("prod").store_id != Shelf("s3://models/shelf").store_id
    assert (
        Shelf("prod").store_id
        == Shelf("s3://models/shelf", endpoint="http://127.0.0.1:8333").store_id
    )


def test_anonymous_and_profile_from_the_file_reach_the_backend(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.write_text(FULL)
    public = Shelf("public").store.backend
    assert dict(public._store.config).get("skip_signature") in (True, "true")  # type: ignore[attr-defined]
    creds = tmp_path / "aws-credentials"
    creds.write_text("[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    config_file.write_text(
        '[stores.p]\nurl = "s3://b"\nprofile = "team"\nendpoint = "http://127.0.0.1:9"\n'
    )
    backend = Shelf("p").store.backend
    assert dict(backend._store.config)["access_key_id"] == "AKIATEAM"  # type: ignore[attr-defined]


def test_a_setting_the_backend_does_not_take_names_the_store(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = (tmp_path / "s").as_uri()
    config_file.write_text(f'[stores.dev]\nurl = "{url}"\nregion = "eu-west-1"\n')
    code, _, err = run(capsys, "--store", "dev", "ls")
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: cannot open the store {url}") and "region" in lines[0]
    assert lines[1:] == [
        f"  hint: the store 'dev' is declared in {config_file} (modelshelf config stores)"
    ]


# -- the config command ------------------------------------------------------------------------


def test_config_shows_where_the_file_is(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "config")
    assert code == 0
    assert out.splitlines()[0] == f"config file: {config_file} (does not exist)"
    assert "MODELSHELF_CONFIG" in out
    config_file.write_text(FULL)
    code, out, _ = run(capsys, "config", "--json")
    assert json.loads(out) == {
        "path": str(config_file), "exists": True, "from": "MODELSHELF_CONFIG", "stores": 3,
        "default_store": "prod", "error": None,
    }  # fmt: skip
    config_file.write_text("[stores.p\n")
    code, out, err = run(capsys, "config")
    assert code == 1 and str(config_file) in out and "line 1" in err


def test_config_without_the_variable_uses_the_user_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELSHELF_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    _, out, _ = run(capsys, "config", "--json")
    assert json.loads(out)["path"] == str(tmp_path / "xdg" / "modelshelf" / "config.toml")


def test_config_stores_masks_secrets(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file.write_text(
        FULL + '[stores.mine]\nurl = "pkg.mod:Store"\nendpoint = "https://u:pw-77@host"\n'
        '[stores.mine.options]\napi_token = "tok-55555"\nshard = "blue"\n'
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://env:1")
    code, out, _ = run(capsys, "config", "stores")
    assert code == 0
    for secret in ("sk-very-secret-1", "tok-55555", "pw-77"):
        assert secret not in out
    assert "prod (default): s3://models/shelf" in out
    assert "endpoint = http://127.0.0.1:8333  (overridden by AWS_ENDPOINT_URL)" in out
    assert "options.api_token = ***" in out and "options.shard = blue" in out
    code, out, _ = run(capsys, "config", "stores", "--json")
    data = json.loads(out)
    for secret in ("sk-very-secret-1", "tok-55555", "pw-77"):
        assert secret not in out
    stores = {s["name"]: s for s in data["stores"]}
    assert stores["prod"]["options"] == {"secret_access_key": "***"}
    assert stores["prod"]["overridden_by"] == {"endpoint": "AWS_ENDPOINT_URL"}
    assert stores["mine"]["endpoint"] == "https://u@host"
    assert data["default_store"] == "prod"


def test_config_stores_without_a_file(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "config", "stores")
    assert code == 0 and "does not exist" in out
    code, out, _ = run(capsys, "config", "stores", "--json")
    assert json.loads(out)["stores"] == []


def test_store_config_repr_shows_option_names_only() -> None:
    store = StoreConfig("p", "s3://b", options={"token": "t-123", "n": 1})
    assert repr(store) == "StoreConfig('p', url='s3://b', options=[n, token])"


def test_a_file_with_secrets_that_others_can_read_is_warned_about(
    config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_file.write_text(FULL)
    config_file.chmod(0o644)
    load_config()
    assert "chmod 600" in caplog.text and "sk-very-secret-1" not in caplog.text
    caplog.clear()
    config_file.chmod(0o600)
    load_config()
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("url", "setting", "variable"),
    [
        ("gs://models/shelf", "endpoint", "GOOGLE_BASE_URL"),
        ("az://models/shelf", "endpoint", "AZURE_STORAGE_ENDPOINT"),
        ("azure://models/shelf", "account_name", "AZURE_STORAGE_ACCOUNT_NAME"),
    ],
)
def test_cloud_variables_beat_the_file_for_gcs_and_azure(
    url: str, setting: str, variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf.store.named import resolve_store

    config = tmp_path / "config.toml"
    config.write_text(f'[stores.prod]\nurl = "{url}"\n[stores.prod.options]\n{setting} = "file"\n')
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    assert resolve_store("prod", {}).options[setting] == "file"
    monkeypatch.setenv(variable, "from-env")
    assert setting not in resolve_store("prod", {}).options  # the backend reads the variable
