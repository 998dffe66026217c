"""Secrets never shown, in any form a URL or an option carries them (issue 20 round two, B6).

Class of attack: credentials leaking through errors, logs, ``config`` output and ``/metadata``.
The review found passwords holding ``/`` or whitespace, fragments, ``;name=value`` parameters,
``api-key``/``pw``/``pass``/``bearer`` names, ``config stores`` and the S3 bucket message all
showing the secret. One rule now cuts them (:mod:`modelshelf._secrets`), every
``ModelshelfError`` text passes through it, and the option names it masks are the parameter
names it cuts.
"""

from __future__ import annotations

import json
import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.unit.test_hostile_store import DictBackend

from modelshelf import Shelf
from modelshelf.backends import ObjectMeta
from modelshelf.backends.base import is_secret_option, without_secrets
from modelshelf.cli._errors import error_line
from modelshelf.cli.main import main
from modelshelf.errors import ModelshelfError, StoreError, UnsupportedStoreError

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A password holding '/', as AWS secret keys do (percent-encoding forgotten).
        (f"s3://AKIDEXAMPLE:{AWS_SECRET}@bucket/models", "s3://AKIDEXAMPLE@bucket/models"),
        ("pw://AK:se/cr/et@host/x", "pw://AK@host/x"),
        ("s3://user:pw/with/slash@bucket/p", "s3://user@bucket/p"),
        # ... or whitespace, or '@', ':' and '?'.
        ("s3://user:pass word@bucket/p", "s3://user@bucket/p"),
        ("s3://user:pw\t@bucket", "s3://user@bucket"),
        ("s3://user:p@s:s?x@bucket/p", "s3://user@bucket/p"),
        # A fragment never reaches a server: dropped.
        ("s3://bucket/p#password=hunter2", "s3://bucket/p"),
        ("s3://bucket/p#hunter2 then", "s3://bucket/p then"),
        # ';name=value' parameters, as query parameters.
        ("https://h/c;sig=SEMI", "https://h/c;sig=***"),
        ("https://h/c;x=1;token=T0K/x", "https://h/c;x=1;token=***"),
        # Names compared case-folded with '-' and '_' ignored; pw, pass, bearer.
        ("https://h/c?api-key=APIKEY123", "https://h/c?api-key=***"),
        ("https://h/c?API_KEY=APIKEY123", "https://h/c?API_KEY=***"),
        ("https://h/c?pw=PWVAL&pass=PASSVAL", "https://h/c?pw=***&pass=***"),
        ("https://h/c?Bearer=BEARERVAL&pwd=X", "https://h/c?Bearer=***&pwd=***"),
        ("https://h/c?X-Amz-Signature%3DENCODED", "https://h/c?X-Amz-Signature%3D***"),
        ("https://h/c? sig=SPACE", "https://h/c? sig=***"),
        # A connection string in a message.
        (
            "AccountKey=ACCKEY;AccountName=a;DefaultEndpointsProtocol=https",
            "AccountKey=***;AccountName=a;DefaultEndpointsProtocol=https",
        ),
    ],
)
def test_every_form_of_a_secret_is_cut(text: str, shown: str) -> None:
    assert without_secrets(text) == shown
    assert without_secrets(shown) == shown  # cutting twice changes nothing more


@pytest.mark.parametrize(
    "text",
    [
        "s3://bucket/a@b/c",  # an '@' in a key path: no credentials
        "s3://bucket/a:b@c/d",  # ':' and '@' in a key path: the user part would hold '/'
        "https://[::1]:9000/b x@y",  # an IPv6 host and port
        # A host:port, then an '@' later on the line (an alias spec): not a password.
        "resnet@prod points at 3, removed from http://127.0.0.1:8333/models; set resnet@prod",
        "http://localhost:9000 answered 403 for team/m@prod",
        "https://h/c?sv=2024&se=2030&sp=rw&generation=5",
        "write --meta KEY=VALUE",
        "s3://user@bucket/p",
    ],
)
def test_what_is_no_secret_is_kept(text: str) -> None:
    assert without_secrets(text) == text


@pytest.mark.parametrize(
    "name",
    [
        *("api-key", "API_KEY", "apiKey", "pw", "PASS", "pwd", "bearer", "Authorization"),
        *("db_pw", "client-secret", "sas_token", "x-amz-security-token", "Account-Key", "sig"),
        *("aws_sse_customer_key_base64", "key.pass"),
    ],
)
def test_secret_names_are_one_rule_for_options_and_parameters(name: str) -> None:
    assert is_secret_option(name)
    assert without_secrets(f"https://h/c?{name}=S3CR3T") == f"https://h/c?{name}=***"


@pytest.mark.parametrize("name", ["region", "endpoint", "bucket", "profile", "anonymous", "sv"])
def test_plain_option_names_are_no_secret(name: str) -> None:
    assert not is_secret_option(name)


