"""SemVer 2.0.0 with GTO's ``v``: one hand-ordered list, expanded into every pair."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gto_dulwich.errors import InvalidVersion
from gto_dulwich.versions import (
    BumpPart,
    SemVer,
    bump_version,
    is_version,
    parse_version,
    version_sort_key,
)

# Ascending precedence.  Versions in one inner list share precedence: they
# differ only in build metadata, which precedence ignores.
ORDERED: list[list[str]] = [
    ["0.0.0-0"],
    ["0.0.0"],
    ["0.0.9"],
    ["0.0.10"],
    ["0.0.200"],
    ["0.1.0"],
    ["0.9.0"],
    ["0.10.0"],
    # The SemVer specification's own chain, with extra rungs: numeric
    # identifiers below text, numbers compared numerically, text in ASCII order
    # (uppercase before lowercase), a longer list winning on an equal prefix.
    ["1.0.0-0.3.7"],
    ["1.0.0-2"],
    ["1.0.0-10"],
    ["1.0.0-0a"],
    ["1.0.0-RC.1"],
    ["1.0.0-alpha"],
    ["1.0.0-alpha.1"],
    ["1.0.0-alpha.1.0"],
    ["1.0.0-alpha.beta"],
    ["1.0.0-beta"],
    ["1.0.0-beta.2"],
    ["1.0.0-beta.11"],
    ["1.0.0-dev.1"],
    ["1.0.0-post.1"],
    ["1.0.0-rc.1", "1.0.0-rc.1+b.5"],
    ["1.0.0-x.7.z.92"],
    ["1.0.0", "1.0.0+build.5", "1.0.0+exp.sha.5114f85", "1.0.0+001"],
    ["1.0.1-0"],
    ["1.0.1"],
    ["1.10.0"],
    ["2.0.0"],
    ["10.0.0"],
    ["18446744073709551616.0.0"],
]
RANK = {text: rank for rank, group in enumerate(ORDERED) for text in group}
VERSIONS = list(RANK)
PAIRS = list(itertools.product(VERSIONS, repeat=2))

INVALID = [
    "",
    "1",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "-1.2.3",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-+b",
    "1.2.3-01",
    "1.2.3-rc.01",
    "1.2.3-rc..1",
    "1.2.3-rc.",
    "1.2.3-.rc",
    "1.2.3+b..1",
    "1.2.3+b.",
    "1.2.3-rc_1",
    "1.2.3+b_1",
    "1.2.3-α",
    "١.٢.٣",  # Arabic-Indic digits: \\d would take them, SemVer does not
    "1.2.3 ",
    " 1.2.3",
    "1.2.3\n",
    "v1.2.3",  # the 'v' belongs to GTO's names, not to SemVer
    "1" * 5000 + ".0.0",  # beyond int()'s digit limit: still just invalid
]

INVALID_NAMES = [
    "",
    "v",
    "V1.2.3",
    " v1.2.3",
    "v1.2.3\n",
    "v 1.2.3",
    "vv1.2.3",
    "1.2.3",
    "v1",
    "v1.2",
    "v111",
    "v01.2.3",
    "v1.2.3-",
    "v1.2.3+",
    "v1.2.3-01",
    "0123456789abcdef0123456789abcdef01234567",
]

NUMBERS = st.integers(min_value=0, max_value=10**30)
PRERELEASE_IDS = NUMBERS.map(str) | st.from_regex(
    r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True
)
BUILD_IDS = st.from_regex(r"[0-9A-Za-z-]+", fullmatch=True)


def _join(major: int, minor: int, patch: int, prerelease: list[str], build: list[str]) -> str:
    text = f"{major}.{minor}.{patch}"
    if prerelease:
        text += "-" + ".".join(prerelease)
    if build:
        text += "+" + ".".join(build)
    return text


# Valid SemVer texts (no 'v'), built from the grammar's parts; shared with the grammar tests.
semver_texts = st.builds(
    _join,
    NUMBERS,
    NUMBERS,
    NUMBERS,
    st.lists(PRERELEASE_IDS, max_size=4),
    st.lists(BUILD_IDS, max_size=3),
)


@pytest.mark.parametrize("text", VERSIONS)
def test_parse_and_str_round_trip(text: str) -> None:
    assert str(SemVer.parse(text)) == text
    assert str(parse_version("v" + text)) == text
    assert is_version("v" + text)


def test_parse_fields() -> None:
    assert SemVer.parse("1.0.0-rc.1+b.05") == SemVer(1, 0, 0, ("rc", 1), ("b", "05"))
    assert SemVer.parse("1.0.0-0a.7") == SemVer(1, 0, 0, ("0a", 7))


@pytest.mark.parametrize(("left", "right"), PAIRS)
@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge])
def test_ordering(left: str, right: str, op: Callable[[object, object], bool]) -> None:
    expected = op(RANK[left], RANK[right])
    assert op(SemVer.parse(left), SemVer.parse(right)) is expected
    assert op(version_sort_key("v" + left), version_sort_key("v" + right)) is expected


@pytest.mark.parametrize(("left", "right"), PAIRS)
def test_equality_is_identity_and_precedence_equality_is_key_equality(
    left: str, right: str
) -> None:
    a, b = SemVer.parse(left), SemVer.parse(right)
    assert (a == b) is (left == right)
    assert (a != b) is (left != right)
    assert (a.precedence_key() == b.precedence_key()) is (RANK[left] == RANK[right])


def test_comparison_with_other_types_is_refused() -> None:
    text: object = "1.0.1"
    with pytest.raises(TypeError):
        assert SemVer(1, 0, 0) < text
    assert SemVer(1, 0, 1) != text


@pytest.mark.parametrize("text", INVALID)
def test_invalid_semver(text: str) -> None:
    with pytest.raises(InvalidVersion) as excinfo:
        SemVer.parse(text)
    assert excinfo.value.value == text


@pytest.mark.parametrize("text", INVALID_NAMES)
def test_invalid_version_names(text: str) -> None:
    assert not is_version(text)
    with pytest.raises(InvalidVersion, match=r"Example of valid version: 'v1\.0\.0'") as excinfo:
        parse_version(text)
    assert excinfo.value.value == text


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ((1, 2, -3), "negative number"),
        ((1, 0, 0, ("1",)), "numeric identifier given as text"),
        ((1, 0, 0, ("a.b",)), "two identifiers in one"),
        ((1, 0, 0, ("",)), "empty identifier"),
        ((1, 0, 0, (), ("b_1",)), "bad build character"),
        ((True, 0, 0), "bool is not a number here"),
    ],
)
def test_direct_construction_is_checked(fields: tuple[object, ...], why: str) -> None:
    with pytest.raises(InvalidVersion):
        SemVer(*fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("v1.2.3", "patch", "v1.2.4"),
        ("v1.2.3", "minor", "v1.3.0"),
        ("v1.2.3", "major", "v2.0.0"),
        ("v0.0.1", "patch", "v0.0.2"),
        ("v0.0.9", "patch", "v0.0.10"),
        ("v0.9.9", "minor", "v0.10.0"),
        # The bumped part always moves, even past the release a pre-release leads to.
        ("v1.0.0-rc.1+b.2", "patch", "v1.0.1"),
        ("v1.0.0-rc.1+b.2", "minor", "v1.1.0"),
        ("v1.0.0-rc.1+b.2", "major", "v2.0.0"),
        ("v1.2.3+build.5", "patch", "v1.2.4"),
        ("v1.2.0-alpha", "minor", "v1.3.0"),
    ],
)
def test_bump(version: str, part: BumpPart, expected: str) -> None:
    assert bump_version(version, part) == expected


def test_bump_refuses_invalid_versions() -> None:
    with pytest.raises(InvalidVersion):
        bump_version("1.2.3", "patch")


def test_version_sort_key_puts_semver_above_everything_else() -> None:
    names = [
        "0123456789abcdef0123456789abcdef01234567",
        "v0.0.1",
        "ffffffffffffffffffffffffffffffffffffffff",
        "v1.0.0-rc.1",
        "V9.9.9",
        "v1.0.0",
        "v9",
        "v0.0.10",
    ]
    assert sorted(names, key=version_sort_key, reverse=True) == [
        "v1.0.0",
        "v1.0.0-rc.1",
        "v0.0.10",
        "v0.0.1",
        "v9",
        "ffffffffffffffffffffffffffffffffffffffff",
        "V9.9.9",
        "0123456789abcdef0123456789abcdef01234567",
    ]


def test_version_sort_key_ties_keep_input_order() -> None:
    # Equal precedence: a stable sort keeps input order; callers reverse for GTO's order.
    names = ["v1.0.0+b", "v1.0.0", "v1.0.0+a"]
    assert sorted(names, key=version_sort_key, reverse=True) == names


@given(semver_texts)
def test_round_trip_property(text: str) -> None:
    version = SemVer.parse(text)
    assert str(version) == text
    assert parse_version("v" + text) == version


@given(semver_texts, st.sampled_from(["major", "minor", "patch"]))
def test_bump_property(text: str, part: BumpPart) -> None:
    version = SemVer.parse(text)
    bumped = version.bump(part)
    assert bumped > version
    assert not bumped.prerelease
    assert not bumped.build


@given(st.text() | st.text(alphabet="0123456789.-+abAB\n"))
def test_parse_arbitrary_text_only_raises_invalid_version(text: str) -> None:
    try:
        version = SemVer.parse(text)
    except InvalidVersion:
        return
    assert str(version) == text


def _fields_by_regex(text: str) -> object:
    """What versions._fields gave before its plain-numbers shortcut: the full grammar."""
    from gto_dulwich import versions

    match = versions._semver().fullmatch(text)
    if match is None:
        return None
    try:
        return (int(match["major"]), int(match["minor"]), int(match["patch"]))
    except ValueError:
        return None


_VERSIONISH = st.text(alphabet="0123456789.-+a١", max_size=12)


@settings(max_examples=2000, deadline=None)
@given(_VERSIONISH)
@example("1.2.3")
@example("01.2.3")
@example("1.2.3\n")
@example("1.2.٣")
@example("0.0.0")
@example("1.2")
@example("1.2.3.4")
@example("1." + "9" * 5000 + ".0")
def test_the_plain_numbers_shortcut_agrees_with_the_grammar(text: str) -> None:
    from gto_dulwich import versions

    fields = versions._fields(text)
    if fields is not None and not fields[3] and not fields[4]:
        assert fields[:3] == _fields_by_regex(text)
    elif fields is None:
        assert _fields_by_regex(text) is None
