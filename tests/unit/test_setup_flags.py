"""Issue 21, CLI 8: an error whose next step is an argument names it the way its reader gives it.

On the command line that is the flag (``--trust``, ``--overwrite``, ``-a ALIAS``); in Python the
keyword (``trust=True``, ``overwrite=True``, ``aliases=[...]``). Before, the CLI printed the
keywords (``pass anonymous=True``), or both forms in one sentence. Each error here is raised
twice, through ``main`` and through the Python API, and each face must name only its own words.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from tests import engines_fixtures as efx
from tests import models_fixtures as mfx

import modelshelf
from modelshelf import Shelf, export, load_model, mirror, register_model
from modelshelf._secrets import without_secrets
from modelshelf.backends.registry import open_backend
from modelshelf.cli._errors import error_line
from modelshelf.cli.main import main
from modelshelf.errors import (
    FOR_CLI,
    FOR_PYTHON,
    OPTIONS,
    ModelshelfError,
    TrustRequiredError,
)

SRC = Path(modelshelf.__file__).resolve().parent


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def words(option: str, package: str = "") -> tuple[str, str]:
    python, flag = OPTIONS[option]
    return python.format(package=package), flag.format(package=package)


def cli_names(err: str, option: str, package: str = "") -> None:
    """``err`` (a CLI error) names ``option``'s flag and none of the Python keywords."""
    flag = words(option, package)[1]
    assert err.startswith("error: "), err
    assert flag in err, err
    for keyword in (python.partition("=")[0] + "=" for python, _ in OPTIONS.values()):
        assert keyword not in err.replace(flag, ""), err  # loader's words hold its keyword
    assert "{" + option + "}" not in err  # no field left unfilled


def python_names(message: str, option: str, package: str = "") -> None:
    """``message`` (``str()`` of an error from the API) names the keyword and not the flag."""
    python, flag = words(option, package)
    assert python in message, message
    assert flag not in message, message
    assert "{" + option + "}" not in message


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def pushed(tmp_path: Path) -> Shelf:
    """The default store of the isolated environment (the CLI finds it), holding ``m``."""
    shelf = Shelf()
    shelf.push(tree(tmp_path / "v", {"model.bin": b"weights", "sub/a.txt": b"a"}), "m")
    return shelf


# -- the mapping, in one place ---------------------------------------------------------------
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_each_option_renders_as_the_keyword_in_python_and_the_flag_on_the_cli(
    option: str,
) -> None:
    error = TrustRequiredError("x.pkl runs code").with_fix(f"; pass {{{option}}}", package="pkg")
    python, flag = (words.format(package="pkg") for words in OPTIONS[option])
    assert str(error) == f"x.pkl runs code; pass {python}"
    assert error.render(FOR_PYTHON) == str(error)
    assert error.render(FOR_CLI) == f"x.pkl runs code; pass {flag}"
    assert error_line(error) == f"x.pkl runs code; pass {flag}"
    assert python != flag


@given(st.text(max_size=80))
@example("0:0@")  # reads as user:password@: cut like any secret, but never formatted
@example("{trust} {0} {x!r}")
def test_outside_text_in_the_message_is_never_formatted(text: str) -> None:
    # Only the fix (our own words) has fields: braces a store sent stay as they are. Every
    # message has its secrets cut (hypothesis found '0:0@', a user:password@ shape).
    error = ModelshelfError(text).with_fix("; pass {trust}")
    assert str(error) == without_secrets(f"{text}; pass trust=True")
    assert error.render(FOR_CLI) == without_secrets(f"{text}; pass --trust")


def test_an_error_with_a_fix_pickles_and_always_prints() -> None:
    error = TrustRequiredError("x").with_fix("; {allowed_hook_packages}", package="pkg")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == "x; allowed_hook_packages=['pkg']"
    assert again.render(FOR_CLI) == "x; --allow-hook-package pkg"
    # A field nobody filled stays as written rather than str() raising.
    assert str(TrustRequiredError("y").with_fix("; {nope}")) == "y; {nope}"


