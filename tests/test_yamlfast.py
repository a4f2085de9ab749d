"""The pure-Python fast path (gto_dulwich.yamlfast): where it answers, it gives the
full path's exact value, types included; elsewhere it falls through."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gto_dulwich import index_edit, yamlfast, yamlsafe
from gto_dulwich.builder import load_spec
from gto_dulwich.errors import YAMLError, YAMLRefused
from gto_dulwich.yamlsafe import MAX_DEPTH, MAX_NODES, load_yaml_bounded

ROOT = Path(__file__).parent.parent
UNUSUAL = yamlfast.UNUSUAL

TYPICAL = b"""\
# Artifacts of the team
team0/model-0:
  type: model
  path: models/0.pkl
  virtual: false
  description: some text, with a comma # and a comment
  labels:
  - a
  - b
  custom:
    owner: 'team 0'
    size: 12
    score: 0.93
    tags: [x, y]

dir:name:
  type: dataset
  path: "data/x.csv"
  labels:
    - no
    - 'yes'
"""


def _normal(value: Any) -> Any:
    """Comparable form: types named, NaN equal to NaN, -0.0 not 0.0, a bool not an int."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, dict):
        return ["dict", *((_normal(k), _normal(v)) for k, v in value.items())]
    if isinstance(value, list):
        return ["list", *(_normal(v) for v in value)]
    return (type(value).__name__, value)


def _fast(data: bytes) -> Any:
    return yamlfast.parse(data, max_depth=MAX_DEPTH, max_nodes=MAX_NODES)


def _full(data: bytes) -> Any:
    """What load_yaml_bounded answered before the fast path (or the error it raised)."""
    try:
        return ("ok", _normal(yamlsafe._load_full(data, "test")))
    except YAMLRefused as exc:
        return ("refused", exc.reason)
    except YAMLError as exc:
        return ("error", str(exc))


def _agrees(data: bytes) -> bool:
    """Assert the fast path falls through or answers as the full path; whether it answered."""
    fast = _fast(data)
    if fast is UNUSUAL:
        return False
    assert ("ok", _normal(fast)) == _full(data), data
    assert _normal(load_yaml_bounded(data, where="test")) == _normal(fast)
    return True


# -- what ruamel decides, pinned ------------------------------------------------------------

