"""A pure-Python reader for the plain shape of ``artifacts.yaml``, exact or not at all.

Every read command parses ``artifacts.yaml`` (HEAD's, and each version's commit's).
:func:`gto_dulwich.yamlsafe.load_yaml_bounded` does it with libyaml events and
ruamel's type rules, which costs ~13 ms of imports per process.  The files GTO
and our writer produce use a small part of YAML, which this module reads without
importing ruamel.  :func:`parse` returns the value :mod:`~gto_dulwich.yamlsafe`
would, or :data:`UNUSUAL` (and the caller takes the full path) when the document
is out of the subset or the answer is in any doubt.  It never raises for bad YAML:
errors and refusals are the full path's to word.

The subset, one line at a time (UTF-8, ``\\n`` line ends, no tab, no CR, no BOM,
no character YAML calls non-printable or a line break):

* block mappings and sequences nested by spaces: ``key: value``, ``key:`` with the
  value on the lines below (more indented, or a sequence at the key's indent) or
  none (null), ``- value``, ``-`` and compact entries (``- key: value``, ``- - x``);
* plain scalars on one line (keys and values), single-quoted and double-quoted
  scalars on one line without escapes (``''`` is the one escape allowed), and
  one-line flow collections of plain scalars (``[a, b]``, ``{a: 1, b: 2}``);
* comments on their own line or after `` #``, blank lines, one leading ``---``.

Plain scalars are typed by YAML 1.2's core schema as ruamel resolves it: the
exact words for booleans and null, decimal integers, ``1.5``-style floats; a
scalar whose first character cannot start a non-string (ruamel's first-character
table) is a string, as is one that no number or timestamp pattern can match
(tests/test_yamlfast.py pins ruamel's table and patterns).  Anything else falls
through: anchors, aliases, tags, directives, block scalars, multi-line scalars,
escapes, duplicate keys, merge keys, ``=``, timestamps, hex or octal numbers,
``.inf``... and documents near the depth and node bounds, so refusals stay the
full path's.  The work is one pass over the lines; the only recursion, for compact
entries (``- - x``), stops at the depth bound like the rest.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["UNUSUAL", "parse", "scalar"]

#: What :func:`parse` returns for a document it does not answer.
UNUSUAL: Final = object()


class _Unusual(Exception):
    """Out of the subset: the full path decides."""


# Characters out of the subset: YAML's non-printable ones, tab, CR, NEL, U+2028/9, BOM
# (no surrogate survives a strict decode).  The non-ASCII class is compiled on first use.
_ASCII_OUTSIDE = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_NON_ASCII_OUTSIDE = "[\x80-\x9f\u2028\u2029\ufeff\ufffe\uffff]"
# Cannot start a plain scalar (YAML's indicators) in this subset.
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@` ")
# Ends or starts a scalar, comment or collection inside a one-line flow collection.
_FLOW_SPECIAL = re.compile(r"[\[\]{}#:?\"']")

_WORDS: Final[dict[str, Any]] = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    "null": None,
    "Null": None,
    "NULL": None,
    "~": None,
    "": None,
}
# First characters of every YAML 1.2 implicit pattern ruamel has (others: always a string).
_TYPED_FIRST: Final = frozenset([*"tTfFnN~<=!&*-+.0123456789", ""])
_NUMBER_FIRST: Final = frozenset("-+.0123456789")
# Every character any of ruamel's float, int and timestamp patterns can match.
_NUMBER_CHARS: Final = frozenset("0123456789+-._: abcdefinotxABCDEFINTZ")
# Letters that, without a '.' or an 'x', no float, int or timestamp pattern matches.
_NOT_NUMBER_LETTERS: Final = frozenset("acdfACDF")
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]+")


def parse(raw: bytes, *, max_depth: int, max_nodes: int) -> Any:
    """The document's value, or :data:`UNUSUAL` if it is out of the subset.

    Documents nested half of ``max_depth`` deep or with half of ``max_nodes``
    nodes are left to the full path, which enforces those bounds.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return UNUSUAL
    if _ASCII_OUTSIDE.search(text) or (not text.isascii() and re.search(_NON_ASCII_OUTSIDE, text)):
        return UNUSUAL
    try:
        return _Reader(max_depth // 2, max_nodes // 2).read(text)
    except _Unusual:
        return UNUSUAL


def scalar(text: str) -> Any:
    """A plain scalar's value (raises :class:`_Unusual` when not certain)."""
    if text[:1] not in _TYPED_FIRST:
        return text
    if "\n" in text:  # never in a plain scalar of a line; ruamel's "$" would type "0\n"
        raise _Unusual("line break")
    if text in _WORDS:
        return _WORDS[text]
    if text[0] not in _NUMBER_FIRST:
        if text in ("<<", "=", "!", "&", "*"):  # merge, value, yaml: the full path decides
            raise _Unusual(text)
        return text
    if not _NUMBER_CHARS.issuperset(text) or text.count(".") > 1:
        return text  # no number or timestamp has these
    if len(text) > 64:  # int() refuses over 4,300 digits; long ones are rare here
        raise _Unusual("long number")
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    # Without '.' or 'x' the only floats are like 1e5, the only ints decimal, octal or 0b.
    if "." not in text and "x" not in text and not _NOT_NUMBER_LETTERS.isdisjoint(text):
        return text
    raise _Unusual(text)


def _plain(text: str) -> Any:
    """A plain scalar's value, checking it can start one."""
    first = text[:1]
    if not first or (first in _NOT_FIRST and not _dash_plain(text)):
        raise _Unusual("not a plain scalar")
    return scalar(text)


def _dash_plain(text: str) -> bool:
    return text[0] == "-" and len(text) > 1 and (text[1].isalnum() or text[1] in "._")


def _quoted(text: str) -> tuple[str, int]:
    """A one-line quoted scalar at the start of ``text``: its value and where it ends."""
    quote = text[0]
    if quote == '"':
        end = text.find('"', 1)
        if end == -1 or "\\" in text[1:end]:
            raise _Unusual("double-quoted")
        return text[1:end], end + 1
    end = 1
    while True:
        end = text.find("'", end)
        if end == -1:
            raise _Unusual("single-quoted")
        if text[end + 1 : end + 2] != "'":
            return text[1:end].replace("''", "'"), end + 1
        end += 2


def _comment_only(text: str) -> bool:
    """Whether what follows a scalar is nothing, or spaces then a comment."""
    return not text or (text[0] == " " and text.lstrip(" ")[:1] in ("", "#"))


class _Reader:
    """One pass over the lines; ``stack`` holds the open block collections."""

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes = 0
        # [indent, container, pending]: pending is the key whose value may follow on the
        # lines below (a mapping), or True if the last entry may (a sequence); else _NONE.
        self.stack: list[list[Any]] = []
        self.root: Any = None
        self.started = False

    def read(self, text: str) -> Any:
        first = True
        for line in text.split("\n"):
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            col = len(line) - len(content)
            content = content.rstrip(" ")
            if col == 0 and content[:3] in ("---", "..."):
                if not (first and content == "---"):
                    raise _Unusual("document marker")
                first = False
                continue
            first = False
            self.line(col, content)
        return self.root

    def line(self, col: int, content: str) -> None:
        """Place one line (or the part of one after ``- ``) starting at column ``col``."""
        stack = self.stack
        while stack and stack[-1][0] > col:
            stack.pop()
        dash = content == "-" or content[:2] == "- "
        if not stack:
            if self.started:
                raise _Unusual("content after the root collection")
            self.started = True
            self.open(col, dash, None)
        top = stack[-1]
        if col > top[0]:
            if top[2] is _NONE:
                raise _Unusual("more indented")  # a continued scalar, or an error
            self.open(col, dash, top)
            top = stack[-1]
        elif type(top[1]) is list and not dash:
            # The end of a sequence at its parent key's indent.
            if len(stack) > 1 and stack[-2][0] == col and type(stack[-2][1]) is dict:
                stack.pop()
                top = stack[-1]
            else:
                raise _Unusual("not an entry")
        elif type(top[1]) is dict and dash:
            if top[2] is _NONE:
                raise _Unusual("entry in a mapping")
            self.open(col, dash, top)  # a sequence at its key's indent
            top = stack[-1]
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _Unusual("many nodes")
        if dash:
            self.entry(col, content, top)
        else:
            self.pair(content, top)

    def open(self, col: int, dash: bool, parent: list[Any] | None) -> None:
        """Start the collection at ``col`` as the pending value of ``parent``."""
        container: list[Any] | dict[Any, Any] = [] if dash else {}
        if parent is None:
            self.root = container
        elif type(parent[1]) is list:
            parent[1][-1] = container
        else:
            parent[1][parent[2]] = container
        if parent is not None:
            parent[2] = _NONE
        if len(self.stack) >= self.max_depth:
            raise _Unusual("deep")
        self.nodes += 1
        self.stack.append([col, container, _NONE])

    def entry(self, col: int, content: str, top: list[Any]) -> None:
        rest = content[1:].lstrip(" ")
        items: list[Any] = top[1]
        if not rest or rest[0] == "#":
            items.append(None)
            top[2] = True
            return
        if rest == "-" or rest[:2] == "- " or _key_end(rest) is not None:
            items.append(None)  # a compact collection: as if on the next line
            top[2] = True
            self.line(col + len(content) - len(rest), rest)
            return
        items.append(self.value(rest))
        top[2] = _NONE

    def pair(self, content: str, top: list[Any]) -> None:
        mapping: dict[Any, Any] = top[1]
        if content[0] in "'\"":
            key, end = _quoted(content)
            if content[end : end + 1] != ":":
                raise _Unusual("quoted key")
            end += 1
        else:
            colon = _key_end(content)
            if colon is None:
                raise _Unusual("not a key")
            key = _plain(content[:colon])
            end = colon + 1
        if end > 512:
            raise _Unusual("long key")  # implicit keys are limited to 1,024 characters
        if content[end : end + 1] not in ("", " "):
            raise _Unusual("no space after ':'")
        if key in mapping:
            raise _Unusual("duplicate key")
        rest = content[end:].lstrip(" ")
        self.nodes += 1
        if not rest or rest[0] == "#":
            mapping[key] = None
            top[2] = key
            return
        mapping[key] = self.value(rest)
        top[2] = _NONE

    def value(self, text: str) -> Any:
        """A value on the same line as its key or dash."""
        first = text[0]
        if first in "'\"":
            value, end = _quoted(text)
            if not _comment_only(text[end:]):
                raise _Unusual("after a quoted scalar")
            return value
        if first in "[{":
            return self.flow(text)
        cut = text.find(" #")
        if cut != -1:
            text = text[:cut].rstrip(" ")
        if ": " in text or text[-1] == ":":
            raise _Unusual("':' in a value")
        return _plain(text)

    def flow(self, text: str) -> Any:
        """A one-line flow sequence of plain scalars, or mapping of plain keys and values."""
        close = "]" if text[0] == "[" else "}"
        end = text.find(close)
        if end == -1 or not _comment_only(text[end + 1 :]):
            raise _Unusual("flow collection")
        inner = text[1:end]
        if _FLOW_SPECIAL.search(inner.replace(": ", "  ") if close == "}" else inner):
            raise _Unusual("flow collection")
        parts = inner.split(",") if inner.strip(" ") else []
        self.nodes += 2 * len(parts)
        if close == "]":
            return [_plain(part.strip(" ")) for part in parts]
        mapping: dict[Any, Any] = {}
        for part in parts:
            key, colon, value = part.partition(": ")
            key = _plain(key.strip(" "))
            if not colon or ": " in value or key in mapping:
                raise _Unusual("flow mapping")
            mapping[key] = _plain(value.strip(" "))
        return mapping


class _None:
    """No pending value (``None`` is a key)."""


_NONE: Final = _None()


def _key_end(content: str) -> int | None:
    """Where a plain implicit key's ``:`` is, if the line is ``key: ...`` or ``key:``."""
    if content[0] in "'\"":
        return None  # a quoted key: read by _quoted
    colon = content.find(": ")
    if colon == -1:
        if content[-1] != ":":
            return None
        colon = len(content) - 1
    head = content[:colon]
    if " #" in head or head.endswith((" ", ":")):
        raise _Unusual("unusual key")
    return colon
