"""Turn API records into text: tables, plain columns, JSON.  Nothing else knows Rich.

Machine output (``--json``, ``--plain``, one value per line) is written as plain
strings: never wrapped, never highlighted.  The box table printed when stdout
is not a terminal is byte-for-byte GTO's (tabulate ``fancy_outline``), so logs
and golden files compare; on a terminal a Rich table is drawn instead.
Anything that came from a repository is made terminal-safe before it is shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii as _encode_string
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gto_dulwich.events import Event
    from gto_dulwich.queries import HistoryRow, RegistryRow, VersionRow

NOTHING_FOUND = "Nothing found in the current workspace"

Cell = str | None
# Control characters (C0 but newline, DEL, C1); lone surrogates (under a C locale a
# surrogate escape is written as a raw byte, a C1 control among them); invisible format
# characters (Unicode category Cf: bidirectional overrides and isolates, zero-width
# characters, the BOM, tag characters) and line/paragraph separators, which can make
# text read differently from what it is.  tests/test_render.py checks the Cf list
# against this Python's Unicode tables.
_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe(text: str) -> str:
    """Escape control, format and other invisible characters (ANSI escapes and bidi
    overrides included) so repository text cannot move the cursor, recolour or retitle
    the user's terminal, nor read differently from what it is."""
    return _CONTROL.sub(_escape, text).replace("\n", "\\n")


def safe_message(text: str) -> str:
    """:func:`safe` for an error line, keeping trailing newlines as GTO prints them
    (``"Version 'v1.2.4' already was registered.\\n"`` ends with an empty line)."""
    body = text.rstrip("\n")
    return safe(body) + "\n" * (len(text) - len(body))


def to_json(data: Any) -> str:
    """GTO's JSON: indent 4, non-ASCII escaped, keys in record order.

    ``custom`` data from YAML may hold what JSON cannot (GTO fails on it): timestamps
    become ISO 8601 text, sets sorted lists, binary base64 text, other keys their
    JSON text.
    """
    try:
        return json.dumps(data, indent=4, ensure_ascii=True)
    except (TypeError, ValueError):
        return json.dumps(_plain(data), indent=4, ensure_ascii=True)


def _plain(value: Any) -> Any:
    import base64
    import datetime

    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=json.dumps)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return json.dumps(_plain(key))


def json_list_chunks(items: Iterable[dict[str, Any]], batch: int = 512) -> Iterator[str]:
    """``to_json(list(items))`` in pieces, never the whole list as one string.

    ``history --json`` of 100,000 tags is 40 MB of JSON: written as it is made,
    it needs neither that string nor every row's dict at once.  A row whose values
    are all strings, numbers, booleans or None (every history row) is encoded by
    hand with json's own C string encoder, which is what ``json.dumps`` does for
    it, only without the pure-Python indenting encoder around it.
    """
    pending: list[str] = []
    first = True
    starts: dict[str, str] = {}  # rows repeat their keys: each key's line start made once
    for item in items:
        pending.append(_json_item(item, starts))
        if len(pending) >= batch:
            yield ("[\n" if first else ",\n") + ",\n".join(pending)
            first = False
            pending = []
    if pending:
        yield ("[\n" if first else ",\n") + ",\n".join(pending)
        first = False
    yield "[]" if first else "\n]"


