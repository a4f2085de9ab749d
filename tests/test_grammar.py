"""GTO 1.10.1 tag grammar: every example of the spec, positions of errors, round trips."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gto_dulwich.errors import InvalidName, InvalidVersion, TagSyntaxError
from gto_dulwich.grammar import (
    Action,
    Shortcut,
    TagName,
    _parse_fast,
    _parse_with_scanner,
    check_name,
    check_stage,
    decode_name,
    encode_name,
    format_tag,
    is_valid_fullname,
    is_valid_name,
    parse_shortcut,
    parse_tag,
)
from gto_dulwich.versions import is_version
from tests.test_versions import semver_texts

R, D, A, U = Action.REGISTER, Action.DEREGISTER, Action.ASSIGN, Action.UNASSIGN

VALID_TAGS: list[tuple[str, TagName]] = [
    # The spec's examples that parse.
    ("nn#prod", TagName("nn", A, stage="prod")),
    ("nn#prod!", TagName("nn", U, stage="prod")),
    ("nn#prod#1", TagName("nn", A, stage="prod", counter=1)),
    ("nn#prod!#2", TagName("nn", U, stage="prod", counter=2)),
    ("nn@v1.0.0", TagName("nn", R, version="v1.0.0")),
    ("nn@v1.0.0!", TagName("nn", D, version="v1.0.0")),
    ("nn@v1.0.0#1", TagName("nn", R, version="v1.0.0", counter=1)),
    ("nn@v1.0.0!#1", TagName("nn", D, version="v1.0.0", counter=1)),
    ("nn@v1.0.0-rc.2", TagName("nn", R, version="v1.0.0-rc.2")),
    ("nn@v1.0.0-alpha.beta", TagName("nn", R, version="v1.0.0-alpha.beta")),
    ("new-artifact@v1.0.1!", TagName("new-artifact", D, version="v1.0.1")),
    ("dvclive/dsd=nn@v0.0.1", TagName("dvclive/dsd:nn", R, version="v0.0.1")),
    ("folder/sub=model#prod#1", TagName("folder/sub:model", A, stage="prod", counter=1)),
    (
        "classification/dvclive=models/nn@v0.0.1",
        TagName("classification/dvclive:models/nn", R, version="v0.0.1"),
    ),
    ("m@deprecated", TagName("m", Action.DEPRECATE)),
    ("m@deprecated#3", TagName("m", Action.DEPRECATE, counter=3)),
    ("m@created", TagName("m", Action.CREATE)),
    ("m@created#2", TagName("m", Action.CREATE, counter=2)),
    # Character classes: one character, uppercase, '_', '/', digits only, '//' (GTO accepts it).
    ("M@v1.0.0", TagName("M", R, version="v1.0.0")),
    ("1#P", TagName("1", A, stage="P")),
    ("x_y#a/b", TagName("x_y", A, stage="a/b")),
    ("models/rf@v1.0.0", TagName("models/rf", R, version="v1.0.0")),
    ("a//b@v0.0.1", TagName("a//b", R, version="v0.0.1")),
    # Stages may be called like the '@' keywords.
    ("m#deprecated", TagName("m", A, stage="deprecated")),
    ("m#created!", TagName("m", U, stage="created")),
    # The dirname class has no start/end rule and allows '.'.
    ("with.dot=m@v1.0.0", TagName("with.dot:m", R, version="v1.0.0")),
    ("x..y=m#dev", TagName("x..y:m", A, stage="dev")),
    ("bad-=m#dev", TagName("bad-:m", A, stage="dev")),
    ("/x=m#dev", TagName("/x:m", A, stage="dev")),
    # Full SemVer, and counters: big, zero, zero-padded.
    ("x@v1.0.0+build.5", TagName("x", R, version="v1.0.0+build.5")),
    ("x@v1.0.0-rc.1+b.2!#10", TagName("x", D, version="v1.0.0-rc.1+b.2", counter=10)),
    ("an#dev#7", TagName("an", A, stage="dev", counter=7)),
    ("an#dev#0", TagName("an", A, stage="dev", counter=0)),
    ("an#dev#007", TagName("an", A, stage="dev", counter=7, counter_leading_zeros=2)),
    ("an#dev#00", TagName("an", A, stage="dev", counter=0, counter_leading_zeros=1)),
    (
        "an#dev#123456789012345678901234567890",
        TagName("an", A, stage="dev", counter=123456789012345678901234567890),
    ),
]

# (text, index where it goes wrong)
INVALID_TAGS: list[tuple[str, int]] = [
    # The spec's examples that do not parse.
    ("", 0),
    ("###", 0),
    ("@@@", 0),
    ("model@v1", 6),
    ("model@v111", 6),
    ("model@0.0.1", 6),
    ("model-prod", 10),
    ("nn#prod#-1", 8),
    ("model#prod#1-2", 12),
    ("model#prod@v1.2.3", 10),
    ("model@v1.2.3#prod", 13),
    ("model@prod@v1@stage-1", 6),
    ("namespace/model@0.0.1", 16),
    ("@namespace/model@0.0.1", 0),
    ("v1.0.0", 2),
    ("wrong-tag-unrelated", 19),
    # More.
    ("m@V1.0.0", 2),
    ("m@v01.0.0", 2),
    ("m@v1.0.0-01", 2),
    ("m@", 2),
    ("m#", 2),
    ("m#prod#", 7),
    ("m@v1.0.0#", 9),
    ("m@v1.0.0!!", 9),
    ("m#prod#1#2", 8),
    ("m#prod#1!", 8),
    ("m@deprecated!", 12),
    ("m@created!#1", 9),
    ("m@deprecated#x", 13),
    ("m@latest", 2),
    ("=m@v1.0.0", 0),
    ("a=b=c@v1.0.0", 3),
    ("a=@v1.0.0", 2),
    ("a:b@v1.0.0", 1),
    ("a.b@v1.0.0", 1),
    ("-m@v1.0.0", 0),
    ("m-@v1.0.0", 1),
    ("_@v1.0.0", 0),
    ("m#-x", 2),
    ("m#x-", 3),
    ("m#x.y", 3),
    ("m#bad stage", 5),
    ("m m@v1.0.0", 1),
    ("m@v1.0.0\n", 8),
    ("mé@v1.0.0", 1),
]


@pytest.mark.parametrize(("text", "expected"), VALID_TAGS)
def test_parse_tag(text: str, expected: TagName) -> None:
    assert parse_tag(text) == expected


@pytest.mark.parametrize(("text", "expected"), VALID_TAGS)
def test_format_tag(text: str, expected: TagName) -> None:
    assert format_tag(expected) == text


@pytest.mark.parametrize(("text", "position"), INVALID_TAGS)
def test_parse_tag_rejects(text: str, position: int) -> None:
    with pytest.raises(TagSyntaxError) as excinfo:
        parse_tag(text)
    error = excinfo.value
    assert (error.text, error.position) == (text, position)
    assert error.reason
    assert str(error) == f"Cannot parse tag name '{text}'"


def test_error_explains_with_a_caret() -> None:
    with pytest.raises(TagSyntaxError) as excinfo:
        parse_tag("model#prod#1-2")
    assert excinfo.value.explain() == (
        "Cannot parse tag name 'model#prod#1-2': unexpected '-'; expected the end of the tag name\n"
        "    model#prod#1-2\n"
        "                ^"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected the artifact name"),
        ("model-prod", "expected '@' or '#' after the artifact name"),
        ("model@v1", "'v1' is not a version ('v' + SemVer 2.0.0)"),
        ("m-@v1.0.0", "the artifact name must end with a letter or a digit"),
        ("m#x.y", "the stage cannot contain '.'"),
        ("=m@v1.0.0", "expected a directory name before '='"),
        ("m@v1.0.0!!", "unexpected '!'; expected a '#N' counter or the end of the tag name"),
        ("nn#prod#-1", "unexpected '-'; expected the digits of a counter after '#'"),
        ("m@", "expected a version, 'deprecated' or 'created' after '@'"),
        ("m#p#" + "1" * 5000, "the counter has too many digits"),
    ],
)
def test_error_reasons(text: str, reason: str) -> None:
    with pytest.raises(TagSyntaxError) as excinfo:
        parse_tag(text)
    assert excinfo.value.reason == reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nn#prod!#2", {"name": "nn", "stage": "prod", "action": "unassign", "counter": 2}),
        ("nn#prod", {"name": "nn", "stage": "prod", "action": "assign"}),
        (
            "dvclive/dsd=nn@v0.0.1",
            {"name": "dvclive/dsd:nn", "version": "v0.0.1", "action": "register"},
        ),
        ("nn@v1.0.0!#1", {"name": "nn", "version": "v1.0.0", "action": "deregister", "counter": 1}),
        ("m@deprecated", {"name": "m", "action": "deprecate"}),
        ("m@deprecated#3", {"name": "m", "action": "deprecate", "counter": 3}),
        ("an#dev#007", {"name": "an", "stage": "dev", "action": "assign", "counter": 7}),
        # GTO gives a '@created' tag no action at all.
        ("m@created", {"name": "m"}),
        ("m@created#2", {"name": "m"}),
    ],
)
def test_to_dict_is_gtos_parse_tag_json(text: str, expected: dict[str, object]) -> None:
    assert list(parse_tag(text).to_dict().items()) == list(expected.items())


def test_action_values_are_gtos_strings() -> None:
    assert [action.value for action in Action] == [
        "register",
        "deregister",
        "assign",
        "unassign",
        "deprecate",
        "create",
    ]
    assert Action("unassign") is Action.UNASSIGN


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "m", "action": R}, ValueError),
        ({"name": "m", "action": A}, ValueError),
        ({"name": "m", "action": A, "stage": "p", "version": "v1.0.0"}, ValueError),
        ({"name": "m", "action": Action.DEPRECATE, "stage": "p"}, ValueError),
        ({"name": "m", "action": A, "stage": "p", "counter": -1}, ValueError),
        ({"name": "m", "action": A, "stage": "p", "counter_leading_zeros": 1}, ValueError),
        (
            {"name": "m", "action": A, "stage": "p", "counter": 1, "counter_leading_zeros": -1},
            ValueError,
        ),
        ({"name": "bad name", "action": A, "stage": "p"}, InvalidName),
        ({"name": "d=m", "action": A, "stage": "p"}, InvalidName),
        ({"name": "m", "action": A, "stage": "p!"}, InvalidName),
        ({"name": "m", "action": R, "version": "1.0.0"}, InvalidVersion),
    ],
)
def test_tag_name_refuses_what_cannot_be_formatted(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        TagName(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fullname", "tag_part"),
    [
        ("nn", "nn"),
        ("models/rf", "models/rf"),
        ("dvclive/dsd:nn", "dvclive/dsd=nn"),
        ("classification/dvclive:models/nn", "classification/dvclive=models/nn"),
    ],
)
def test_name_encoding(fullname: str, tag_part: str) -> None:
    assert encode_name(fullname) == tag_part
    assert decode_name(tag_part) == fullname


def test_name_encoding_is_a_blind_replace() -> None:
    assert encode_name("a:b:c") == "a=b=c"
    assert decode_name("a=b=c") == "a:b:c"


@pytest.mark.parametrize(
    "value", ["m", "1", "M", "nn", "x_y", "a/b", "a//b", "new-artifact", "Model_1", "P", "0-0"]
)
def test_valid_names(value: str) -> None:
    assert is_valid_name(value)
    assert is_valid_fullname(value)
    assert check_name(value) == value
    assert check_stage(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-x",
        "x-",
        "_x",
        "x_",
        "/x",
        "x/",
        "a.b",
        "bad stage",
        "a:b",
        "a=b",
        "é",
        "a\n",
        "a@b",
        "a#b",
    ],
)
def test_invalid_names(value: str) -> None:
    assert not is_valid_name(value)
    with pytest.raises(InvalidName) as excinfo:
        check_stage(value)
    assert str(excinfo.value) == (
        f"Invalid value '{value}'. Only letters, numbers, '_', '-', '/' are allowed. "
        "Value must be of len >= 2 and must start and end with a letter or a number."
    )


@pytest.mark.parametrize(
    "value",
    ["dir:m", "a/b.c:m", "x..y:m", "/x:m", "bad-:m", ".:m", "classification/dvclive:models/nn"],
)
def test_valid_fullnames(value: str) -> None:
    assert is_valid_fullname(value)
    assert check_name(value) == value
    assert not is_valid_name(value)


@pytest.mark.parametrize("value", ["a:b:c", ":m", "dir:", "dir=m", "dir:bad-", "d r:m", "dir:a.b"])
def test_invalid_fullnames(value: str) -> None:
    assert not is_valid_fullname(value)
    with pytest.raises(InvalidName):
        check_name(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m", Shortcut("m")),
        ("m@latest", Shortcut("m", latest=True)),
        ("m@greatest", Shortcut("m", latest=True)),
        ("m@v1.2.3", Shortcut("m", version="v1.2.3")),
        ("m@v1.0.0-rc.1+b", Shortcut("m", version="v1.0.0-rc.1+b")),
        ("m#prod", Shortcut("m", stage="prod")),
        ("dir/sub:m#prod", Shortcut("dir/sub:m", stage="prod")),
        ("models/rf@latest", Shortcut("models/rf", latest=True)),
        # Anything short of a whole shortcut is a literal name.
        ("m#bad stage", Shortcut("m#bad stage")),
        ("m@v1", Shortcut("m@v1")),
        ("m@V1.2.3", Shortcut("m@V1.2.3")),
        ("m@newest", Shortcut("m@newest")),
        ("m@latest#prod", Shortcut("m@latest#prod")),
        ("m#prod!", Shortcut("m#prod!")),
        ("m@deprecated", Shortcut("m@deprecated")),
        ("bad name@latest", Shortcut("bad name@latest")),
        ("folder/sub=model", Shortcut("folder/sub=model")),
        ("folder/sub=model@latest", Shortcut("folder/sub=model@latest")),
        ("", Shortcut("")),
    ],
)
def test_parse_shortcut(text: str, expected: Shortcut) -> None:
    assert parse_shortcut(text) == expected


NAME = r"[A-Za-z0-9](?:[A-Za-z0-9/_-]*[A-Za-z0-9])?"
DIRNAME = r"[A-Za-z0-9/_.-]+"
NAMES = st.from_regex(NAME, fullmatch=True)
DIRNAMES = st.from_regex(DIRNAME, fullmatch=True)
FULLNAMES = NAMES | st.builds(lambda d, n: f"{d}:{n}", DIRNAMES, NAMES)


@st.composite
def tag_names(draw: st.DrawFn) -> TagName:
    action = draw(st.sampled_from(Action))
    counter = draw(st.none() | st.integers(min_value=0, max_value=10**12))
    return TagName(
        draw(FULLNAMES),
        action,
        version="v" + draw(semver_texts) if action in (R, D) else None,
        stage=draw(NAMES) if action in (A, U) else None,
        counter=counter,
        counter_leading_zeros=0 if counter is None else draw(st.integers(0, 3)),
    )


@given(tag_names())
def test_format_then_parse_is_identity(tag: TagName) -> None:
    text = format_tag(tag)
    assert parse_tag(text) == tag
    assert format_tag(parse_tag(text)) == text


# Text made of the grammar's own characters reaches deep into the parser.
TAG_ALPHABET = "ab1v0.9-_/=:@#!+ \n"


@given(st.text() | st.text(alphabet=TAG_ALPHABET))
def test_parse_raises_only_tag_syntax_errors(text: str) -> None:
    outcome: TagName | TagSyntaxError
    try:
        outcome = parse_tag(text)
    except TagSyntaxError as error:
        outcome = error
    if isinstance(outcome, TagName):
        assert format_tag(outcome) == text
    else:
        assert outcome.text == text
        assert 0 <= outcome.position <= len(text)


# The spec's anchored tag regex, written independently of the scanner, to hold it to
# the module's claim that maximal runs + validation accept exactly this language.
SPEC_TAG_RE = re.compile(
    rf"(?:{DIRNAME}=)?{NAME}"
    rf"(?:#{NAME}!?|@(?P<version>v[0-9A-Za-z.+-]+)!?|@deprecated|@created)"
    r"(?:#[0-9]+)?"
)


def spec_accepts(text: str) -> bool:
    match = SPEC_TAG_RE.fullmatch(text)
    return match is not None and (match["version"] is None or is_version(match["version"]))


@st.composite
def near_tags(draw: st.DrawFn) -> str:
    """A valid tag with up to two characters inserted, replaced or deleted somewhere."""
    text = format_tag(draw(tag_names()))
    at = draw(st.integers(0, len(text)))
    return (
        text[:at] + draw(st.text(TAG_ALPHABET, max_size=2)) + text[at + draw(st.integers(0, 2)) :]
    )


@given(near_tags() | st.text(alphabet=TAG_ALPHABET))
def test_parser_agrees_with_the_anchored_regex(text: str) -> None:
    try:
        parse_tag(text)
    except TagSyntaxError:
        parsed = False
    else:
        parsed = True
    assert parsed is spec_accepts(text)


@settings(max_examples=1000)
@given(near_tags() | tag_names().map(format_tag) | st.text(alphabet=TAG_ALPHABET))
def test_fast_regex_path_and_scanner_accept_the_same_language(text: str) -> None:
    """parse_tag tries one regex first; it must agree with the scanner exactly."""
    fast = _parse_fast(text)
    try:
        slow: TagName | None = _parse_with_scanner(text)
    except TagSyntaxError:
        slow = None
    assert fast == slow