#: ruamel's YAML 1.2 implicit resolvers: tag -> (first characters, pattern).  yamlfast's
#: _TYPED_FIRST, _NUMBER_FIRST, _NUMBER_CHARS and _WORDS are read off these; if a ruamel
#: upgrade changes them, this test fails and yamlfast must be checked again.
RUAMEL_1_2 = {
    "bool": ("tTfF", r"^(?:true|True|TRUE|false|False|FALSE)$"),
    "float": (
        "-+0123456789.",
        "^(?:\n         [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?\n"
        "        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)\n"
        "        |[-+]?\\.[0-9_]+(?:[eE][-+][0-9]+)?\n"
        "        |[-+]?\\.(?:inf|Inf|INF)\n"
        "        |\\.(?:nan|NaN|NAN))$",
    ),
    "int": (
        "-+0123456789",
        "^(?:[-+]?0b[0-1_]+\n        |[-+]?0o?[0-7_]+\n        |[-+]?[0-9_]+\n"
        "        |[-+]?0x[0-9a-fA-F_]+)$",
    ),
    "merge": ("<", "^(?:<<)$"),
    "null": ("~nN", "^(?: ~\n        |null|Null|NULL\n        | )$"),
    "timestamp": (
        "0123456789",
        "^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\n"
        "        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?\n"
        "        (?:[Tt]|[ \\t]+)[0-9][0-9]?\n"
        "        :[0-9][0-9] :[0-9][0-9] (?:\\.[0-9]*)?\n"
        "        (?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    ),
    "value": ("=", "^(?:=)$"),
    "yaml": ("!&*", "^(?:!|&|\\*)$"),
}


def test_ruamels_implicit_types_are_the_ones_yamlfast_was_written_for() -> None:
    from ruamel.yaml.resolver import implicit_resolvers

    found = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            name = tag.rsplit(":", 1)[1]
            assert name not in found
            found[name] = ("".join(c for c in first if c), regexp.pattern)
    assert found == RUAMEL_1_2
    empty_first = [t for v, t, _, first in implicit_resolvers if (1, 2) in v and "" in first]
    assert empty_first == ["tag:yaml.org,2002:null"]
    # What yamlfast derives from them.
    firsts = "".join(first for first, _ in RUAMEL_1_2.values())
    assert set(firsts) | {""} == yamlfast._TYPED_FIRST
    numbers = {"float", "int", "timestamp"}
    assert {c for t in numbers for c in RUAMEL_1_2[t][0]} == yamlfast._NUMBER_FIRST


def test_words_and_numbers_resolve_as_ruamel_says() -> None:
    scalar = yamlsafe._scalar_builder()
    for word, value in yamlfast._WORDS.items():
        assert _normal(scalar(word)) == _normal(value)
    for text in ["yes", "no", "on", "off", "y", "n", "Yes", "nULL", "tRUE", "~x", "<", "=="]:
        assert yamlfast.scalar(text) == text == scalar(text)


NUMBER_TEXT = st.text(alphabet="0123456789+-._: eExXoObBaAcdfinINFtTZ", min_size=1, max_size=12)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(NUMBER_TEXT, st.text(max_size=8), st.from_regex(r"[-+]?[0-9]{1,5}\.?[0-9]{0,4}")))
@example("1st version")
@example("deadbeef1")
@example("1e5")
@example("1_000")
@example("0b1")
@example("0o7")
@example("0x1F")
@example("0.")
@example(".5")
@example("-.inf")
@example("1.2.3")
@example("2001-12-14")
@example("2001-12-14t21:59:43.10-05:00")
@example("12ab")
@example("-0.0")
@example("007")
@example("0" * 5000)
def test_a_scalar_is_typed_as_the_full_path_types_it_or_left_to_it(text: str) -> None:
    try:
        fast = yamlfast.scalar(text)
    except yamlfast._Unusual:
        return
    assert _normal(fast) == _normal(yamlsafe._scalar_builder()(text))


# -- documents ------------------------------------------------------------------------------


