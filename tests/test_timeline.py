"""The timeline picture: one lane per stage, bars with tooltips, labels only where they fit."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from gto_dulwich.events import Event, EventKind
from gto_dulwich.report import EventRecord, event_record, periods
from gto_dulwich.site import visible
from gto_dulwich.timeline import MAX_WIDTH, draw

DAY = 86400
START = 1_700_000_000


def _event(kind: EventKind, number: int, offset: int, stage: str | None = None) -> Event:
    return Event(
        kind,
        "m",
        f"m{kind.value}{number}{stage}",
        f"{number:040x}",
        datetime.fromtimestamp(START + number * DAY + offset, UTC),
        "bot",
        "bot@example.com",
        "",
        f"v{number // 100}.{number % 100}.0",
        stage,
    )


def history(versions: int) -> tuple[list[Event], list[EventRecord]]:
    """A version a day, each registered, then dev, staging and prod a few hours apart."""
    events = []
    for number in range(versions):
        events.append(_event(EventKind.REGISTRATION, number, 0))
        for offset, stage in enumerate(("dev", "staging", "prod"), start=1):
            if stage != "prod" or number % 3 == 0:
                events.append(_event(EventKind.ASSIGNMENT, number, offset * 3600, stage))
    records = [event_record(e) for e in events]
    return events, records


def test_twenty_versions_every_bar_is_labelled() -> None:
    events, records = history(20)
    found = periods(events)
    svg = draw(["dev", "staging", "prod"], found, records, visible=visible)
    bars = svg.count('<g class="bar')
    assert bars == len(found) == 20 + 20 + 7
    assert svg.count("<title>") == bars + 20  # a tooltip on every bar and registration
    labels = re.findall(r"<text x=[^>]*>(v[0-9.]+)</text>", svg)
    assert len(labels) == bars


def test_five_hundred_versions_stay_small_and_unlabelled_where_narrow() -> None:
    events, records = history(500)
    found = periods(events)
    svg = draw(["dev", "staging", "prod"], found, records, visible=visible)
    assert svg.count('<g class="bar') == len(found) == 500 + 500 + 167
    assert len(svg) < 400_000
    # A day is ~1.7 px wide here: only the bars still open (to the right edge) have room
    # for a label; no label is squeezed into a narrow bar.
    labels = re.findall(r"<text x=[^>]*>(v[0-9.]+)</text>", svg)
    assert sorted(labels) == ["v4.98.0", "v4.99.0", "v4.99.0"]
    xs = [float(x) for x in re.findall(r'<rect x="([0-9.]+)" y="\d+" width', svg)]
    assert all(0 <= x <= MAX_WIDTH for x in xs)


def test_no_events_no_picture() -> None:
    assert draw(["prod"], [], [], visible=visible) == ""
