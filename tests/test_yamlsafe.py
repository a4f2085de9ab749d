"""The bounded YAML loader: the libyaml path gives the pure loader's answers, and the
bounds hold on both paths (issue #11 classes 1 and 2; speed from issue #16)."""

from __future__ import annotations

import io
import math
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gto_dulwich import yamlsafe
from gto_dulwich.builder import load_spec
from gto_dulwich.errors import YAMLError, YAMLRefused
from gto_dulwich.yamlsafe import MAX_DEPTH, load_json_bounded, load_yaml_bounded

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _normal(value: Any) -> Any:
    """Comparable form: NaN equals NaN, and a bool is not an int."""
    if isinstance(value, float) and math.isnan(value):
        return "<nan>"
    if isinstance(value, dict):
        return [(type(k).__name__, _normal(k), _normal(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [type(value).__name__, *(_normal(v) for v in value)]
    return (type(value).__name__, value)


def _answer(load: Any, data: bytes) -> Any:
    try:
        return ("ok", _normal(load(data)))
    except YAMLRefused as exc:
        return ("refused", exc.reason)
    except YAMLError:
        return ("error",)


def _pure(data: bytes) -> Any:
    return yamlsafe._pure(data, "test")


def _libyaml(data: bytes) -> Any:
    """The libyaml path: what load_yaml_bounded takes when gto_dulwich.yamlfast does not
    answer (tests/test_yamlfast.py holds that one to this one)."""
    return yamlsafe._load_full(data, "test")


def _ruamel(data: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reused anchor warns; our loader stays quiet
        return YAML(typ="safe", pure=True).load(data)


def _fixture_indexes() -> list[bytes]:
    found = []
    for spec_path in sorted(FIXTURES.glob("*.yaml")):
        try:
            spec = load_spec(spec_path)
        except Exception:
            continue
        for commit in spec.get("commits", []) or []:
            for name, text in (commit.get("files") or {}).items():
                if name.endswith((".yaml", ".yml")) or name == ".gto":
                    found.append(str(text).encode("utf-8"))
    return found


def test_the_c_library_is_installed() -> None:
    assert yamlsafe._c_parser() is not None


@pytest.mark.parametrize("data", _fixture_indexes())
def test_every_fixture_file_reads_the_same_on_both_paths(data: bytes) -> None:
    assert _answer(_libyaml, data) == _answer(_pure, data)


EDGE_CASES = [
    b"",
    b"---\n",
    b"a: 1\nb: [1, 2.5, .inf, -.inf, .nan, ~, null, true, False, 0x1f, 0o17, 1_000]\n",
    b"d: 2024-01-01\nt: 2024-01-01 10:00:00Z\nu: 2024-01-01T10:00:00.5+02:00\n",
    b"a: &x [1, 'b']\nc: *x\n",
    b"<<: {a: 1}\nb: 2\n",
    b"a: !!str 3\nb: !!int '4'\n",
    b"a: 1\na: 2\n",
    b'- "\\uD800"\n',
    b"%YAML 1.1\n---\na: yes\nb: 010\n",
    b"a: b: c\n",
    b"a: 1\n---\nb: 2\n",
    b"? [a]\n: 1\n",
    b"a: =\n",
    b"1: a\ntrue: b\n",
    b"'a': \"b\\tc\\x01\"\n",
    b"a: |\n  x\n  y\nb: >-\n  p\n  q\n",
    b"\xef\xbb\xbfa: 1\n",
    b"a: \xff\n",
    b"a: *undefined\n",
    b"a: &x 1\nb: &x 2\nc: *x\n",
    b"[a, {b: c}, [d]]",
    b"plain scalar",
    b"a:\n- b\n-\n  - c\n",
]


@pytest.mark.parametrize("data", EDGE_CASES)
def test_edge_cases_read_the_same_on_both_paths(data: bytes) -> None:
    assert _answer(_libyaml, data) == _answer(_pure, data)


@pytest.mark.parametrize("data", [d for d in EDGE_CASES if _answer(_pure, d)[0] == "ok"])
def test_the_pure_path_is_ruamels_safe_load(data: bytes) -> None:
    assert _normal(_pure(data)) == _normal(_ruamel(data))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "~", "null", "0x1F", "0o7", "1_0", "2024-01-02", "<<", "="]),
)
data_trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_trees, st.sampled_from([False, True, None]))
def test_generated_documents_read_the_same_on_both_paths(tree: Any, flow: bool | None) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    stream = io.StringIO()
    yaml.dump(tree, stream)
    data = stream.getvalue().encode("utf-8", "surrogatepass")
    assert _answer(_libyaml, data) == _answer(_pure, data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \n-:?[]{},&*!|>'\"#%@`abc01.~\t\\", max_size=40))
@example("&0:")  # libyaml ends an anchor name at ':', YAML 1.2 does not (found by this test)
@example("a: &x. 1\nb: *x.\n")
def test_generated_text_that_both_parsers_accept_reads_the_same(text: str) -> None:
    # libyaml accepts some odd syntax ruamel refuses ('|#'); where both accept, they agree.
    data = text.encode()
    fast, pure = _answer(_libyaml, data), _answer(_pure, data)
    if fast[0] == "ok" and pure[0] == "ok":
        assert fast == pure


def _laughs(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines).encode()


def _bounded(data: bytes) -> Any:
    return load_yaml_bounded(data, where="test")


@pytest.mark.parametrize(
    "load", [_bounded, _libyaml, _pure], ids=["load_yaml_bounded", "libyaml", "pure"]
)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_laughs(10), "more than 200,000 nodes"),
        (b"a: &a [*a]\n", "recursive YAML alias"),
        (b"a: " + b"[" * 5000 + b"]" * 5000, f"nested more than {MAX_DEPTH} levels"),
        (b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 400)), "nested more than"),
        (
            b"a: &x " + b"[" * 60 + b"]" * 60 + b"\nb: " + b"[" * 50 + b"*x" + b"]" * 50,
            "nested more than",
        ),
    ],
    ids=["billion-laughs", "recursive", "deep-flow", "deep-block", "deep-by-alias"],
)
def test_bombs_are_refused_on_both_paths(load: Any, data: bytes, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(YAMLRefused, match=reason):
        load(data)
    assert time.monotonic() - started < 5


def test_aliases_within_the_bound_load_as_gto_reads_them() -> None:
    data = b"base: &b {owner: me}\nm1: {custom: *b}\nm2: {custom: *b}\n"
    assert load_yaml_bounded(data, where="x") == {
        "base": {"owner": "me"},
        "m1": {"custom": {"owner": "me"}},
        "m2": {"custom": {"owner": "me"}},
    }
    assert load_yaml_bounded(b"x: " + b"[" * 99 + b"]" * 99, where="x") is not None


def test_the_size_cap_is_checked_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTO_DULWICH_YAML_MAX_BYTES", "100")
    with pytest.raises(YAMLRefused, match=r"artifacts.yaml: 101 bytes, more than the 100 allowed"):
        load_yaml_bounded(b"#" * 101, where="artifacts.yaml")
    assert load_yaml_bounded(b"a: 1" + b" " * 96, where="x") == {"a": 1}
    monkeypatch.setenv("GTO_DULWICH_YAML_MAX_BYTES", "lots")
    with pytest.raises(Exception, match="GTO_DULWICH_YAML_MAX_BYTES='lots' is not a positive"):
        load_yaml_bounded(b"a: 1", where="x")


def test_errors_are_one_line_naming_the_source() -> None:
    with pytest.raises(YAMLError) as caught:
        load_yaml_bounded(b"a: b: c\n", where="artifacts.yaml at commit 1234567")
    assert str(caught.value).startswith("artifacts.yaml at commit 1234567: invalid YAML (")
    assert "\n" not in str(caught.value)


def test_deep_json_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(YAMLRefused, match="JSON nested more than"):
        load_json_bounded("[" * 1000 + "]" * 1000, where="--set a")
    assert load_json_bounded('{"a": ["[[[["]}', where="x") == {"a": ["[[[["]}
    with pytest.raises(ValueError, match="Expecting value"):
        load_json_bounded("nope", where="x")
