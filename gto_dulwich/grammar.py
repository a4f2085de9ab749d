"""GTO 1.10.1 tag names: parsed into :class:`TagName` and formatted back, without git.

A tag name is matched as a whole::

    tag      = artifact event counter? END
    artifact = (dirname "=")? name
    event    = "@" version "!"? | "#" stage "!"? | "@deprecated" | "@created"
    counter  = "#" [0-9]+
    name     = [a-zA-Z0-9] ([a-zA-Z0-9/_-]* [a-zA-Z0-9])?     (stages use it too)
    dirname  = [a-zA-Z0-9/_.-]+
    version  = "v" SemVer 2.0.0                               (see versions.py)

The tag spells the user's ``dirname:name`` as ``dirname=name``.  Every token is
followed by a character outside its own character class (``=``, ``@``, ``#``,
``!`` or the end), so reading the longest run of plausible characters and then
validating it accepts exactly the anchored regular language above, and lets
an error point at the first character that is wrong rather than at "somewhere".
"""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass

from gto_dulwich.errors import InvalidName, InvalidVersion, TagSyntaxError
from gto_dulwich.versions import SEMVER_PATTERN as _SEMVER_PATTERN
from gto_dulwich.versions import is_version

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9/_-]*[A-Za-z0-9])?"
_DIRNAME = r"[A-Za-z0-9/_.-]+"
_FULLNAME = rf"(?:{_DIRNAME}:)?{_NAME}"
_NAME_RE = re.compile(_NAME)
_FULLNAME_RE = re.compile(_FULLNAME)

# Runs the scanner reads before validating them: a word covers dirnames,
# names and stages (so a stray "." is reported where it stands); a version
# run covers SemVer and the words "deprecated" and "created".
_WORD = re.compile(r"[A-Za-z0-9/_.-]+")
_VERSION_RUN = re.compile(r"[A-Za-z0-9.+-]+")
_DIGITS = re.compile(r"[0-9]+")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-")

_SHORTCUT_RE = re.compile(
    rf"""
    (?P<name>{_FULLNAME})
    (?: @(?P<latest>latest|greatest) | @(?P<version>v[A-Za-z0-9.+-]+) | \#(?P<stage>{_NAME}) )?
    """,
    re.VERBOSE,
)

_DIRNAME_SEPARATOR = ":"
_TAG_DIRNAME_SEPARATOR = "="
_DEPRECATED = "deprecated"
_CREATED = "created"
_CANCEL = "!"


class Action(enum.StrEnum):
    """What a tag does; the values are GTO's own strings (``parse-tag`` prints them)."""

    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"
    CREATE = "create"


_VERSION_ACTIONS = frozenset({Action.REGISTER, Action.DEREGISTER})
_STAGE_ACTIONS = frozenset({Action.ASSIGN, Action.UNASSIGN})


@dataclass(frozen=True, slots=True)
class TagName:
    """One parsed tag name.  Only valid combinations can be built, so formatting never fails.

    ``name`` is the decoded fullname (``dir/sub:model`` for the tag text
    ``dir/sub=model``).  ``version`` (as written) is set exactly for
    REGISTER/DEREGISTER and ``stage`` exactly for ASSIGN/UNASSIGN.
    ``counter_leading_zeros`` counts the zeros written before the counter
    (``#007`` has 2): GTO reads only the number, but ``m#p#07`` and ``m#p#7``
    are different refs, and keeping the spelling makes
    ``format_tag(parse_tag(t)) == t`` hold for every tag.
    """

    name: str
    action: Action
    version: str | None = None
    stage: str | None = None
    counter: int | None = None
    counter_leading_zeros: int = 0

    def __post_init__(self) -> None:
        check_name(self.name)
        if (self.version is not None) != (self.action in _VERSION_ACTIONS):
            raise ValueError(f"a version belongs to register/deregister tags, not {self!r}")
        if (self.stage is not None) != (self.action in _STAGE_ACTIONS):
            raise ValueError(f"a stage belongs to assign/unassign tags, not {self!r}")
        if self.version is not None and not is_version(self.version):
            raise InvalidVersion(self.version)
        if self.stage is not None:
            check_stage(self.stage)
        if self.counter is not None and self.counter < 0:
            raise ValueError(f"a counter is a natural number, not {self.counter}")
        if self.counter_leading_zeros < 0 or (self.counter is None and self.counter_leading_zeros):
            raise ValueError(f"leading zeros need a counter: {self!r}")

    def to_dict(self) -> dict[str, object]:
        """GTO's ``parse-tag`` dict, keys in its order; a ``@created`` tag gives only the name."""
        result: dict[str, object] = {"name": self.name}
        if self.action is Action.CREATE:
            return result
        if self.version is not None:
            result["version"] = self.version
        if self.stage is not None:
            result["stage"] = self.stage
        result["action"] = self.action.value
        if self.counter is not None:
            result["counter"] = self.counter
        return result