def test_a_typical_file_is_answered_without_importing_ruamel() -> None:
    code = (
        "import sys, gto_dulwich.yamlsafe as y\n"
        f"v = y.load_yaml_bounded({TYPICAL!r}, where='x')\n"
        "assert v['team0/model-0']['custom']['tags'] == ['x', 'y'], v\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ruamel', '_ruamel_yaml'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_a_typical_file_reads_the_same() -> None:
    assert _agrees(TYPICAL)
    long_text = b"a: 1st version of the model, trained on every month of the year\n"
    assert _agrees(long_text)


def _yaml_files() -> list[bytes]:
    """Every YAML document in the repository's fixtures and tests, and the ones inside specs."""
    found: list[bytes] = []
    paths = sorted(
        p
        for base in (ROOT / "fixtures", ROOT / "tests", ROOT / "examples")
        for pattern in ("*.yaml", "*.yml", ".gto", "*.lock")
        for p in base.rglob(pattern)
    )
    for path in paths:
        found.append(path.read_bytes())
        try:
            spec = load_spec(path)
        except Exception:
            continue
        for commit in spec.get("commits", []) or []:
            for name, text in (commit.get("files") or {}).items():
                if name.endswith((".yaml", ".yml", ".lock")) or name == ".gto":
                    found.append(str(text).encode("utf-8"))
    return found


def test_every_yaml_file_in_the_repository_reads_the_same() -> None:
    files = _yaml_files()
    answered = sum(_agrees(data) for data in files)
    assert len(files) > 50
    assert answered > len(files) // 3, (answered, len(files))


EDGE_CASES = [
    b"",
    b"---\n",
    b"# only a comment\n",
    b"---\na: 1\n",
    b"---\n---\n",
    b"a: 1\n...\n",
    b"a:\n",
    b"a:\nb:\n",
    b"a: ~\nb: null\nc: Null\nd: NULL\ne: nUll\n",
    b"a: [1, 2.5, .inf, -.inf, .nan, ~, null, true, False, 0x1f, 0o17, 1_000]\n",
    b"a: [1, 2.5, -3, +4, true, TRUE, x y, -z]\n",
    b"a: []\nb: {}\nc: [ ]\nd: { }\n",
    b"a: [a,]\n",
    b"a: [a, [b]]\n",
    b"a: {b: c}\n",
    b"a: {b: c, d: 1, e: [f]}\n",
    b"a: {b: c, d: 1, e: true }  # x\n",
    b"a: {b: c, b: d}\n",
    b"a: {b:c}\n",
    b"a: {b: }\n",
    b"a: {b: c,}\n",
    b"a: {b: c, d}\n",
    b"a: {b: c: d}\n",
    b"a: {b: {c: d}}\n",
    b"a: {b: c}}\n",
    b"- {b: c, 1: 2}\n- {true: ~}\n",
    b"1: a\ntrue: b\n",
    b"1: a\n1.0: b\n",
    b"a: 1\na: 2\n",
    b"'a': 1\n\"b\": 2\n'a''b': \"c'd\"\n",
    b"'a':1\n",
    b"'a' : 1\n",
    b"a: ' x '\nb: \"  \"\nc: ''\n",
    b"a: '\\n'\nb: \"\\n\"\n",
    b"a: 'x' # c\nb: 'x'#c\n",
    b"a: b: c\n",
    b"a: b:\n",
    b"a: b #c\n",
    b"a: b#c\n",
    b"a: http://x.y/z?q=1#frag\n",
    b"a #b: c\n",
    b"a : b\n",
    b"a:b\n",
    b"a:: b\n",
    b"dir:name:\n  type: x\n",
    b"a:\n- b\n-\n  - c\n",
    b"a:\n- b\n  c\n",
    b"a: b\n  c\n",
    b"a:\n  b\n",
    b"- a\n- b: c\n  d: e\n- - f\n  - g\n-\n- h\n",
    b"- a: 1\n    b: 2\n",
    b"-   a: 1\n    b: 2\n",
    b"-  - x\n   - y\n",
    b"-   - x\n    - y\n-\n    a: 1\n",
    b"a:\n     - x\n     - y\nb: 1\n",
    b"k:\n#c\n- x\n",
    b"a:\n  b:\n  - x\n  c: 1\n",
    b"a: {}\n  b: 1\n",
    b"a: b\xc2\xa0#c\n\xc2\xa0: \xc2\xa0\n",
    b"- a:\n  - x\n  b: 1\n",
    b"- a:\n    - x\n  b:\n",
    b"a:\n    - x\n  b: 1\n",
    b"  a: 1\n  b: 2\n",
    b"  a: 1\nb: 2\n",
    b"a: 1\n- b\n",
    b"- a\nb: 1\n",
    b"-\n-\n",
    b"- -\n",
    b"-a: -b\n",
    b"- -1\n- -.5\n- - -1\n",
    b"a: -\n",
    b"a: - b\n",
    b"a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\n",
    b"a: =\n",
    b"<<: {a: 1}\nb: 2\n",
    b"<<: 1\n",
    b"a: &x 1\nb: *x\n",
    b"a: !!str 3\n",
    b"a: |\n  x\n",
    b"a: >\n  x\n",
    b"%YAML 1.2\n---\na: 1\n",
    b"? a\n: 1\n",
    b"a:\tb\n",
    b"a: b\r\nc: d\r\n",
    b"\xef\xbb\xbfa: 1\n",
    b"a: \xff\n",
    b"a: \xc2\x85\n",
    b"a: \xe2\x80\xa8\n",
    "a: caf\u00e9 \u2603 \U0001f600\n\u00e9: 1\n".encode(),
    b"a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\n",
    b"a: 1e3\nb: .5\nc: 1.\nd: 1_0\ne: 0o7\nf: 0x1F\ng: 07\nh: -0\ni: -0.0\n",
    b"a: 1.2.3\nb: 1st\nc: 12abcdef\n",
    b"a: 1st version of the model, trained on every month of the year, in every region\n",
    b"a: `x`\nb: @x\nc: %x\n",
    b"a: x`y\nb: x@y\nc: x%y\nd: x!y\ne: x&y\nf: x*y\n",
    b"a: [x`y, x@y, x%y, x!y, x&y]\n",
    b"plain scalar\n",
    b"[a, b]\n",
    b"- [a, b]\n- []\n- {}\n",
    b"a: " + b"x" * 2000 + b"\n",
    b"k" * 600 + b": v\n",
    b"a: " + b"1" * 5000 + b"\n",
    b"---x: 1\n",
    b"...: 1\n",
    b" ...: 1\n",
    b"a:\n  ---: 1\n",
]


@pytest.mark.parametrize("data", EDGE_CASES)
def test_edge_cases_read_the_same_or_fall_through(data: bytes) -> None:
    _agrees(data)


@pytest.mark.parametrize(
    "data",
    [
        b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 400)),
        b"- " * 60 + b"x\n",
        b"- " * 5000 + b"x\n",
        b"a:\n" + b"".join(b" " * i + b"b:\n" for i in range(1, 80)),
        b"- x\n" * (MAX_NODES // 2 + 10),
    ],
    ids=["deep-dashes", "deep-compact", "very-deep-compact", "deep-keys", "many-nodes"],
)
def test_near_the_bounds_the_full_path_decides(data: bytes) -> None:
    assert _fast(data) is UNUSUAL


