"""SemVer 2.0.0 versions as GTO names them: ``v`` + ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``.

Written by hand because ``packaging.version`` is PEP 440 (``1.0.0-rc.1`` would be
normalised to ``1.0.0rc1`` and ordered by different rules) and GTO's own SemVer
library is not a dependency.  The rules are the SemVer 2.0.0 specification's,
strictly: no leading zeros in numbers or numeric pre-release identifiers, no
empty identifiers, ASCII only, and nothing before or after the version.

Equality and precedence differ on purpose.  :class:`SemVer` keeps the
dataclass ``==`` (same fields, so ``1.0.0`` and ``1.0.0+b`` are *different*
versions, as they are different tags), while ``<``, ``<=``, ``>``, ``>=``
compare SemVer precedence, which ignores build metadata.  Two versions have
equal precedence exactly when their :meth:`SemVer.precedence_key` values are
equal; then ``a <= b and b <= a`` holds although ``a == b`` may not.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias, assert_never

from gto_dulwich.errors import InvalidVersion

BumpPart: TypeAlias = Literal["major", "minor", "patch"]
Identifier: TypeAlias = int | str
# (kind, value): kind 0 = numeric, 1 = alphanumeric, so numeric identifiers rank
# lower and values of different types are never compared with each other.
IdentifierKey: TypeAlias = tuple[int, Identifier]
# (major, minor, patch, is_release, pre-release identifier keys)
PrecedenceKey: TypeAlias = tuple[int, int, int, int, tuple[IdentifierKey, ...]]
# (is_semver, precedence key or the raw name)
VersionSortKey: TypeAlias = tuple[int, PrecedenceKey | str]

PREFIX = "v"

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = rf"(?:{_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
# The same language without groups, for embedding in the tag grammar's regex.
SEMVER_PATTERN = (
    rf"(?:{_NUMBER})\.(?:{_NUMBER})\.(?:{_NUMBER})"
    rf"(?:-{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*)?"
    rf"(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?"
)


@functools.cache
def _semver() -> re.Pattern[str]:
    """The whole grammar, compiled on first use (2 ms): most versions are plain numbers."""
    return re.compile(
        rf"""
        (?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})
        (?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?
        (?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?
        """,
        re.VERBOSE,
    )


_Fields: TypeAlias = tuple[int, int, int, tuple[Identifier, ...], tuple[str, ...]]


def _fields(text: str) -> _Fields | None:
    """The SemVer fields of ``text`` (no ``v``), or None if it is not strict SemVer 2.0.0."""
    numbers = text.split(".")
    if len(numbers) == 3 and all(map(_plain_number, numbers)):  # the usual 1.2.3
        try:
            return int(numbers[0]), int(numbers[1]), int(numbers[2]), (), ()
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            return None
    # fullmatch, not match + "$": "$" would let a trailing newline through.
    match = _semver().fullmatch(text)
    if match is None:
        return None
    prerelease, build = match["prerelease"], match["build"]
    try:
        return (
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(_identifier(part) for part in prerelease.split(".")) if prerelease else (),
            tuple(build.split(".")) if build else (),
        )
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return None


def _plain_number(part: str) -> bool:
    """A SemVer number: ASCII digits, no leading zero (``str.isdigit`` alone takes ``١``)."""
    return part.isascii() and part.isdigit() and (part[0] != "0" or part == "0")


def _identifier(part: str) -> Identifier:
    """A pre-release identifier: numeric ones become ints because they compare as numbers."""
    return int(part) if part.isdigit() else part


def _identifier_key(identifier: Identifier) -> IdentifierKey:
    """Numeric identifiers rank below alphanumeric ones (SemVer 2.0.0 §11.4.3)."""
    return (0, identifier) if isinstance(identifier, int) else (1, identifier)


@dataclass(frozen=True, slots=True)
class SemVer:
    """A SemVer 2.0.0 version; ``str()`` and :meth:`parse` are inverse for every instance."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse fields that would print as another version (or none), e.g. ``("1",)``."""
        if _fields(str(self)) != (self.major, self.minor, self.patch, self.prerelease, self.build):
            raise InvalidVersion(str(self))

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse strict SemVer 2.0.0 *without* GTO's ``v``; raise :class:`InvalidVersion`."""
        fields = _fields(text)
        if fields is None:
            raise InvalidVersion(text)
        return cls(*fields)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def precedence_key(self) -> PrecedenceKey:
        """A key whose natural order is SemVer precedence (build metadata ignored).

        A release outranks its pre-releases; pre-release identifiers compare
        left to right, numbers numerically and below text, text in ASCII order,
        and on an equal prefix the longer list wins: tuple order does the rest.
        """
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.prerelease else 1,
            tuple(_identifier_key(part) for part in self.prerelease),
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.precedence_key() < other.precedence_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.precedence_key() <= other.precedence_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.precedence_key() > other.precedence_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self.precedence_key() >= other.precedence_key()

    def bump(self, part: BumpPart) -> SemVer:
        """The next version, as GTO's auto-versioning computes it.

        Lower parts reset to 0, pre-release and build are dropped, and the
        bumped part is always incremented, even when the version was a
        pre-release of exactly that bump (``1.0.0-rc.1`` -> patch ``1.0.1``).
        """
        match part:
            case "major":
                return SemVer(self.major + 1, 0, 0)
            case "minor":
                return SemVer(self.major, self.minor + 1, 0)
            case "patch":
                return SemVer(self.major, self.minor, self.patch + 1)
            case _:
                assert_never(part)


def _parse_prefixed(text: str) -> SemVer | None:
    """``v`` + SemVer -> SemVer; None for anything else (hexshas, ``V1.0.0``, ``v1``)."""
    if not text.startswith(PREFIX):
        return None
    fields = _fields(text[len(PREFIX) :])
    return None if fields is None else SemVer(*fields)


def parse_version(text: str) -> SemVer:
    """Parse a GTO version name such as ``v1.2.3``; raise :class:`InvalidVersion`."""
    version = _parse_prefixed(text)
    if version is None:
        raise InvalidVersion(text)
    return version


def is_version(text: str) -> bool:
    """Whether ``text`` is a GTO version name: a lowercase ``v`` then strict SemVer 2.0.0."""
    return _parse_prefixed(text) is not None


def bump_version(text: str, part: BumpPart) -> str:
    """Bump a GTO version name: ``bump_version("v1.2.3", "patch") == "v1.2.4"``."""
    return PREFIX + str(parse_version(text).bump(part))


@functools.lru_cache(maxsize=1 << 16)  # a registry sorts the same few names over and over
def version_sort_key(text: str) -> VersionSortKey:
    """Key for GTO's "semver sort" of version names (registered versions and hexshas).

    Every ``v``-SemVer name ranks above every other name (such as the commit
    hexsha naming a discovered version); SemVer names order by precedence,
    the rest by plain string order.  ``sorted(names, key=version_sort_key,
    reverse=True)`` lists the highest first and keeps equal-precedence names
    (``v1.0.0``, ``v1.0.0+b``) in input order; GTO lists those in reversed
    input order, which ``sorted(...)`` followed by ``.reverse()`` reproduces.
    """
    version = _parse_prefixed(text)
    return (0, text) if version is None else (1, version.precedence_key())
