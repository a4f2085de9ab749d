"""Registry states built from TagFact records alone: no repository, no CLI.

The pure core's tests (test_events, test_reducer, test_queries, test_plan) describe tags as
``(ref, commit, time)`` and read them back through the same functions the registry uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from gto_dulwich.events import EventLog, build_event_log, parse_ref_name
from gto_dulwich.facts import RefEntry, TagFact
from gto_dulwich.reducer import RegistryState, reduce

# One second after 2023-11-14T22:13:20Z: explicit times, no clock.
T0 = 1_700_000_000


def commit(n: int) -> str:
    """A made-up commit sha, distinct per number."""
    return f"{n:040x}"


def fact(ref: str, target: str, time: int, *, kind: str = "annotated", tz: int = 0) -> TagFact:
    """An annotated tag ``ref`` on commit ``target`` made at ``time``."""
    if kind == "lightweight":
        return TagFact(ref, target, "lightweight", target=target, target_type="commit")
    return TagFact(
        ref,
        hashlib.sha1(f"{ref} {target} {time}".encode()).hexdigest(),
        "annotated",
        target=target,
        target_type="commit",
        tag_name=ref,
        tagger_name="Ann",
        tagger_email="ann@example.com",
        time=time,
        tz_offset=tz,
        message=ref,
    )


def event_log(facts: Iterable[TagFact]) -> EventLog:
    """What the registry's read does: GTO names become events, others are ignored."""
    parsed, ignored = [], []
    for f in facts:
        name = parse_ref_name(f.ref)
        if name is None:
            ignored.append(RefEntry(f.ref, f.sha))
        else:
            parsed.append((f, name))
    return build_event_log(parsed, ignored)


def state(*facts: TagFact) -> RegistryState:
    return reduce(event_log(facts))