# -- the property: a random secret planted anywhere a URL carries one is never shown ----------

# The secret is told from the rest of the text by the letters Q and J, which no host, path or
# name drawn here holds; every piece of a secret holds one, so a piece shown is a piece caught.
_MARK = st.sampled_from("QJ")
_PLAIN = st.text("abcdefghiklmnoprstuwxyz0123456789-.", min_size=1, max_size=12)
_NAMES = [
    "sig", "pass", "pw", "key", "pwd", "password", "passwd", "token", "secret", "bearer",
    "api-key", "apikey", "access_key", "account_key", "client_secret", "credential",
    "X-Amz-Signature", "X-Amz-Credential", "X-Goog-Signature", "SharedAccessSignature",
    "x-amz-security-token", "auth", "private_token", "session-token", "AccountKey",
]  # fmt: skip


def _secret(alphabet: str) -> st.SearchStrategy[str]:
    piece = st.tuples(_MARK, st.text(alphabet + "QJ", max_size=8)).map("".join)
    return st.lists(piece, min_size=1, max_size=4).map("".join)


# A password may hold any printable character but whitespace, '@' and ':' among them ...
_PASSWORD = _secret("abcXYZ0189/@:?#;=&%+~!$*,'()\"<>[]")
# ... and whitespace when no '@' comes before it (a typed password: the one ambiguous case).
_SPACED_PASSWORD = st.tuples(_secret("abc/:?;=&+"), st.sampled_from(" \t"), _secret("abc/")).map(
    "".join
)
# A value of a parameter or a fragment: what a URL may hold raw, but its separators.
_VALUE = _secret("abcXYZ0189/:?=%+~!$*,'()@")


def _cased(name: str) -> st.SearchStrategy[str]:
    """The name in a random case, with '-' and '_' swapped, added or dropped."""
    return st.tuples(
        st.lists(st.booleans(), min_size=len(name), max_size=len(name)),
        st.sampled_from(["-", "_", ""]),
    ).map(
        lambda t: (
            "".join(c.upper() if up else c.lower() for c, up in zip(name, t[0], strict=True))
            .replace("-", t[1])
            .replace("_", t[1])
        )
    )


_NAME = st.sampled_from(_NAMES).flatmap(_cased)


@st.composite
def _url_with_secret(draw: st.DrawFn) -> tuple[str, str]:
    scheme = draw(st.sampled_from(["s3", "gs", "az", "https", "plugin+https", "pwstore"]))
    host, path = draw(_PLAIN), draw(_PLAIN)
    user = draw(st.sampled_from(["", "admin", "AKIDEXAMPLE"]))
    place = draw(st.sampled_from(["password", "spaced", "fragment", "query", "matrix", "pair"]))
    if place in ("password", "spaced"):
        secret = draw(_PASSWORD if place == "password" else _SPACED_PASSWORD)
        tail = draw(st.sampled_from(["", "?sv=1", "#frag", "/more/path"]))
        return secret, f"{scheme}://{user}:{secret}@{host}/{path}{tail}"
    secret = draw(_VALUE)
    if place == "fragment":
        return secret, f"{scheme}://{host}/{path}#{secret}"
    name = draw(_NAME)
    if place == "pair":  # a connection string quoted in a message; a bare KEY=VALUE is prose
        name = "AccountKey" if name.casefold() == "key" else name
        return secret, f"{name}={secret};AccountName={host}"
    before = draw(st.sampled_from(["", "sv=2024&", "a=1;"]))
    mark = "?" if place == "query" else ";"
    after = draw(st.sampled_from(["", "&se=2030", ";b=2", "#x"]))
    return secret, f"{scheme}://{host}/{path}{mark}{before}{name}={secret}{after}"


_AROUND = st.sampled_from(
    [("", ""), ("cannot open ", ": refused"), ("'", "'"), ('"', '"'), ("(", ")"), ("x ", " y@z")]
)


@settings(max_examples=600, deadline=None)
@given(_url_with_secret(), _AROUND)
@example((AWS_SECRET.replace("w", "Q"), f"s3://AK:{AWS_SECRET.replace('w', 'Q')}@b/k"), ("", ""))
@example(("Qse/cr/et", "pw://AK:Qse/cr/et@host/x"), ("", ""))
def test_a_planted_secret_never_shows(planted: tuple[str, str], around: tuple[str, str]) -> None:
    secret, url = planted
    text = around[0] + url + around[1]
    error = StoreError(f"the store {text} said no")
    for shown in (without_secrets(text), str(error), error_line(error)):
        assert secret not in shown and "Q" not in shown and "J" not in shown, (text, shown)


