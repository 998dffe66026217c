"""Store-chosen code never runs: runner, hook and loader paths name where code is defined.

A manifest names its runner and its ``preprocess``/``postprocess`` hooks by import path. Each
test below names a path that used to reach a standard-library function through a module that
imported it (``modelshelf.models.load:os.system``), a dunder or private name, a modelshelf
internal, or a package nobody allowed, and checks that loading refuses it in one line and that
the command it would have run left no marker. The conftest allows the ``tests`` package
(``MODELSHELF_ALLOWED_HOOK_PACKAGES=tests``) so that its runners and hooks load; tests that
check the package rule clear it.
"""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from modelshelf import (
    InvalidInputError,
    PushSource,
    Shelf,
    UntrustedStoreDataError,
    load_model,
)
from modelshelf._imports import ImportRefusedError, import_object

ECHO = "tests.code_trust_fixtures:EchoRunner"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


def forge(url: str, tmp_path: Path, section: dict[str, Any], name: str = "demo/forged") -> None:
    """A version whose model section says what a hostile store would say."""
    (tmp_path / "f.txt").write_text("x")
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}), name, sections={"model": section}
    )


def fresh(url: str, tmp_path: Path) -> Shelf:
    return Shelf(url, cache_dir=tmp_path / "fresh")


def attack(marker: Path, path: str) -> Any:
    """The input that makes ``path``, called as a hook, create ``marker``."""
    command = f"touch {shlex.quote(str(marker))}"
    if path.endswith("system"):
        return command
    return ["sh", "-c", command]


WEAPONS = [
    "modelshelf.models.load:os.system",
    "modelshelf.shelf.source:subprocess.run",
    "modelshelf.shelf.source:subprocess.getoutput",
    "tests.code_trust_fixtures:os.system",
    "tests.code_trust_fixtures:run",
    "tests.code_trust_fixtures:subprocess.run",
    "tests.code_trust_fixtures:Holder.launch",
    "tests.code_trust_fixtures:Holder.alias",
    "tests.code_trust_fixtures:anything_run",
    "tests.code_trust_fixtures:public_hook.__globals__",
    "tests.code_trust_fixtures:EchoRunner.__init__.__globals__",
    "tests.code_trust_fixtures:EchoRunner.__init_subclass__",
    "modelshelf.cache.cache:_clear_way",
    "modelshelf.models.load:load_model",
    "modelshelf:load_model",
]


@pytest.mark.parametrize("role", ["preprocess", "postprocess"])
@pytest.mark.parametrize("path", WEAPONS)
def test_a_hook_that_reaches_a_weapon_is_refused_and_nothing_runs(
    path: str, role: str, url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    forge(url, tmp_path, {"runner": ECHO, "requirements": [], "artifacts": [], role: path})
    with pytest.raises(UntrustedStoreDataError) as caught:
        load_model("demo/forged", store=fresh(url, tmp_path)).predict(attack(marker, path))
    message = str(caught.value)
    assert "\n" not in message and "demo/forged:1.0" in message and role in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "path",
    [
        "modelshelf.models.load:os.system",
        "tests.code_trust_fixtures:os.system",
        "tests.code_trust_fixtures:Holder.launch",
        "tests.code_trust_fixtures:EchoRunner.__init__.__globals__",
        "tests.code_trust_fixtures:run",
    ],
)
def test_a_runner_path_that_walks_through_a_module_or_dunder_is_refused(
    path: str, url: str, tmp_path: Path
) -> None:
    forge(url, tmp_path, {"runner": path, "requirements": [], "artifacts": []})
    with pytest.raises(UntrustedStoreDataError) as caught:
        load_model("demo/forged", store=fresh(url, tmp_path))
    assert "\n" not in str(caught.value)


def test_a_hook_defined_where_it_is_named_still_runs(url: str, tmp_path: Path) -> None:
    section = {
        "runner": ECHO,
        "requirements": [],
        "artifacts": [],
        "postprocess": "tests.code_trust_fixtures:public_hook",
    }
    forge(url, tmp_path, section)
    assert load_model("demo/forged", store=fresh(url, tmp_path)).predict([1, 2]) == [1, 2]