@dataclass(frozen=True, slots=True)
class Shortcut:
    """What a user typed to ``gto show``: NAME, NAME@latest, NAME@vX.Y.Z or NAME#STAGE.

    At most one of ``latest``, ``version`` and ``stage`` is set; when none is,
    ``name`` is taken literally (and may well not be a valid name at all).
    """

    name: str
    latest: bool = False
    version: str | None = None
    stage: str | None = None


def encode_name(fullname: str) -> str:
    """``dir:name`` -> ``dir=name``: git refs cannot hold ``:`` (a blind replace, as GTO)."""
    return fullname.replace(_DIRNAME_SEPARATOR, _TAG_DIRNAME_SEPARATOR)


def artifact_prefixes(fullname: str) -> tuple[str, str]:
    """The tag-name prefixes of one artifact's tags (``dir:name`` -> ``dir=name@``, ...).

    Names cannot hold ``@`` or ``#``, so these select exactly that artifact's
    tags from the ref name alone, before any object is read.
    """
    encoded = encode_name(fullname)
    return encoded + "@", encoded + "#"


def decode_name(tag_part: str) -> str:
    """``dir=name`` -> ``dir:name``, the inverse of :func:`encode_name`."""
    return tag_part.replace(_TAG_DIRNAME_SEPARATOR, _DIRNAME_SEPARATOR)


def is_valid_name(value: str) -> bool:
    """GTO's rule for names, stages, types and labels.

    ASCII letters, digits, ``-``, ``/``, ``_``; starts and ends with a letter or
    digit.  One character is enough, whatever GTO's error message says, and
    ``a//b`` passes as it does in GTO.
    """
    return _NAME_RE.fullmatch(value) is not None