def _json_item(item: dict[str, Any], starts: dict[str, str]) -> str:
    """One dict as ``json.dumps`` with ``indent=4`` writes it as an element of a list;
    ``starts`` keeps each key's ``"key": `` line start, indented."""
    fields = []
    for key, value in item.items():
        start = starts.get(key)
        if start is None:
            if type(key) is not str:
                return "    " + to_json(item).replace("\n", "\n    ")
            start = starts[key] = f"        {_encode_string(key)}: "
        kind = type(value)
        if kind is str:
            fields.append(start + _encode_string(value))
        elif value is None:
            fields.append(start + "null")
        elif kind is bool:
            fields.append(start + ("true" if value else "false"))
        elif kind is int:
            fields.append(start + int.__repr__(value))
        else:  # nested or unusual values: the general encoder, indented one level more
            return "    " + to_json(item).replace("\n", "\n    ")
    if not fields:
        return "    {}"
    return "    {\n" + ",\n".join(fields) + "\n    }"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _layout(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> tuple[list[list[str]], list[int], list[bool]]:
    cells = [[safe(c) if c is not None else "-" for c in row] for row in rows]
    widths = []
    right = []
    for index, header in enumerate(headers):
        column = [row[index] for row in cells]
        widths.append(max([len(header) + 2, *(len(c) for c in column)]))
        values = [row[index] for row in rows if row[index] is not None]
        right.append(bool(values) and all(_is_number(v) for v in values if v is not None))
    return cells, widths, right


def _pad(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """tabulate's ``plain`` format: two-space gaps, lines right-stripped."""
    cells, widths, right = _layout(headers, rows)
    lines = [
        "  ".join(_pad(h, w, r) for h, w, r in zip(headers, widths, right, strict=True)).rstrip()
    ]
    lines.extend(
        "  ".join(_pad(c, w, r) for c, w, r in zip(row, widths, right, strict=True)).rstrip()
        for row in cells
    )
    return "\n".join(lines)


def box_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """tabulate's ``fancy_outline`` format, as GTO prints its tables."""
    cells, widths, right = _layout(headers, rows)

    def rule(left: str, mid: str, end: str) -> str:
        return left + mid.join("═" * (w + 2) for w in widths) + end

    def line(values: Sequence[str]) -> str:
        padded = (_pad(v, w, r) for v, w, r in zip(values, widths, right, strict=True))
        return "│ " + " │ ".join(padded) + " │"

    out = [rule("╒", "╤", "╕"), line(headers), rule("╞", "╪", "╡")]
    out.extend(line(row) for row in cells)
    out.append(rule("╘", "╧", "╛"))
    return "\n".join(out)


def rich_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Any:
    """A Rich table for a terminal; cell text is escaped for Rich markup too."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=True, header_style="bold")
    for header in headers:
        table.add_column(escape(header), overflow="fold")
    for row in rows:
        table.add_row(*(escape(safe(c)) if c is not None else "-" for c in row))
    return table


def cut_hexsha(version: str) -> str:
    """Shorten a commit-named (discovered) version; SemVer versions are never cut."""
    if len(version) == 40 and all(c in "0123456789abcdef" for c in version):
        return version[:7]
    return version


# -- the CLI's tables and sentences --------------------------------------------------

Table = tuple[list[str], list[list[Cell]]]


def version_table(rows: Sequence[VersionRow], artifact: str | None = None) -> Table:
    """``show NAME`` and ``show --commit``: one line per version (``artifact`` labels every
    line, else each version's own artifact)."""
    headers = ["artifact", "version", "stage", "created_at", "ref"]
    return headers, [
        [
            artifact if artifact is not None else row.version.artifact,
            cut_hexsha(row.version.version),
            ", ".join(row.stages),
            str(row.version.created_at),
            cut_hexsha(row.version.ref),
        ]
        for row in rows
    ]


def registry_table(
    names: Sequence[str], rows: Sequence[RegistryRow], stages: Sequence[str]
) -> Table:
    """``show``: one line per artifact (its shown name), one column per stage."""
    headers = ["name", "latest", *(f"#{stage}" for stage in stages)]
    return headers, [
        [
            name,
            cut_hexsha(row.latest) if row.latest else None,
            *(", ".join(cut_hexsha(v) for v in row.stages[s]) or None for s in stages),
        ]
        for name, row in zip(names, rows, strict=True)
    ]


def history_table(rows: Sequence[HistoryRow]) -> Table:
    """``history``: one line per event."""
    headers = ["timestamp", "artifact", "event", "version", "stage", "commit", "ref"]
    return headers, [
        [
            str(r.event.created_at),
            r.event.artifact,
            r.event.kind.value,
            cut_hexsha(r.event.version) if r.event.version else None,
            r.event.stage,
            r.event.commit[:7],
            r.event.tag,
        ]
        for r in rows
    ]


def event_sentence(event: Event) -> str:
    """What a tag did, in GTO's words (``check-ref`` and the CI summary)."""
    from gto_dulwich.events import EventKind

    kind = event.kind
    if kind is EventKind.REGISTRATION:
        return f'Version "{event.version}" of artifact "{event.artifact}" was registered'
    if kind is EventKind.DEREGISTRATION:
        return f'Version "{event.version}" of artifact "{event.artifact}" was deregistered'
    if kind is EventKind.ASSIGNMENT:
        return (
            f'Stage "{event.stage}" was assigned to version "{event.version}" '
            f'of artifact "{event.artifact}"'
        )
    if kind is EventKind.UNASSIGNMENT:
        return (
            f'Stage "{event.stage}" was unassigned from version "{event.version}" '
            f'of artifact "{event.artifact}"'
        )
    return f'Artifact "{event.artifact}" was deprecated'