def test_a_hook_outside_the_runner_distribution_needs_the_user_to_allow_it(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built-in runner (modelshelf), hook in the user's package: allowed by env or argument."""
    monkeypatch.delenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", raising=False)
    runner = "modelshelf.models.plain:CustomLoaderRunner"
    hook = "tests.code_trust_fixtures:public_hook"
    forge(
        url, tmp_path, {"runner": runner, "requirements": [], "artifacts": [], "preprocess": hook}
    )
    with pytest.raises(UntrustedStoreDataError, match="MODELSHELF_ALLOWED_HOOK_PACKAGES=tests"):
        load_model("demo/forged", store=fresh(url, tmp_path))
    loaded = load_model("demo/forged", store=fresh(url, tmp_path), allowed_hook_packages=["tests"])
    assert loaded.preprocess is not None
    monkeypatch.setenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", "elsewhere, tests.code_trust_fixtures")
    assert load_model("demo/forged", store=fresh(url, tmp_path)).preprocess is not None


def test_allowing_modelshelf_does_not_make_its_internals_hooks(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", "tests,modelshelf")
    marker = tmp_path / "gone"
    marker.mkdir()
    section = {
        "runner": ECHO,
        "requirements": [],
        "artifacts": [],
        "postprocess": "modelshelf.models.engines._common:identity",
    }
    forge(url, tmp_path, section)
    with pytest.raises(UntrustedStoreDataError, match="modelshelf internal"):
        load_model("demo/forged", store=fresh(url, tmp_path))
    assert marker.is_dir()


def make_dist(site: Path, name: str, requires_us: bool) -> Path:
    """A distribution ``name`` installed in ``site``; importing it creates the returned marker."""
    package = site / name
    package.mkdir(parents=True)
    marker = site / f"{name}.imported"
    (package / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            from typing import Any
            from modelshelf import Runner
            open({str(marker)!r}, "w").close()

            class R(Runner):
                @staticmethod
                def predict(model: Any, data: Any) -> Any:
                    return data

            def hook(data: Any) -> Any:
                return ["hooked", data]
            """
        )
    )
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    requires = "Requires-Dist: modelshelf\n" if requires_us else "Requires-Dist: packaging\n"
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n{requires}")
    (info / "top_level.txt").write_text(f"{name}\n")
    return marker


def test_a_store_picks_no_module_outside_modelshelf_its_dependents_or_the_allowed(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing runs a module's top level: the package rule is decided before the import."""
    monkeypatch.delenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", raising=False)
    site = tmp_path / "site"
    plugin = make_dist(site, "ms_t20_plugin", requires_us=True)
    other = make_dist(site, "ms_t20_other", requires_us=False)
    monkeypatch.syspath_prepend(str(site))
    for name in ("ms_t20_plugin", "ms_t20_other"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    forge(
        url, tmp_path, {"runner": "ms_t20_other:R", "requirements": [], "artifacts": []}, "a/other"
    )
    with pytest.raises(UntrustedStoreDataError, match="neither modelshelf"):
        load_model("a/other", store=fresh(url, tmp_path))
    assert not other.exists() and "ms_t20_other" not in sys.modules

    section = {
        "runner": "ms_t20_plugin:R",
        "requirements": [],
        "artifacts": [],
        "postprocess": "ms_t20_plugin:hook",
    }
    forge(url, tmp_path, section, "a/plugin")
    assert load_model("a/plugin", store=fresh(url, tmp_path)).predict(1) == ["hooked", 1]
    assert plugin.exists()

    # A hook from another distribution than the runner's is refused before its import.
    section["postprocess"] = "ms_t20_other:hook"
    forge(url, tmp_path, section, "a/mixed")
    with pytest.raises(UntrustedStoreDataError, match="not in the runner's distribution"):
        load_model("a/mixed", store=fresh(url, tmp_path))
    assert not other.exists()


def test_a_loader_the_user_types_does_not_walk_through_modules(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"x")
    for loader in ("modelshelf.models.load:os.system", "tests.code_trust_fixtures:run"):
        with pytest.raises(InvalidInputError, match="loader"):
            load_model(model, loader=loader)
    loaded = load_model(model, loader="tests.code_trust_fixtures:public_hook")
    assert loaded.model == model


def test_serve_refuses_the_hook_at_load_and_predict_runs_nothing(url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from modelshelf.serve import create_app

    marker = tmp_path / "ran"
    path = "modelshelf.shelf.source:subprocess.run"
    forge(url, tmp_path, {"runner": ECHO, "requirements": [], "artifacts": [], "preprocess": path})
    with pytest.raises(UntrustedStoreDataError, match="preprocess"):
        create_app("demo/forged", store=fresh(url, tmp_path))
    app = create_app("demo/forged", store=fresh(url, tmp_path), load="background")
    with TestClient(app) as client:
        answer = client.post("/predict", json=attack(marker, path))
    assert answer.status_code >= 500 or answer.status_code == 503
    assert not marker.exists()


def test_import_object_refuses_before_importing_a_refused_package(tmp_path: Path) -> None:
    with pytest.raises(ImportRefusedError, match="standard library"):
        import_object("antigravity:x", "runner", expect="a class", from_store=True)
    assert "antigravity" not in sys.modules


def test_the_cli_predict_takes_allow_hook_package(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelshelf.cli.main import main

    monkeypatch.delenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", raising=False)
    hook = "tests.code_trust_fixtures:public_hook"
    forge(url, tmp_path, {"runner": ECHO, "requirements": [], "artifacts": [], "preprocess": hook})
    data = tmp_path / "in.json"
    data.write_text("[1, 2]")
    args = ["--store", url, "predict", "demo/forged", "--input", str(data)]
    assert main(args) != 0
    assert "MODELSHELF_ALLOWED_HOOK_PACKAGES=tests" in capsys.readouterr().err
    assert main([*args, "--allow-hook-package", "tests"]) == 0
    assert capsys.readouterr().out.strip() == "[1, 2]"


def test_a_runner_from_an_editable_install_that_records_no_package_files_is_found(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hatchling's ``pip install -e .`` records only a ``.pth`` naming the source folder: a
    runner in that folder is the distribution's, a package beside it (``tests/`` next to
    ``src/``) is not."""
    monkeypatch.delenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", raising=False)
    project = tmp_path / "project"
    make_dist(project / "src", "ms_t20_editable", requires_us=True)
    info = project / "src" / "ms_t20_editable-0.1.dist-info"
    (info / "top_level.txt").unlink()  # what an editable hatchling install leaves
    site = tmp_path / "site"
    site.mkdir()
    info.rename(site / info.name)
    pth = site / "_ms_t20_editable.pth"
    pth.write_text(f"{project / 'src'}\n")
    (site / info.name / "RECORD").write_text(f"{pth.name},,\n{info.name}/METADATA,,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(project / "src"))
    monkeypatch.delitem(sys.modules, "ms_t20_editable", raising=False)
    section = {
        "runner": "ms_t20_editable:R",
        "requirements": [],
        "artifacts": [],
        "postprocess": "ms_t20_editable:hook",
    }
    forge(url, tmp_path, section, "a/editable")
    assert load_model("a/editable", store=fresh(url, tmp_path)).predict(1) == ["hooked", 1]

    # A package that a pull -o dropped into that source folder is not the project's: only the
    # package named like the distribution is credited (the second review's break E).
    dropped = project / "src" / "ms_t20_dropped"
    dropped.mkdir()
    marker = tmp_path / "dropped.imported"
    (dropped / "__init__.py").write_text(
        (project / "src" / "ms_t20_editable" / "__init__.py")
        .read_text()
        .replace(str(site.parent / "project" / "src" / "ms_t20_editable.imported"), str(marker))
    )
    forge(url, tmp_path, {**section, "runner": "ms_t20_dropped:R", "postprocess": None}, "a/drop")
    with pytest.raises(UntrustedStoreDataError, match="neither modelshelf"):
        load_model("a/drop", store=fresh(url, tmp_path))
    assert not marker.exists() and "ms_t20_dropped" not in sys.modules

    # The .pth names another folder (the project root, say): the package is not the project's.
    pth.write_text(f"{project}\n")
    monkeypatch.delitem(sys.modules, "ms_t20_editable", raising=False)
    with pytest.raises(UntrustedStoreDataError, match="neither modelshelf"):
        load_model("a/editable", store=fresh(url, tmp_path))


def test_python_m_modelshelf_never_imports_a_runner_pulled_into_the_working_folder(
    tmp_path: Path,
) -> None:
    """The reviewer's case: ``python -m`` puts the absolute working folder first on sys.path;
    a store's ``evilrun.py`` pulled there with ``pull -o .`` must not become the runner, even
    when the user allowed a package of that name (they meant an installed one)."""
    import os
    import subprocess

    from modelshelf import PushSource

    marker = tmp_path / "PWNED"
    module = tmp_path / "evilrun.py"
    module.write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from modelshelf import Runner\n"
        "class EvilRunner(Runner):\n"
        "    @staticmethod\n"
        "    def predict(model, data):\n"
        "        return data\n"
    )
    store = (tmp_path / "store").as_uri()
    section = {"runner": "evilrun:EvilRunner", "requirements": [], "artifacts": []}
    Shelf(store, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({module: "evilrun.py"}), "x/m", sections={"model": section}
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.json").write_text("[1]")
    env = {
        **os.environ,
        "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
        "MODELSHELF_ALLOWED_HOOK_PACKAGES": "evilrun",
    }
    cli = [sys.executable, "-m", "modelshelf", "--store", store]
    pulled = subprocess.run(
        [*cli, "pull", "x/m", "-o", ".", "-q"], cwd=work, env=env, capture_output=True, text=True
    )
    assert pulled.returncode == 0, pulled.stderr
    assert (work / "evilrun.py").exists()
    predicted = subprocess.run(
        [*cli, "predict", "x/m", "--input", "in.json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert predicted.returncode == 1
    assert "not in an installed module" in predicted.stderr
    assert not marker.exists()