def test_no_raise_in_the_sources_spells_a_keyword_itself() -> None:
    # Every keyword named as a fix goes through with_fix; a literal "trust=True" in a raise
    # would reach the command line as it is (the defect of issue 21, CLI 8).
    keywords = [python.partition("=")[0] + "=" for python, _ in OPTIONS.values()]
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found += [
                        f"{path.relative_to(SRC)}:{node.lineno}: {k}"
                        for k in keywords
                        if k in part.value
                    ]
    assert found == []


# -- each error, both faces -------------------------------------------------------------------
def test_push_to_an_alias_names_a_on_the_cli_and_aliases_in_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tree(tmp_path / "v", {"model.bin": b"w"})
    code, err = run(capsys, "push", str(folder), "m@prod")
    assert code == 1
    cli_names(err, "aliases")
    with pytest.raises(modelshelf.InvalidInputError) as caught:
        Shelf().push(folder, "m@prod")
    python_names(str(caught.value), "aliases")


def test_pull_o_over_other_content_names_overwrite_as_each_face_spells_it(
    pushed: Shelf, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tree(tmp_path / "out", {"model.bin": b"mine"})
    code, err = run(capsys, "pull", "m", "-o", str(out))
    assert code == 1 and err.count("\n") == 1
    cli_names(err, "overwrite")
    with pytest.raises(modelshelf.UserFolderRefusedError) as caught:
        pushed.pull("m", output=out, progress=False)
    python_names(str(caught.value), "overwrite")
    assert "nothing was written" in str(caught.value)
    assert (out / "model.bin").read_bytes() == b"mine"


def test_export_over_other_content_names_overwrite_as_each_face_spells_it(
    pushed: Shelf, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(capsys, "export", "m", "--to", str(out)) == (0, "")
    mine = next(p for p in out.rglob("model.bin"))
    mine.write_bytes(b"mine")
    code, err = run(capsys, "export", "m", "--to", str(out))
    assert code == 1 and err.count("\n") == 1
    cli_names(err, "overwrite")
    with pytest.raises(modelshelf.ExportError) as caught:
        export("m", to=out, store=pushed)
    python_names(str(caught.value), "overwrite")
    assert mine.read_bytes() == b"mine"


def test_mirror_over_a_users_file_names_overwrite_as_each_face_spells_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{tree(tmp_path / 'bucket', {'data/a.txt': b'from the store'}).as_uri()}/data/"
    dest = tmp_path / "dest"
    assert run(capsys, "mirror", url, str(dest), "-q") == (0, "")
    mine = next(p for p in dest.rglob("a.txt"))
    mine.write_bytes(b"mine, edited")  # the user's now: refused unless overwrite
    code, err = run(capsys, "mirror", url, str(dest), "-q")
    assert code == 1
    cli_names(err, "overwrite")
    with pytest.raises(modelshelf.UserFolderRefusedError) as caught:
        mirror(url, dest, progress=False)
    python_names(str(caught.value), "overwrite")
    assert mine.read_bytes() == b"mine, edited"


def test_a_pickle_file_names_trust_as_each_face_spells_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "doubler.pkl"
    path.write_bytes(pickle.dumps(efx.Doubler(2.0), protocol=5))
    data = tmp_path / "x.json"
    data.write_text("[1, 2]")
    code, err = run(capsys, "predict", str(path), "--input", str(data))
    assert code == 1
    cli_names(err, "trust")
    with pytest.raises(TrustRequiredError) as caught:
        load_model(path)
    python_names(str(caught.value), "trust")


def test_a_pickle_asset_names_trust_as_each_face_spells_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through the store, the refusal is raised again naming the asset: its fix goes along.
    path = tmp_path / "doubler.pkl"
    path.write_bytes(pickle.dumps(efx.Doubler(2.0), protocol=5))
    Shelf().push(path, "plain/doubler")
    data = tmp_path / "x.json"
    data.write_text("[1, 2]")
    code, err = run(capsys, "predict", "plain/doubler", "--input", str(data))
    assert code == 1 and "plain/doubler:1.0" in err
    cli_names(err, "trust")
    with pytest.raises(TrustRequiredError) as caught:
        load_model("plain/doubler")
    assert "plain/doubler:1.0" in str(caught.value)
    python_names(str(caught.value), "trust")


def test_unmet_requirements_name_ignore_requirements_as_each_face_spells_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = {"x": 2.0, "bias": 1.0}
    register_model(
        "demo/req", mfx.LinearRunner, weights, requirements=["surely-not-installed-xyz>=2"]
    )
    data = tmp_path / "x.json"
    data.write_text('[{"x": 1}]')
    code, err = run(capsys, "predict", "demo/req", "--input", str(data))
    assert code == 1 and "surely-not-installed-xyz>=2 (not installed)" in err
    cli_names(err, "ignore_requirements")
    with pytest.raises(modelshelf.RequirementsError) as caught:
        load_model("demo/req")
    python_names(str(caught.value), "ignore_requirements")
    assert "pip install 'surely-not-installed-xyz>=2'" in str(caught.value)


def test_a_version_without_a_model_names_the_loader_as_each_face_can_give_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Shelf().push(tree(tmp_path / "v", {"a.txt": b"a", "b.txt": b"b"}), "plain/texts")
    data = tmp_path / "x.json"
    data.write_text("[1]")
    code, err = run(capsys, "predict", "plain/texts", "--input", str(data))
    assert code == 1
    cli_names(err, "loader")  # no flag takes a loader: the CLI names the Python call
    with pytest.raises(modelshelf.NotAModelError) as caught:
        load_model("plain/texts")
    python_names(str(caught.value), "loader")


def test_gs_without_credentials_names_anonymous_as_each_face_spells_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gcloud credentials file
    code, err = run(capsys, "--store", "gs://models/team", "versions", "m")
    assert code == 1 and "no Google credentials found" in err
    cli_names(err, "anonymous")
    with pytest.raises(modelshelf.StoreAuthError) as caught:
        open_backend("gs://models/team")
    python_names(str(caught.value), "anonymous")


def test_az_without_credentials_names_anonymous_as_each_face_spells_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = ["--store", "az://models/team", "--backend-opt", "account_name=acme"]
    code, err = run(capsys, *store, "versions", "m")
    assert code == 1 and "no Azure credentials found" in err
    cli_names(err, "anonymous")
    with pytest.raises(modelshelf.StoreAuthError) as caught:
        open_backend("az://models/team", account_name="acme")
    python_names(str(caught.value), "anonymous")


def test_a_runner_from_a_package_not_allowed_names_the_allowing_option_as_each_face_spells_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_model("demo/linear", mfx.LinearRunner, {"x": 2.0, "bias": 1.0})
    monkeypatch.delenv("MODELSHELF_ALLOWED_HOOK_PACKAGES")  # tests is allowed by conftest
    data = tmp_path / "x.json"
    data.write_text('[{"x": 1}]')
    code, err = run(capsys, "predict", "demo/linear", "--input", str(data))
    assert code == 1 and "MODELSHELF_ALLOWED_HOOK_PACKAGES=tests or" in err
    cli_names(err, "allowed_hook_packages", "tests")
    with pytest.raises(modelshelf.UntrustedStoreDataError) as caught:
        load_model("demo/linear")
    python_names(str(caught.value), "allowed_hook_packages", "tests")
    assert "allowed_hook_packages=['tests']" in str(caught.value)
    assert run(capsys, "predict", "demo/linear", "--input", str(data), "-q",
               "--allow-hook-package", "tests") == (0, "")  # fmt: skip