def is_valid_fullname(value: str) -> bool:
    """``(dirname:)?name``: the artifact name users type, at most one ``:``."""
    return _FULLNAME_RE.fullmatch(value) is not None


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid fullname, else raise :class:`InvalidName`."""
    if not is_valid_fullname(value):
        raise InvalidName(value)
    return value


def check_stage(value: str) -> str:
    """Return ``value`` if it is a valid stage name, else raise :class:`InvalidName`."""
    if not is_valid_name(value):
        raise InvalidName(value)
    return value


class _Scanner:
    """A reading position in one tag name; parse errors are raised from here with it."""

    __slots__ = ("position", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def accept(self, char: str) -> bool:
        """Step over ``char`` if it comes next."""
        if self.text.startswith(char, self.position):
            self.position += len(char)
            return True
        return False

    def read(self, run: re.Pattern[str]) -> str:
        """Step over the longest run of ``run`` here; "" if there is none."""
        match = run.match(self.text, self.position)
        if match is None:
            return ""
        self.position = match.end()
        return match[0]

    def at_end(self) -> bool:
        return self.position == len(self.text)

    def error(self, reason: str, position: int | None = None) -> TagSyntaxError:
        """The error to raise for this tag name, at ``position`` (default: here)."""
        return TagSyntaxError(self.text, self.position if position is None else position, reason)

    def unexpected(self, expected: str) -> TagSyntaxError:
        """The error to raise here, naming the character found (if any) and what was expected."""
        if self.at_end():
            return self.error(f"expected {expected}")
        return self.error(f"unexpected {self.text[self.position]!r}; expected {expected}")


# The whole grammar as one regex: the fast path for reading thousands of refs.
# It accepts exactly the language of the scanner below (a property test holds
# them together); the scanner is still what explains a rejected tag.
_TAG_RE = re.compile(
    rf"(?P<artifact>(?:{_DIRNAME}=)?{_NAME})"
    rf"(?:@(?P<version>v{_SEMVER_PATTERN})(?P<vcancel>!)?"
    rf"|#(?P<stage>{_NAME})(?P<scancel>!)?"
    rf"|@(?P<special>{_DEPRECATED}|{_CREATED}))"
    r"(?:#(?P<counter>[0-9]+))?"
)
_FAST_LIMIT = 1000  # longer texts go to the scanner, which guards int() conversions


def _parse_fast(text: str) -> TagName | None:
    """The regex path: a TagName without re-validating, or None to defer to the scanner."""
    match = _TAG_RE.fullmatch(text) if len(text) <= _FAST_LIMIT else None
    if match is None:
        return None
    artifact, version, stage, special, digits = match.group(
        "artifact", "version", "stage", "special", "counter"
    )
    if version is not None:
        action = Action.DEREGISTER if match.group("vcancel") else Action.REGISTER
    elif stage is not None:
        action = Action.UNASSIGN if match.group("scancel") else Action.ASSIGN
    else:
        action = Action.DEPRECATE if special == _DEPRECATED else Action.CREATE
    counter, zeros = None, 0
    if digits is not None:
        significant = digits.lstrip("0") or "0"
        counter, zeros = int(significant), len(digits) - len(significant)
    tag = _new(TagName)
    # Interned: a registry repeats each name, stage and version across thousands of tags.
    _set(tag, "name", _intern(artifact.replace(_TAG_DIRNAME_SEPARATOR, _DIRNAME_SEPARATOR)))
    _set(tag, "action", action)
    _set(tag, "version", version if version is None else _intern(version))
    _set(tag, "stage", stage if stage is None else _intern(stage))
    _set(tag, "counter", counter)
    _set(tag, "counter_leading_zeros", zeros)
    return tag


# A TagName built field by field, without re-validating what the regex proved.
_new = object.__new__
_set = object.__setattr__
_intern = sys.intern


def parse_tag(text: str) -> TagName:
    """Parse a whole tag name (no ``refs/tags/``); raise :class:`TagSyntaxError` if not GTO's.

    tag = artifact event counter? END
    """
    fast = _parse_fast(text)
    if fast is not None:
        return fast
    return _parse_with_scanner(text)


def _parse_with_scanner(text: str) -> TagName:
    """The grammar production by production, raising at the first wrong character."""
    scanner = _Scanner(text)
    name = _artifact(scanner)
    action, version, stage = _event(scanner)
    counter, zeros = _counter(scanner)
    if not scanner.at_end():
        done = "the end of the tag name"
        raise scanner.unexpected(done if counter is not None else f"a '#N' counter or {done}")
    return TagName(
        name, action, version=version, stage=stage, counter=counter, counter_leading_zeros=zeros
    )


def _artifact(scanner: _Scanner) -> str:
    """artifact = (dirname "=")? name

    Returns the decoded fullname.
    """
    start = scanner.position
    word = scanner.read(_WORD)
    if not scanner.accept(_TAG_DIRNAME_SEPARATOR):
        return _name(scanner, word, start, "artifact name")
    # Every character of a word is a dirname character: only emptiness can be wrong.
    if not word:
        raise scanner.error("expected a directory name before '='", start)
    name_start = scanner.position
    name = _name(scanner, scanner.read(_WORD), name_start, "artifact name")
    return word + _DIRNAME_SEPARATOR + name


def _name(scanner: _Scanner, word: str, start: int, what: str) -> str:
    """name = [a-zA-Z0-9] ([a-zA-Z0-9/_-]* [a-zA-Z0-9])?

    ``word`` was read at ``start``; it is returned if it is a valid name.
    """
    if is_valid_name(word):
        return word
    if not word:
        raise scanner.unexpected(f"the {what}")
    offset, reason = _name_fault(word)
    raise scanner.error(f"the {what} {reason}", start + offset)


def _name_fault(word: str) -> tuple[int, str]:
    """Where and why a non-empty ``word`` that is not a valid name goes wrong."""
    for offset, char in enumerate(word):
        if char not in _NAME_CHARS:
            return offset, f"cannot contain {char!r}"
    if not word[0].isalnum():
        return 0, "must start with a letter or a digit"
    return len(word) - 1, "must end with a letter or a digit"


def _event(scanner: _Scanner) -> tuple[Action, str | None, str | None]:
    """event = "@" version "!"? | "#" stage "!"? | "@deprecated" | "@created"

    Returns (action, version, stage).
    """
    if scanner.accept("@"):
        start = scanner.position
        word = scanner.read(_VERSION_RUN)
        if word == _DEPRECATED:
            return Action.DEPRECATE, None, None
        if word == _CREATED:
            return Action.CREATE, None, None
        if not word:
            raise scanner.unexpected("a version, 'deprecated' or 'created' after '@'")
        if not is_version(word):
            raise scanner.error(f"{word!r} is not a version ('v' + SemVer 2.0.0)", start)
        action = Action.DEREGISTER if scanner.accept(_CANCEL) else Action.REGISTER
        return action, word, None
    if scanner.accept("#"):
        start = scanner.position
        stage = _name(scanner, scanner.read(_WORD), start, "stage")
        action = Action.UNASSIGN if scanner.accept(_CANCEL) else Action.ASSIGN
        return action, None, stage
    raise scanner.unexpected("'@' or '#' after the artifact name")


def _counter(scanner: _Scanner) -> tuple[int | None, int]:
    """counter = "#" [0-9]+

    Returns (counter or None, number of leading zeros written).
    """
    if not scanner.accept("#"):
        return None, 0
    start = scanner.position
    digits = scanner.read(_DIGITS)
    if not digits:
        raise scanner.unexpected("the digits of a counter after '#'")
    significant = digits.lstrip("0") or "0"
    try:
        value = int(significant)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        raise scanner.error("the counter has too many digits", start) from None
    return value, len(digits) - len(significant)


def format_tag(tag: TagName) -> str:
    """The tag name text for ``tag``: ``format_tag(parse_tag(t)) == t`` for every valid ``t``."""
    match tag.action:
        case Action.REGISTER:
            event = f"@{tag.version}"
        case Action.DEREGISTER:
            event = f"@{tag.version}{_CANCEL}"
        case Action.ASSIGN:
            event = f"#{tag.stage}"
        case Action.UNASSIGN:
            event = f"#{tag.stage}{_CANCEL}"
        case Action.DEPRECATE:
            event = f"@{_DEPRECATED}"
        case Action.CREATE:
            event = f"@{_CREATED}"
    counter = "" if tag.counter is None else f"#{'0' * tag.counter_leading_zeros}{tag.counter}"
    return encode_name(tag.name) + event + counter


def parse_shortcut(text: str) -> Shortcut:
    """Read what a user passed to ``gto show``.

    As in GTO, only a complete match of one of the shortcut forms counts;
    anything else (``m#bad stage``, ``m@v1``) is a literal artifact name,
    which the caller will then fail to find.
    """
    match = _SHORTCUT_RE.fullmatch(text)
    if match is None:
        return Shortcut(name=text)
    version = match["version"]
    if version is not None and not is_version(version):
        return Shortcut(name=text)
    return Shortcut(
        name=match["name"],
        latest=match["latest"] is not None,
        version=version,
        stage=match["stage"],
    )
