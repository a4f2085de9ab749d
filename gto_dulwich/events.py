"""Tag facts + tag grammar -> typed registry events, in GTO's total order.

Pure: no git access.  A tag that GTO would ignore silently (lightweight, not in
the grammar, broken) becomes a :class:`Diagnostic`, so ``doctor`` and ``-v`` can
say why a tag a user pushed does not show up.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, NamedTuple

from gto_dulwich.errors import TagSyntaxError
from gto_dulwich.facts import RefEntry, TagFact
from gto_dulwich.grammar import Action, TagName, parse_tag


class EventKind(enum.StrEnum):
    """The JSON ``event`` value of each kind; the order is GTO's priority."""

    COMMIT = "commit"
    CREATION = "creation"
    DEPRECATION = "deprecation"
    REGISTRATION = "registration"
    DEREGISTRATION = "deregistration"
    ASSIGNMENT = "assignment"
    UNASSIGNMENT = "unassignment"

    @property
    def priority(self) -> int:
        return _PRIORITY[self]

    @property
    def addition(self) -> bool:
        return self in _ADDITIONS


_PRIORITY = {kind: number for number, kind in enumerate(EventKind)}
_ADDITIONS = {
    EventKind.COMMIT,
    EventKind.CREATION,
    EventKind.REGISTRATION,
    EventKind.ASSIGNMENT,
}
# The event each tag action makes (the planner names its steps by the same map).
KIND_OF_ACTION = {
    Action.REGISTER: EventKind.REGISTRATION,
    Action.DEREGISTER: EventKind.DEREGISTRATION,
    Action.ASSIGN: EventKind.ASSIGNMENT,
    Action.UNASSIGN: EventKind.UNASSIGNMENT,
    Action.DEPRECATE: EventKind.DEPRECATION,
}


_ZONES: dict[int, timezone] = {}


_DAY = 24 * 3600
_FAR = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def to_datetime(unix: int, tz_offset: int) -> datetime:
    """A timestamp in the tagger's (or committer's) own zone, as GTO prints it.

    git accepts what ``datetime`` cannot hold (see :func:`time_problem`): a zone of
    24 hours or more is shown in UTC, a year past 9999 (or before 1) is clamped.
    """
    zone = _ZONES.get(tz_offset)
    if zone is None:  # one zone object per offset, shared by every event in it
        in_range = -_DAY < tz_offset < _DAY
        zone = timezone(timedelta(seconds=tz_offset)) if in_range else UTC
        _ZONES[tz_offset] = zone
    try:
        return datetime.fromtimestamp(unix, zone)
    except (ValueError, OverflowError, OSError):
        return _FAR[unix > 0]


# Times every zone within a day of UTC can show (1970-01-02 to 9999-12-30): no need to ask.
_SAFE = range(_DAY, 253402300800 - _DAY)


def time_problem(unix: int, tz_offset: int) -> str | None:
    """Why a git time cannot be shown as it is (None: it can)."""
    if unix in _SAFE and -_DAY < tz_offset < _DAY:
        return None
    sign, minutes = ("-" if tz_offset < 0 else "+"), abs(tz_offset) // 60
    zone = f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    try:
        datetime.fromtimestamp(unix, UTC)
    except (ValueError, OverflowError, OSError):
        return f"time {unix} {zone} is outside the years 1 to 9999"
    if not -_DAY < tz_offset < _DAY:
        return f"time zone {zone} is not within 24 hours of UTC"
    try:
        datetime.fromtimestamp(unix, timezone(timedelta(seconds=tz_offset)))
    except (ValueError, OverflowError, OSError):
        return f"time {unix} {zone} is outside the years 1 to 9999"
    return None


#: GTO's order of events, as a key read by C code: sorting 100,000 events calls no
#: Python function.
ORDER = attrgetter("created_at", "tag")


