"""events.py directly: tag facts -> events (or diagnostics) in GTO's order; no repository."""

from __future__ import annotations

from gto_dulwich.events import EventKind
from gto_dulwich.facts import TagFact
from tests.records import T0, commit, event_log, fact


def test_each_grammar_form_becomes_its_event_kind() -> None:
    log = event_log(
        [
            fact("nn@v1.0.0", commit(1), T0),
            fact("nn@v1.0.0!", commit(1), T0 + 1),
            fact("nn#prod#1", commit(1), T0 + 2),
            fact("nn#prod!#2", commit(1), T0 + 3),
            fact("nn@deprecated", commit(1), T0 + 4),
            fact("nn#dev", commit(1), T0 + 5),
        ]
    )
    assert [(e.kind, e.version, e.stage, e.counter) for e in log.events] == [
        (EventKind.REGISTRATION, "v1.0.0", None, None),
        (EventKind.DEREGISTRATION, "v1.0.0", None, None),
        (EventKind.ASSIGNMENT, None, "prod", 1),
        (EventKind.UNASSIGNMENT, None, "prod", 2),
        (EventKind.DEPRECATION, None, None, None),
        (EventKind.ASSIGNMENT, None, "dev", None),
    ]
    assert log.diagnostics == ()


def test_events_are_ordered_by_time_then_by_tag_name_whatever_order_facts_arrive_in() -> None:
    facts = [
        fact("b@v1.0.0", commit(1), T0),
        fact("a@v1.0.0", commit(1), T0),  # the same second: the name breaks the tie
        fact("c@v1.0.0", commit(1), T0 - 5),
    ]
    forward = [e.tag for e in event_log(facts).events]
    backward = [e.tag for e in event_log(reversed(facts)).events]
    assert forward == backward == ["c@v1.0.0", "a@v1.0.0", "b@v1.0.0"]


def test_time_zones_keep_the_instant_and_the_offset() -> None:
    [event] = event_log([fact("nn@v1.0.0", commit(1), T0, tz=2 * 3600)]).events
    assert event.created_at.isoformat() == "2023-11-15T00:13:20+02:00"


def test_tags_that_carry_no_event_become_diagnostics() -> None:
    broken = TagFact("nn@v2.0.0", "f" * 40, "broken", problem="zlib error")
    blob = TagFact(
        "nn@v3.0.0",
        "e" * 40,
        "annotated",
        target="d" * 40,
        target_type="blob",
        time=T0,
        tz_offset=0,
    )
    log = event_log(
        [
            fact("nn@v1.0.0", commit(1), T0, kind="lightweight"),
            broken,
            blob,
            fact("nn@created", commit(1), T0),
            fact("not-a-gto-tag", commit(1), T0),
        ]
    )
    assert log.events == ()
    reasons = {d.ref: (d.severity, d.reason.split(":")[0].split(";")[0]) for d in log.diagnostics}
    assert reasons == {
        "nn@v1.0.0": ("warning", "lightweight tag"),
        "nn@v2.0.0": ("error", "unreadable tag"),
        "nn@v3.0.0": ("warning", "tag points at a blob, not a commit"),
        "nn@created": (
            "warning",
            "'@created' tags are part of GTO's grammar but carry no event",
        ),
        "not-a-gto-tag": ("info", "not a GTO tag name"),
    }
    assert [d.ref for d in log.diagnostics] == sorted(reasons)


def test_kind_priority_is_gtos() -> None:
    assert sorted(EventKind, key=lambda kind: kind.priority)[:4] == [
        EventKind.COMMIT,
        EventKind.CREATION,
        EventKind.DEPRECATION,
        EventKind.REGISTRATION,
    ]
    assert EventKind.ASSIGNMENT.addition
    assert not EventKind.UNASSIGNMENT.addition
