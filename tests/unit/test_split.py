"""The split of issue 21 (modules back under ~500 lines, two duplications gone) kept what the
code promises: serve's preflight refuses a store's model section exactly as ``load_model`` does
(both now call ``models._section.check_section``), ``Shelf.push`` takes what
``Shelf.push_report`` takes (one signature, ``PushOptions``), and no module grows past the limit.
"""

from __future__ import annotations

import inspect
import itertools
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import modelshelf
from modelshelf import PushSource, Shelf, load_model
from modelshelf.errors import TrustRequiredError, UntrustedStoreDataError
from modelshelf.models._preflight import check_loadable
from modelshelf.shelf.shelf import PushOptions

SRC = Path(modelshelf.__file__).parent
MAX_MODULE_LINES = 500

ECHO = "tests.code_trust_fixtures:EchoRunner"
runners = (
    st.sampled_from(
        [
            ECHO,
            "modelshelf.models.engines.pickle:PickleRunner",
            "modelshelf.models.load:os.system",
            "tests.code_trust_fixtures:run",
            "os:system",
            "no_such_module_xyz:Runner",
            "not a path",
            "tests.code_trust_fixtures:public_hook",
        ]
    )
    | st.none()
    | st.integers()
    | st.lists(st.text(max_size=5), max_size=2)
)
hooks = st.none() | st.sampled_from(
    [
        "tests.code_trust_fixtures:public_hook",
        "tests.code_trust_fixtures:EchoRunner",
        "modelshelf.models.load:os.system",
        "tests.code_trust_fixtures:Holder.launch",
        "modelshelf:load_model",
        "\x1b[31mred:x",
    ]
)
requirement = (
    st.sampled_from(["numpy", "no-such-distribution-xyz>=1", "numpy<0.1", "bad req ;;", "", "x\ny"])
    | st.integers()
)
json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# A loadable section with a few of its fields made hostile, so that examples reach every check.
hostile_fields = st.fixed_dictionaries(
    {},
    optional={
        "runner": runners,
        "requirements": st.lists(requirement, max_size=3) | json_leaf,
        "signature": json_values,
        "preprocess": hooks,
        "postprocess": hooks,
        "props": st.none()
        | st.dictionaries(st.text(max_size=4), st.text(max_size=4) | st.integers(), max_size=2),
        "artifacts": st.lists(st.sampled_from(["f.txt", "../up", "/etc/passwd", "a/b"]), max_size=2)
        | json_leaf,
        "saved_as": st.none()
        | st.sampled_from(["pickle", "skops", "onnx", "nope"])
        | st.integers(),
        "saved_class": st.none() | st.sampled_from(["pkg.mod:Net", "bad path", "os:system"]),
    },
)
LOADABLE = {"runner": ECHO, "requirements": [], "artifacts": []}
sections = hostile_fields.map(lambda hostile: LOADABLE | hostile) | json_leaf

_names = (f"split/forged{n}" for n in itertools.count())


def _outcome(call: Any) -> tuple[str, str] | None:
    try:
        call()
    except Exception as exc:  # the comparison is the point: any error, same type and text
        return type(exc).__name__, str(exc)
    return None


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(section=sections)
def test_preflight_refuses_a_hostile_section_as_load_model_does(
    section: Any, tmp_path: Path
) -> None:
    name = next(_names)
    root = tmp_path / name.replace("/", "-")
    root.mkdir()
    (root / "f.txt").write_text("x")
    url = (root / "store").as_uri()
    writer = Shelf(url, cache_dir=root / "writer")
    source = PushSource.from_files({root / "f.txt": "f.txt"})
    writer.push(source, name, sections={"model": section}, progress=False)
    before = _outcome(lambda: check_loadable(name, store=Shelf(url, cache_dir=root / "a")))
    shelf = Shelf(url, cache_dir=root / "b")
    after = _outcome(lambda: load_model(name, store=shelf, progress=False))
    event(f"preflight: {before[0] if before else 'passes'}; load: {after[0] if after else 'loads'}")
    if before is not None:
        assert after is not None  # what the preflight refuses, the load refuses
        if before[0] != TrustRequiredError.__name__:
            assert after == before  # in the same words
        if before[0] == UntrustedStoreDataError.__name__:
            assert "\n" not in before[1] and "\x1b" not in before[1]
            assert before[1].startswith(f"{name}:1.0 in ")
    if after is not None and ("its props" in after[1] or "artifact name" in after[1]):
        assert before == after  # props and artifact names: refused before the port opens
    # Known gap, left as it was: the preflight refuses a pickle-loading engine runner for trust
    # before the runner reads its props.


def test_push_takes_exactly_the_keywords_of_push_report() -> None:
    keywords = {
        p.name
        for p in inspect.signature(Shelf.push_report).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(get_type_hints(PushOptions)) == keywords
    assert PushOptions.__required_keys__ == frozenset()  # each has push_report's default


def test_push_forwards_every_option_and_refuses_a_misspelled_one(tmp_path: Path) -> None:
    (tmp_path / "m.bin").write_bytes(b"weights")
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    with pytest.raises(TypeError, match="mesage"):
        shelf.push(tmp_path / "m.bin", "m", mesage="typo", progress=False)  # type: ignore[call-arg]
    assert not (tmp_path / "store").exists()  # refused before anything was written
    first = shelf.push(
        tmp_path / "m.bin",
        "m",
        message="first",
        metadata={"lr": "0.1"},
        aliases=["prod"],
        sections={"notes": {"k": 1}},
        progress=False,
    )
    assert (first.version, first.message, dict(first.metadata)) == ("1.0", "first", {"lr": "0.1"})
    assert first.extra == {"notes": {"k": 1}}
    assert shelf.resolve("m@prod").version == "1.0"
    same = shelf.push(
        tmp_path / "m.bin",
        "m",
        metadata={"lr": "0.1"},
        sections={"notes": {"k": 1}},
        if_changed=True,
        progress=False,
    )
    assert same.version == "1.0"
    assert shelf.push(tmp_path / "m.bin", "m", major=True, progress=False).version == "2.0"
    assert (
        modelshelf.push(tmp_path / "m.bin", "m", store=shelf.url, progress=False).version == "2.1"
    )


def test_no_module_is_over_the_limit() -> None:
    sizes = {
        path.relative_to(SRC).as_posix(): len(path.read_text().splitlines())
        for path in SRC.rglob("*.py")
    }
    assert len(sizes) > 100  # the scan found the package
    assert {rel: n for rel, n in sizes.items() if n > MAX_MODULE_LINES} == {}


@pytest.mark.parametrize("requirement", ["bad req ;;", "numpy[", "a b", "numpy >= 1 2"])
def test_a_malformed_recorded_requirement_is_refused_in_one_line(
    requirement: str, tmp_path: Path
) -> None:
    # Found by the property above: packaging's parse error spans three lines (the text again
    # and a caret), and the refusal quoted it whole.
    (tmp_path / "f.txt").write_text("x")
    url = (tmp_path / "store").as_uri()
    section = LOADABLE | {"requirements": [requirement]}
    files = PushSource.from_files({tmp_path / "f.txt": "f.txt"})
    Shelf(url, cache_dir=tmp_path / "w").push(files, "m", sections={"model": section})
    for call in (check_loadable, load_model):
        with pytest.raises(UntrustedStoreDataError) as caught:
            call("m", store=Shelf(url, cache_dir=tmp_path / call.__name__))
        message = str(caught.value)
        assert "\n" not in message, message
        assert message.startswith("m:1.0 in ") and "requirement" in message
        assert message.endswith("; refusing to load it")