# -- every place that shows a URL or an option ----------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_stores_masks_url_passwords_and_secret_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = {
        "secret_access_key": "OPT1",
        "sas_token": "OPT2",
        "client_secret": "OPT3",
        "x_api_key": "OPT4",
        "password": "OPT5",
        "passwd": "OPT6",
        "pwd": "OPT7",
        "bearer": "OPT8",
        "pw": "OPT9",
    }
    lines = [
        'default_store = "prod"',
        "[stores.prod]",
        f'url = "s3://AKIDEXAMPLE:{AWS_SECRET}@bucket/models"',
        "[stores.prod.options]",
        *(f'"{k}" = "{v}"' for k, v in options.items()),
        'region_hint = "kept"',
        "[stores.az]",
        'url = "az://acct/c?sv=2024&sig=SIGSECRET&se=2030#frag=FRAGSECRET"',
    ]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    for args in (
        ["config"],
        ["config", "--json"],
        ["config", "stores"],
        ["config", "stores", "--json"],
    ):
        code, out, err = _run(capsys, *args)
        assert code == 0, err
        for secret in [AWS_SECRET, "wJalr", "SIGSECRET", "FRAGSECRET", *options.values()]:
            assert secret not in out + err, (args, secret, out)
    from modelshelf.config import load_config

    assert AWS_SECRET not in repr(load_config().stores["prod"])
    code, out, _ = _run(capsys, "config", "stores", "--json")
    shown = {row["name"]: row for row in json.loads(out)["stores"]}
    assert shown["prod"]["url"] == "s3://AKIDEXAMPLE@bucket/models"
    assert shown["prod"]["options"]["region_hint"] == "kept"
    assert set(shown["prod"]["options"].values()) == {"***", "kept"}


@pytest.mark.parametrize(
    "url",
    [
        f"s3://AKIDEXAMPLE:{AWS_SECRET}@bucket/models",
        f"gs://AKIDEXAMPLE:{AWS_SECRET}@bucket/models",
        f"az://AKIDEXAMPLE:{AWS_SECRET}@container/models",
    ],
)
def test_a_password_in_a_cloud_url_is_refused_without_quoting_it(url: str) -> None:
    # urllib's netloc ends at the first '/', inside the password: "AKIDEXAMPLE:wJalr..." was
    # quoted as "the bucket name is not valid".
    from modelshelf.backends.registry import open_backend

    with pytest.raises(UnsupportedStoreError) as info:
        open_backend(url)
    assert "wJalr" not in str(info.value) and "AKIDEXAMPLE" in str(info.value), str(info.value)
    assert "wJalr" not in repr(info.value.args)  # the raw text is not kept in the args either


# A plugin backend that keeps its URL, and quotes it in its own failures (the review's e2e).
_PLUGIN_URLS = {
    "slash-in-password": f"pwstore://AKIDEXAMPLE:{AWS_SECRET}@objects.example/models",
    "fragment": f"pwstore://objects.example/models#secret={AWS_SECRET}",
    "api-key param": f"pwstore://objects.example/models?api-key={AWS_SECRET}",
    "semicolon param": f"pwstore://objects.example/models;sig={AWS_SECRET}",
    "spaced password": "pwstore://admin:hunter 2 pw@objects.example/models",
}


class _LeakyBackend(DictBackend):
    url_of_all: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__(self.url_of_all)
        self.objects = {}

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        raise RuntimeError(f"{self.url} said no")

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        raise RuntimeError(f"{self.url} said no")


@pytest.mark.parametrize("label", list(_PLUGIN_URLS))
def test_a_plugin_url_with_any_secret_form_never_shows_it(
    label: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _PLUGIN_URLS[label]
    secret = AWS_SECRET if AWS_SECRET in url else "hunter 2 pw"
    monkeypatch.setattr(_LeakyBackend, "url_of_all", url)
    module = types.ModuleType("thirdparty_leaky")
    module.LeakyBackend = _LeakyBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "thirdparty_leaky", module)
    caplog.set_level(logging.DEBUG)
    shelf = Shelf("thirdparty_leaky:LeakyBackend", cache_dir=tmp_path / "cache")
    seen = [repr(shelf), str(shelf.url), str(shelf.store.url)]
    with pytest.raises(ModelshelfError) as info:
        shelf.resolve("a/b")
    seen.append(str(info.value))
    assert "said no" in seen[-1]
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = _run(capsys, "--store", "thirdparty_leaky:LeakyBackend", "ls")
    assert code == 1 and "said no" in err, err
    seen += [out, err, *(r.getMessage() for r in caplog.records)]
    assert secret not in "\n".join(seen), seen


def test_a_config_whose_url_holds_a_password_warns_when_others_can_read_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from modelshelf.config import load_config

    config = tmp_path / "config.toml"
    config.write_text(f'[stores.prod]\nurl = "s3://AK:{AWS_SECRET}@bucket/models"\n')
    config.chmod(0o644)
    caplog.set_level(logging.WARNING)
    load_config(config)
    assert any("holds secrets" in r.getMessage() for r in caplog.records)