# -- generated documents --------------------------------------------------------------------

NASTY = [
    "true", "True", "TRUE", "tRUE", "false", "null", "~", "Null", "NULL", "", "1", "-1", "+1",
    "0", "-0", "007", "0x1f", "0o7", "0b1", "1e3", "1E3", "1.5", "-1.5", ".5", "1.", "1.2.3",
    ".inf", "-.inf", ".NaN", ".nan", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "1_000",
    "yes", "no", "on", "off", "y", "n", "=", "<<", "<", "a: b", "a:b", "a:", ":a", "a #b",
    "a#b", "#a", "-", "- x", "-x", "--", "---", "...", "?", "?a", "a?", "x, y", "[a]", "{a}",
    "a]", "&a", "*a", "!a", "|", ">", "'", '"', "'a'", "a'b", "a\"b", "%a", "@a", "`a",
    " a", "a ", "  ", "é", "\u2603", "\U0001f600", "a\tb", "a\\b", "12ab", "deadbeef",
]  # fmt: skip

scalar_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=6))


@st.composite
def scalar_source(draw: st.DrawFn) -> str:
    """A scalar as written in a document: plain, quoted, or a flow sequence."""
    text = draw(scalar_text)
    style = draw(st.sampled_from(["plain", "plain", "plain", "single", "double", "flow"]))
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text + '"'
    if style == "flow":
        items = draw(st.lists(scalar_text, max_size=3))
        if draw(st.booleans()):
            items = [
                k + draw(st.sampled_from([": ", ":", " : "])) + v
                for k, v in zip(items, items[::-1], strict=True)
            ]
            return "{" + draw(st.sampled_from([", ", ",", " , "])).join(items) + "}"
        return "[" + draw(st.sampled_from([", ", ",", " , "])).join(items) + "]"
    return text


