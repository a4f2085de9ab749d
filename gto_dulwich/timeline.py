"""The timeline picture of an artifact page: inline SVG, drawn here, no library.

One lane per stage with a bar per period a version held it, and a lane of
registration marks (deregistrations are a different shape, deprecations a
dashed line across every lane), over a time axis.  Every bar and mark has a
``<title>`` (a tooltip and what a screen reader reads), and a bar is labelled
with its version where it is wide enough, so 20 versions read at a glance and
500 still draw as distinct bars.  All repository text is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

from gto_dulwich.report import EventRecord, Period

WIDTH = 1000  # at least; more when a lane has many bars, up to MAX_WIDTH (the page scrolls)
MAX_WIDTH = 6000
PER_BAR = 70  # room for a label like v1.10.0 on an average bar
GUTTER = 120  # lane labels
RIGHT = 100  # lane labels again: the page scrolls to the newest end
AXIS = 26
LANE = 26
GAP = 6
CHAR = 6.6  # average width of a label character at the font size used
_STEPS = (
    1,
    10,
    60,
    600,
    3600,
    6 * 3600,
    86400,
    7 * 86400,
    30 * 86400,
    91 * 86400,
    365 * 86400,
    5 * 365 * 86400,
)


def _stamp(epoch: int, with_time: bool, seconds: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if seconds:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def _ticks(start: int, end: int, most: int) -> tuple[list[int], int]:
    span = max(end - start, 1)
    step = next(
        (s for s in _STEPS if span / s <= most), _STEPS[-1] * (span // (_STEPS[-1] * most) + 1)
    )
    first = (start // step + 1) * step
    return list(range(first, end, step)) or [start + span // 2], step


def draw(
    stages: Sequence[str],
    periods: Sequence[Period],
    events: Sequence[EventRecord],
    *,
    visible: Callable[[str], str],
) -> Markup:
    """The SVG for one artifact; ``visible`` shows control characters as text."""
    marks = [e for e in events if e.kind in ("registration", "deregistration", "deprecation")]
    times = [e.epoch for e in events] + [p.start for p in periods]
    if not times:
        return Markup("")
    lanes = list(stages) + sorted({p.stage for p in periods} - set(stages))
    start, last = min(times), max(times)
    # A registry made by a script can hold years or seconds: the scale follows the span.
    pad = max((last - start) // 12, 1) if last > start else 3600
    end = last + pad
    start -= pad // 4
    busiest = max(Counter(p.stage for p in periods).values(), default=0)
    width = min(max(WIDTH, GUTTER + RIGHT + PER_BAR * busiest), MAX_WIDTH)
    scale = (width - GUTTER - RIGHT) / (end - start)

    def x(epoch: int) -> float:
        return round(GUTTER + (epoch - start) * scale, 1)

    def t(text: str) -> str:
        return str(escape(visible(text)))

    height = AXIS + (len(lanes) + 1) * (LANE + GAP) + 4
    out: list[str] = []
    ticks, step = _ticks(start, end, max(width // 170, 4))
    for tick in ticks:
        stamp = _stamp(tick, step < 86400, step < 60)
        out.append(
            f'<line class="tick" x1="{x(tick)}" x2="{x(tick)}" y1="{AXIS - 4}" y2="{height}"/>'
            f'<text class="axis" x="{x(tick)}" y="{AXIS - 8}">{stamp}</text>'
        )
    lane_y = {name: AXIS + (i + 1) * (LANE + GAP) for i, name in enumerate(lanes)}
    label_x = width - RIGHT + 8

    def lane_label(text: str, y: float) -> str:
        return (
            f'<text class="lane" x="{GUTTER - 8}" y="{y:.1f}">{text}</text>'
            f'<text class="lane end" x="{label_x}" y="{y:.1f}">{text}</text>'
        )

    out.append(lane_label("registrations", AXIS + LANE * 0.7))
    for name, y in lane_y.items():
        out.append(
            f'<rect class="lanebg" x="{GUTTER}" y="{y}" width="{width - GUTTER - RIGHT}" '
            f'height="{LANE}"/>{lane_label(t(name), y + LANE * 0.7)}'
        )
    shade: dict[str, int] = {}
    for period in periods:
        y = lane_y[period.stage]
        x1, x2 = x(period.start), x(period.end if period.end is not None else end)
        wide = max(x2 - x1, 1.5)
        shade[period.stage] = shade.get(period.stage, -1) + 1
        until = "now" if period.end is None else _stamp(period.end, True, True)
        tip = f"{period.version} in {period.stage}: {_stamp(period.start, True, True)} → {until}"
        kind = "bar open" if period.end is None else "bar"
        out.append(
            f'<g class="{kind} s{shade[period.stage] % 2}"><title>{t(tip)}</title>'
            f'<rect x="{x1}" y="{y + 2}" width="{wide:.1f}" height="{LANE - 4}"/>'
        )
        label = visible(period.version)
        if wide >= CHAR * len(label) + 8:
            out.append(f'<text x="{x1 + 4:.1f}" y="{y + LANE * 0.68:.1f}">{t(label)}</text>')
        out.append("</g>")
    bottom = AXIS + (len(lanes) + 1) * (LANE + GAP)
    # Thin marks when they crowd, so neighbours stay apart.
    thick = 2.5 if len(marks) * 6 < width else 1
    for mark in marks:
        mx = x(mark.epoch)
        tip = f"{mark.kind} {mark.version or ''} ({mark.tag}) {_stamp(mark.epoch, True, True)}"
        if mark.kind == "registration":
            shape = (
                f'<rect x="{mx - thick / 2}" y="{AXIS + 3}" width="{thick}" height="{LANE - 6}"/>'
            )
        elif mark.kind == "deregistration":
            top, low, left, right = AXIS + 4, AXIS + 14, mx - 5, mx + 5
            shape = f'<path d="M{left},{top}L{right},{low}M{right},{top}L{left},{low}"/>'
        else:
            shape = f'<line x1="{mx}" x2="{mx}" y1="{AXIS}" y2="{bottom}"/>'
        out.append(f'<g class="mark {mark.kind}"><title>{t(tip)}</title>{shape}</g>')
    summary = (
        f"{len(periods)} periods in {len(lanes)} stages and {len(marks)} registry marks "
        f"from {_stamp(start, False)} to {_stamp(end, False)}; the history table lists every event."
    )
    head = (
        f'<svg class="timeline{" fit" if width == WIDTH else ""}" viewBox="0 0 {width} {height}" '
        f'width="{width}" '
        f'height="{height}" role="img" aria-labelledby="tl-title tl-desc" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="tl-title">Timeline of stages</title>'
        f'<desc id="tl-desc">{escape(summary)}</desc>'
    )
    return Markup(head + "".join(out) + "</svg>")
