"""Who writes a tag, and when: resolved the way git resolves a committer.

dulwich alone would invent ``root <root@hostname>`` when nothing is configured;
git refuses, and so do we.  ``GIT_COMMITTER_DATE`` is honoured for the time as
well as the zone (GTO used only the zone), which also gives tests exact times.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gto_dulwich import settings
from gto_dulwich.errors import GTOError, IdentityUnknown

if TYPE_CHECKING:
    from dulwich.config import StackedConfig


@dataclass(frozen=True, slots=True)
class Tagger:
    name: str
    email: str
    time: int
    tz_offset: int

    @property
    def identity(self) -> bytes:
        return f"{self.name} <{self.email}>".encode("utf-8", "surrogateescape")


_RAW_DATE = re.compile(r"^@?(\d+)(?:\s+([+-]\d{4}))?$")


def parse_git_date(text: str) -> tuple[int, int]:
    """``GIT_COMMITTER_DATE`` in git's raw (``1700000000 +0200``) or ISO 8601 form.

    A time git would write but no reader can show (a year past 9999, a zone of 24 hours
    or more) is refused here, before any tag is written.
    """
    from gto_dulwich.events import time_problem

    when, zone = _parse_git_date(text)
    problem = time_problem(when, zone)
    if problem is not None:
        raise GTOError(f"Cannot use GIT_COMMITTER_DATE '{text.strip()}': {problem}")
    return when, zone


def _parse_git_date(text: str) -> tuple[int, int]:
    text = text.strip()
    match = _RAW_DATE.match(text)
    if match:
        seconds, zone = match.groups()
        return int(seconds), _zone(zone) if zone else 0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GTOError(f"Cannot parse GIT_COMMITTER_DATE '{text}'") from None
    if moment.tzinfo is None:
        return int(moment.timestamp()), _local_offset(int(moment.timestamp()))
    offset = moment.utcoffset()
    assert offset is not None
    return int(moment.timestamp()), int(offset.total_seconds())


def _zone(text: str) -> int:
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 3600 + int(text[3:5]) * 60)


def _local_offset(when: int) -> int:
    return time.localtime(when).tm_gmtoff


def _config_value(config: StackedConfig, section: bytes, key: bytes) -> str | None:
    try:
        value = config.get((section,), key)
    except KeyError:
        return None
    return value.decode("utf-8", errors="replace") if value else None


def resolve_tagger(
    config: StackedConfig,
    *,
    name: str | None = None,
    email: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Tagger:
    """Explicit values, then ``GIT_COMMITTER_*``, then ``committer.*``/``user.*`` config."""
    env = settings.current().git_environ if environ is None else environ
    name = (
        name
        or env.get("GIT_COMMITTER_NAME")
        or _config_value(config, b"committer", b"name")
        or _config_value(config, b"user", b"name")
    )
    email = (
        email
        or env.get("GIT_COMMITTER_EMAIL")
        or _config_value(config, b"committer", b"email")
        or _config_value(config, b"user", b"email")
        or env.get("EMAIL")
    )
    if not name:
        raise IdentityUnknown("user.name")
    if not email:
        raise IdentityUnknown("user.email")
    if "<" in name or ">" in name or "<" in email or ">" in email or "\n" in name + email:
        raise GTOError(f"Invalid tagger identity '{name} <{email}>'")
    date = env.get("GIT_COMMITTER_DATE")
    if date:
        when, zone = parse_git_date(date)
    else:
        when = int(time.time())
        zone = _local_offset(when)
    return Tagger(name, email, when, zone)