@st.composite
def block(draw: st.DrawFn, indent: int, depth: int) -> list[str]:
    """Lines of a block mapping or sequence at ``indent``, with odd lines mixed in."""
    lines: list[str] = []
    dash = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        pad = " " * indent
        head = pad + ("- " if dash else draw(scalar_source()) + ":")
        if depth > 0 and draw(st.booleans()):
            inner = indent + draw(st.sampled_from([0, 1, 2, 3, 4]))
            if inner == indent and dash:
                inner += 2
            children = draw(block(inner, depth - 1))
            compact = dash and draw(st.booleans())
            if compact and inner >= indent + 2 and children[0].startswith(" " * inner):
                lines.append(pad + "-" + " " * (inner - indent - 1) + children[0][inner:])
                lines.extend(children[1:])
                continue
            lines.append(head.rstrip(" ") + draw(st.sampled_from(["", " # c", " "])))
            lines.extend(children)
        else:
            gap = "" if dash else draw(st.sampled_from([" ", " ", "  ", ""]))
            tail = draw(st.sampled_from(["", "", " # c", "#c", "  "]))
            lines.append(head + gap + draw(scalar_source()) + tail)
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "# x", "   # y", pad + "  z", "---", "..."])))
    return lines


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block(0, 3), st.sampled_from(["", "---\n", "# head\n"]))
def test_generated_documents_read_the_same_or_fall_through(lines: list[str], head: str) -> None:
    _agrees((head + "\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))


names = st.from_regex(r"[a-z][a-z0-9-]{0,8}(/[a-z][a-z0-9]{0,5})?(:[a-z]{1,4})?", fullmatch=True)
labels = st.lists(st.sampled_from(["prod", "cv", "10", "true", "null", "no", "1.5", "a-b"]))
custom = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(NASTY).filter(lambda s: "\t" not in s),
        st.text(max_size=10).filter(lambda s: "\n" not in s),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=3),
    ),
    max_leaves=8,
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["model", "dataset", "no", "1"]),
        "path": st.from_regex(r"[a-z]{1,6}/[a-z0-9.]{1,8}", fullmatch=True),
        "virtual": st.booleans(),
        "labels": labels.map(lambda ls: sorted(set(ls))).filter(bool),
        "description": st.text(max_size=30).filter(lambda s: s.strip() == s and "\n" not in s),
        "custom": custom,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, entries), min_size=1, max_size=6))
def test_registries_our_writer_produces_read_the_same(items: list[tuple[str, Any]]) -> None:
    text = ""
    expected: dict[str, Any] = {}
    for name, fields in items:
        entry = {k: fields[k] for k in index_edit._FIELD_ORDER if k in fields}
        expected = {**expected, name: entry}
        try:
            text = index_edit._render(text, name, entry, entry, expected, "artifacts.yaml")
        except Exception:
            return  # the writer refuses (e.g. a NaN-like text it cannot write back)
        _agrees(text.encode("utf-8"))


def test_the_fast_path_answers_what_our_writer_writes() -> None:
    text = ""
    expected: dict[str, Any] = {}
    for i in range(30):
        entry: dict[str, Any] = {
            "type": "model",
            "path": f"models/m{i}.pkl",
            "virtual": False,
            "labels": ["cv", "prod"],
            "description": f"Model number {i}, trained on the {i % 12 + 1}th month",
            "custom": {"owner": f"team-{i % 3}", "size": i * 3, "score": 0.5 + i / 100},
        }
        expected = {**expected, f"team/model-{i}": entry}
        text = index_edit._render(text, f"team/model-{i}", entry, entry, expected, "a.yaml")
    assert _agrees(text.encode()), text
    assert _fast(text.encode()) == expected


@pytest.mark.parametrize("tags", [200, 2100, 30_000])
def test_the_benchmark_generators_registries_are_answered(tmp_path: Path, tags: int) -> None:
    from dulwich.objects import Blob, Commit, Tree
    from dulwich.repo import Repo

    dest = tmp_path / "registry"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), str(dest), str(tags)],
        check=True,
        capture_output=True,
    )
    with Repo(str(dest)) as repo:
        commit = repo[b"HEAD"]
        assert isinstance(commit, Commit)
        tree = repo[commit.tree]
        assert isinstance(tree, Tree)
        blob = repo[tree[b"artifacts.yaml"][1]]
        assert isinstance(blob, Blob)
        data = blob.data
    assert _agrees(data)
