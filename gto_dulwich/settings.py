"""Checks for settings and arguments that come from outside: one line naming each, not exit 3.

A number of seconds must be finite (``inf`` or ``nan`` would wait forever) and
not negative; a host name must not look like a command-line option (``ssh``
would read ``-oProxyCommand=...`` as one).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

from gto_dulwich.errors import GTOError

__all__ = ["BadLocation", "BadSetting", "check_host", "seconds"]


class BadSetting(GTOError):
    """An environment variable whose value cannot be used."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(f"{name}={value!r} is not {expected}")
        self.name = name
        self.value = value


class BadLocation(GTOError):
    """A repository location that is refused before any connection (a usage error)."""

    exit_code = 2


def seconds(
    name: str,
    default: float,
    *,
    environ: Mapping[str, str] | None = None,
    allow_zero: bool = False,
) -> float:
    """The number of seconds in variable ``name`` (``default`` when unset or empty)."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        floor = "0 or more" if allow_zero else "more than 0"
        raise BadSetting(name, raw, f"a finite number of seconds, {floor}")
    return value


_SCHEME_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
_SCP_HOST = re.compile(r"^([^/:]+):")


def check_host(location: str, *, remote: str | None = None) -> None:
    """Refuse a URL whose host (or ``user@host``) starts with ``-``: ssh would take it
    for an option.  ``remote`` names the git remote the URL came from (then it is not a
    usage error but the repository's configuration, exit 1)."""
    match = _SCHEME_HOST.match(location) or _SCP_HOST.match(location)
    if match is None:
        return
    authority = match.group(1)
    host = authority.rpartition("@")[2]
    if authority.startswith("-") or host.startswith("-"):
        from gto_dulwich.transport import redact_url

        what = f"the URL of remote '{remote}'" if remote else "repository URL"
        error = BadLocation(
            f"Refusing {what} '{redact_url(location)}': its host starts with '-' "
            "(ssh would read it as an option)"
        )
        if remote:
            error.exit_code = 1
        raise error