class Event(NamedTuple):
    """One annotated registry tag, interpreted.  A named tuple, as ``TagFact`` is: as
    immutable as a frozen dataclass and built in a quarter of the time (a cold read builds
    one per tag, and the reducer one more per stage event).

    ``version`` is the tag's version for registrations and deregistrations; for
    stage events the reducer fills in the version found at the tag's commit.
    """

    kind: EventKind
    artifact: str
    tag: str
    commit: str
    created_at: datetime
    author: str
    author_email: str
    message: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    @property
    def priority(self) -> int:
        return self.kind.priority

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """GTO's order: the tagger instant, ties broken by ref name (:data:`ORDER`)."""
        return ORDER(self)

    def with_version(self, version: str) -> Event:
        return Event(
            self.kind,
            self.artifact,
            self.tag,
            self.commit,
            self.created_at,
            self.author,
            self.author_email,
            self.message,
            version,
            self.stage,
            self.counter,
        )

    def base_dict(self) -> dict[str, Any]:
        """GTO's event object: the keys every event carries, in GTO's order."""
        data: dict[str, Any] = {
            "priority": self.priority,
            "addition": self.kind.addition,
            "artifact": self.artifact,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
            "author_email": self.author_email,
            "message": self.message,
            "commit_hexsha": self.commit,
            "tag": self.tag,
        }
        if self.kind is not EventKind.DEPRECATION:
            data["version"] = self.version
        if self.stage is not None:
            data["stage"] = self.stage
        return data

    def check_ref_dict(self) -> dict[str, Any]:
        """``check-ref --json``: the event minus priority/addition, plus ``event``."""
        data = self.base_dict()
        del data["priority"], data["addition"]
        data["event"] = self.kind.value
        return data


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A tag the registry skipped, and why (shown by ``doctor`` and ``-v``)."""

    ref: str
    reason: str
    severity: str = "warning"

    def to_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "severity": self.severity, "reason": self.reason}


def parse_ref_name(name: str) -> TagName | None:
    try:
        return parse_tag(name)
    except TagSyntaxError:
        return None


def event_from_fact(fact: TagFact, parsed: TagName) -> Event | Diagnostic:
    """One tag fact whose ref name is in the grammar -> an event or a diagnostic."""
    if fact.kind == "lightweight":
        return Diagnostic(
            fact.ref,
            "lightweight tag: GTO reads only annotated tags "
            "(re-create it with a message, or fetch the real tag object)",
        )
    if fact.kind != "annotated":
        return Diagnostic(fact.ref, f"unreadable tag: {fact.problem}", "error")
    if fact.target_type != "commit" or fact.target is None:
        return Diagnostic(fact.ref, f"tag points at a {fact.target_type}, not a commit")
    if fact.tag_name and fact.tag_name != fact.ref:
        # GTO parses the name stored in the tag object; it differs only for
        # hand-made oddities, which we report and then read by that name.
        inner = parse_ref_name(fact.tag_name)
        if inner is None:
            return Diagnostic(
                fact.ref, f"tag object is named '{fact.tag_name}', which is not a GTO tag"
            )
        parsed = inner
    if parsed.action is Action.CREATE:
        return Diagnostic(
            fact.ref, "'@created' tags are part of GTO's grammar but carry no event; ignored"
        )
    assert fact.time is not None
    assert fact.tz_offset is not None
    problem = time_problem(fact.time, fact.tz_offset)
    if problem is not None and not problem.startswith("time zone"):
        # Where would it go in the history? Nowhere true: skip it rather than invent a time.
        return Diagnostic(fact.ref, f"tagger {problem}; tag skipped")
    # Positional: this runs once per tag, and keywords cost a fifth of it.
    return Event(
        KIND_OF_ACTION[parsed.action],
        parsed.name,
        fact.tag_name or fact.ref,
        fact.target,
        to_datetime(fact.time, fact.tz_offset),
        fact.tagger_name or "",
        fact.tagger_email or "",
        fact.message or "",
        parsed.version,
        parsed.stage,
        parsed.counter,
    )


@dataclass(frozen=True, slots=True)
class EventLog:
    """Every registry event in GTO's processing order, plus what was skipped."""

    events: tuple[Event, ...]
    diagnostics: tuple[Diagnostic, ...]


def build_event_log(
    facts: Iterable[tuple[TagFact, TagName]], ignored: Iterable[RefEntry] = ()
) -> EventLog:
    """Interpret tag facts (each with its parsed ref name); ``ignored`` are refs whose
    names are not GTO tags."""
    events: list[Event] = []
    diagnostics: list[Diagnostic] = [
        Diagnostic(entry.name, "not a GTO tag name", "info") for entry in ignored
    ]
    for fact, parsed in facts:
        result = event_from_fact(fact, parsed)
        if isinstance(result, Event):
            events.append(result)
            if fact.tz_offset is not None and not -_DAY < fact.tz_offset < _DAY:
                problem = time_problem(fact.time or 0, fact.tz_offset)
                diagnostics.append(Diagnostic(fact.ref, f"tagger {problem}; shown in UTC", "info"))
        else:
            diagnostics.append(result)
    # GTO's order: time, ties broken by tag name (so the order facts arrive in never matters).
    events.sort(key=ORDER)
    return EventLog(tuple(events), tuple(sorted(diagnostics, key=lambda d: d.ref)))
