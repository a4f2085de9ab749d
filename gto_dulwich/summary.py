"""The Markdown summary of a CI step (``$GITHUB_STEP_SUMMARY``, ``check-ref --summary``).

Everything that comes from the repository (tag names, tagger, tag message) is
untrusted: it is written so that a reader of the Markdown sees it as text, never
as Markdown or HTML.  Short values go in code spans (no emphasis, links, HTML,
entities or @mentions inside them); the tag message goes in a fenced code block
whose fence is longer than any run of backticks in it; the one sentence of prose
has every ASCII punctuation character backslash-escaped.  Control, bidi and
zero-width characters are shown as escapes.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from gto_dulwich.events import ORDER, Event, EventLog
from gto_dulwich.queries import VersionRow, version_rows
from gto_dulwich.reducer import Artifact, reduce
from gto_dulwich.render import cut_hexsha

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# C0/C1 controls (tab and line feed too: a value is one line), bidi overrides and
# isolates, zero-width characters and the byte-order mark.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# The same, but a message keeps its line breaks and tabs.
_INVISIBLE_IN_BLOCK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)


def _escape_invisible(text: str, pattern: re.Pattern[str] = _INVISIBLE) -> str:
    def name(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return pattern.sub(name, text)


def prose(text: str) -> str:
    """Text that Markdown shows as it is: every ASCII punctuation character escaped."""
    return _PUNCTUATION.sub(r"\\\1", _escape_invisible(text))


def code(text: str, *, in_table: bool = False) -> str:
    """``text`` as an inline code span that nothing inside can close."""
    text = _escape_invisible(text)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")):
        text = f" {text} "
    if in_table:
        # GFM splits table cells on "|" before it reads code spans; "\|" is a "|" in any cell.
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def code_block(text: str) -> str:
    """A fenced code block that no line of ``text`` can close."""
    text = _escape_invisible(text, _INVISIBLE_IN_BLOCK)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def rows_after(artifact: Artifact, event: Event) -> list[VersionRow]:
    """``show NAME``'s rows as they were right after ``event``: the artifact's tags folded
    up to and including it, in GTO's order (a later tag, or a CI job re-run days later,
    changes nothing)."""
    upto = sorted((e for e in artifact.tag_events if e.sort_key <= event.sort_key), key=ORDER)
    folded = reduce(EventLog(tuple(upto), ())).find(artifact.name)
    return version_rows(folded) if folded is not None else []


def _link(label: str, url: str | None) -> str:
    return f"[{label}]({url})" if url else label


def markdown(
    event: Event,
    sentence: str,
    rows: Sequence[VersionRow],
    *,
    web_url: str | None = None,
) -> str:
    """The summary: the event in one sentence, where it came from, the artifact's versions.

    ``web_url`` (``https://github.com/OWNER/REPO``) adds links to the tag and the commit.
    """
    tag_url = f"{web_url}/releases/tag/{quote(event.tag, safe='/')}" if web_url else None
    commit_url = f"{web_url}/commit/{event.commit}" if web_url else None
    lines = [
        f"### {prose(sentence)}",
        "",
        f"Tag {_link(code(event.tag), tag_url)} on commit "
        f"{_link(code(event.commit[:7]), commit_url)}"
        + (f", by {code(event.author)}" if event.author else "")
        + f", {prose(str(event.created_at))}.",
        "",
    ]
    if rows:
        lines += [
            f"Versions of {code(event.artifact)} and their stages after it:",
            "",
            "| version | stages | created_at | ref |",
            "| --- | --- | --- | --- |",
        ]
        for row in rows:
            version = row.version
            cells = [
                code(cut_hexsha(version.version), in_table=True),
                ", ".join(code(stage, in_table=True) for stage in row.stages) or "-",
                code(str(version.created_at), in_table=True),
                code(cut_hexsha(version.ref), in_table=True),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    message = event.message.removesuffix("\n")
    if message.strip():
        lines += ["Tag message:", "", code_block(message)]
    return "\n".join(lines).rstrip("\n") + "\n\n"
