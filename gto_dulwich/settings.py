"""Settings from outside: every environment variable gto_dulwich reads, and their checks.

:data:`VARIABLES` names each variable, its default and what it does (a test holds every
``GTO_DULWICH_*`` name in the package to this table); the readers below are the one way a
module gets a switch that is not GTO's ``.gto`` config (that is :mod:`gto_dulwich.config`).
Bad values make one line naming the variable, not exit 3: a number of seconds must be finite
(``inf`` or ``nan`` would wait forever) and not negative; a host name must not look like a
command-line option (``ssh`` would read ``-oProxyCommand=...`` as one).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from gto_dulwich.errors import BadLocation, BadSetting

__all__ = [
    "VARIABLES",
    "BadLocation",
    "BadSetting",
    "caches_off",
    "check_host",
    "emojis",
    "lock_timeout",
    "no_caches",
    "seconds",
]

# name -> (default, what it does).  GTO's own ``GTO_*`` config keys live in config.py.
VARIABLES: dict[str, tuple[str, str]] = {
    "GTO_EMOJIS": ("true", "marks in the CLI's messages (0, false, no, off, f, n turn them off)"),
    "GTO_DULWICH_NO_CACHE": ("", "any value but 0/false/no/off: read everything from git"),
    "GTO_DULWICH_LOCK_TIMEOUT": ("10", "seconds a writer waits for a lock another holds"),
    "GTO_DULWICH_TIMEOUT": ("60", "seconds one network operation may take, in all"),
    "GTO_DULWICH_MAX_LISTING_BYTES": ("67108864", "bytes a remote's ref listing may take"),
    "GTO_DULWICH_MAX_PACK_BYTES": ("1073741824", "bytes a fetched pack may take"),
    "GTO_DULWICH_YAML_MAX_BYTES": ("1048576", "bytes a YAML or JSON file read may take"),
    "GTO_DULWICH_TOKEN": ("", "http(s) token for git remotes"),
    "GTO_DULWICH_USERNAME": ("", "http(s) user name for git remotes"),
    "GTO_DULWICH_PASSWORD": ("", "http(s) password for git remotes"),
    "GTO_DULWICH_CI_TOKEN": ("", "1: use the CI's own token (GITHUB_TOKEN, CI_JOB_TOKEN)"),
    "GTO_DULWICH_STORAGE_USERNAME": ("", "http(s) user name for DVC storage"),
    "GTO_DULWICH_STORAGE_PASSWORD": ("", "http(s) password for DVC storage"),
    "GTO_DULWICH_FETCH_TAGS": ("", "1: fetch tags before a read (the CLI's --fetch-tags)"),
}

_FALSE = ("0", "false", "no", "off", "f", "n")
_NO_CACHE_FALSE = ("", "0", "false", "no", "off")

# --no-cache for the command being run: set by the CLI for the span of one invocation.
_NO_CACHES: ContextVar[bool] = ContextVar("gto_dulwich_no_caches", default=False)


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def emojis(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the CLI marks its messages (``GTO_EMOJIS``; on unless turned off)."""
    return _env(environ).get("GTO_EMOJIS", "true").strip().lower() not in _FALSE


def caches_off(environ: Mapping[str, str] | None = None) -> bool:
    """Whether caching is off: ``--no-cache`` was given or ``GTO_DULWICH_NO_CACHE`` is set."""
    if _NO_CACHES.get():
        return True
    return _env(environ).get("GTO_DULWICH_NO_CACHE", "").strip().lower() not in _NO_CACHE_FALSE


@contextlib.contextmanager
def no_caches(off: bool = True) -> Iterator[None]:
    """Turn every cache off (``--no-cache``) for the block, and back as it was after."""
    token = _NO_CACHES.set(off or _NO_CACHES.get())
    try:
        yield
    finally:
        _NO_CACHES.reset(token)


def lock_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a writer waits for locks other writers hold (``GTO_DULWICH_LOCK_TIMEOUT``)."""
    return seconds("GTO_DULWICH_LOCK_TIMEOUT", 10.0, environ=environ, allow_zero=True)


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
        from gto_dulwich.remote.connection import redact_url

        what = f"the URL of remote '{remote}'" if remote else "repository URL"
        error = BadLocation(
            f"Refusing {what} '{redact_url(location)}': its host starts with '-' "
            "(ssh would read it as an option)"
        )
        if remote:
            error.exit_code = 1
        raise error
