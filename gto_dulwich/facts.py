"""The records read from git, uninterpreted: what a tag ref holds, what a commit says.

The dulwich adapter (``repo.py``), the pack scanner and the remote reader fill them; the pure
core (events, reducer, queries, plan) reads them.  No dulwich here, so importing the core
loads no git library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

TAGS_PREFIX = b"refs/tags/"

TagKind = Literal["annotated", "lightweight", "missing", "broken"]


@dataclass(frozen=True, slots=True)
class RefEntry:
    """One ``refs/tags/*`` ref: where it points and, when git recorded it, the peeled commit.

    A frozen dataclass, where :class:`TagFact` and :class:`~gto_dulwich.events.Event` are
    named tuples (as immutable, and built in a quarter of the time): as a named tuple,
    100,000 of these raised a cold read's peak memory by 5 MB.
    """

    name: str
    sha: str
    peeled: str | None = None


class TagFact(NamedTuple):
    """What git holds for one tag ref, uninterpreted.

    ``kind`` is ``annotated`` for a tag object (then the tagger fields are set),
    ``lightweight`` when the ref names a commit directly, ``missing`` when the
    object it names is absent, and ``broken`` when the object cannot be read as
    a tag (``problem`` says why).  ``target`` is the commit the tag finally
    points to, following tags of tags.
    """

    ref: str
    sha: str
    kind: TagKind
    target: str | None = None
    target_type: str | None = None
    tag_name: str | None = None
    tagger_name: str | None = None
    tagger_email: str | None = None
    time: int | None = None
    tz_offset: int | None = None
    message: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    time: int
    tz_offset: int
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    message: str


def ref_entry(ref: bytes, sha: bytes, peeled: bytes | None) -> RefEntry:
    """The :class:`RefEntry` of ``refs/tags/<name>``."""
    return RefEntry(
        ref[len(TAGS_PREFIX) :].decode("utf-8", errors="replace"),
        sha.decode("ascii"),
        peeled.decode("ascii") if peeled else None,
    )
