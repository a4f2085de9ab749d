"""Settings from outside: every environment variable gto_dulwich reads, in one record.

:data:`VARIABLES` names each variable, its default and what it does (a test holds every
``GTO_DULWICH_*`` name in the package to this table).  :class:`Settings` is the one record
of them: built once by :meth:`Settings.from_environ` (the CLI builds one per invocation,
``--no-cache`` included) and made current with :func:`using`; every module reads
:func:`current` and never ``os.environ``.  A library caller that made none current gets one
built from ``os.environ`` when it reads a setting, so it sees the environment as it is then.

A value is checked when it is read, not when the record is built, so a bad
``GTO_DULWICH_TIMEOUT`` fails a command that goes on the network and no other.  Bad values
make one line naming the variable (:class:`BadSetting`, exit 1): a number of seconds must be
finite (``inf`` or ``nan`` would wait forever) and not negative; a number of bytes positive.

Variables of others are kept as read-only snapshots on the record, for the module that reads
them: the CI provider's (``GITHUB_*``, ``GITLAB_*``, ``CI_*``: ci.py and the CI tokens),
git's committer (``GIT_COMMITTER_*``, ``EMAIL``: identity.py), GTO's own config keys
(``GTO_*``, parsed by :mod:`gto_dulwich.config`) and boto3's (``AWS_*``: storage.py keys its
S3 client by them).  ``GTO_DULWICH_FETCH_TAGS`` is read by Click, as the environment
variable of ``check-ref --fetch-tags``.

A host name must not look like a command-line option (``ssh`` would read
``-oProxyCommand=...`` as one): :func:`check_host`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import NamedTuple, ParamSpec, TypeVar

from gto_dulwich.errors import BadLocation, BadSetting

__all__ = [
    "VARIABLES",
    "BadLocation",
    "BadSetting",
    "Settings",
    "check_host",
    "current",
    "of",
    "pinned",
    "using",
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

#: The field of :class:`Settings` each variable fills (FETCH_TAGS is Click's: see above).
FIELDS: dict[str, str] = {
    "GTO_EMOJIS": "emojis",
    "GTO_DULWICH_NO_CACHE": "no_cache",
    "GTO_DULWICH_LOCK_TIMEOUT": "lock_timeout_text",
    "GTO_DULWICH_TIMEOUT": "timeout_text",
    "GTO_DULWICH_MAX_LISTING_BYTES": "max_listing_bytes_text",
    "GTO_DULWICH_MAX_PACK_BYTES": "max_pack_bytes_text",
    "GTO_DULWICH_YAML_MAX_BYTES": "yaml_max_bytes_text",
    "GTO_DULWICH_TOKEN": "token",
    "GTO_DULWICH_USERNAME": "username",
    "GTO_DULWICH_PASSWORD": "password",
    "GTO_DULWICH_CI_TOKEN": "ci_token",
    "GTO_DULWICH_STORAGE_USERNAME": "storage_username",
    "GTO_DULWICH_STORAGE_PASSWORD": "storage_password",
}

_FALSE = ("0", "false", "no", "off", "f", "n")
_NO_CACHE_FALSE = ("", "0", "false", "no", "off")
_CI_TOKEN_TRUE = ("1", "true", "yes", "on")

_CI_PREFIXES = ("GITHUB_", "GITLAB_", "CI_")
_GIT_NAMES = ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "EMAIL")

_NOTHING: Mapping[str, str] = MappingProxyType({})
# Left out of a record's repr: the secrets, and the snapshots of other tools' variables.
_HIDDEN = frozenset(
    {"token", "password", "storage_password"}
    | {"ci_environ", "git_environ", "config_environ", "aws_environ"}
)


def _config_key(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("GTO_") and not upper.startswith("GTO_DULWICH_")


class Settings(NamedTuple):
    """Every setting of one command.  A ``*_text`` field is the variable as given (stripped);
    the property of the same name without ``_text`` checks and converts it when read.

    A named tuple (as immutable as a frozen dataclass, and cheaper to define: every command
    imports this module); its ``repr`` leaves out the secrets and the snapshots.
    """

    emojis: bool = True
    no_cache: bool = False
    lock_timeout_text: str = ""
    timeout_text: str = ""
    max_listing_bytes_text: str = ""
    max_pack_bytes_text: str = ""
    yaml_max_bytes_text: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    ci_token: bool = False
    storage_username: str = ""
    storage_password: str = ""
    #: ``GITHUB_*``, ``GITLAB_*`` and ``CI_*``: the CI job's ref, output files and token.
    ci_environ: Mapping[str, str] = _NOTHING
    #: ``GIT_COMMITTER_NAME``/``_EMAIL``/``_DATE`` and ``EMAIL``: who writes a tag, and when.
    git_environ: Mapping[str, str] = _NOTHING
    #: ``GTO_*`` but ``GTO_DULWICH_*`` (any case): GTO's ``.gto`` keys, which
    #: :mod:`gto_dulwich.config` parses.
    config_environ: Mapping[str, str] = _NOTHING
    #: ``AWS_*``: what boto3 reads for S3.
    aws_environ: Mapping[str, str] = _NOTHING

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name not in _HIDDEN
        )
        return f"Settings({shown})"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, no_cache: bool = False) -> Settings:
        """The settings ``environ`` gives; ``no_cache`` is the CLI's ``--no-cache``.
        Nothing is checked here: a bad value fails only the command that reads it."""

        def text(name: str) -> str:
            return environ.get(name, "").strip()

        ci, config, aws = {}, {}, {}
        for name, value in environ.items():  # one pass: os.environ decodes every item
            if name.startswith(_CI_PREFIXES):
                ci[name] = value
            elif name.startswith("AWS_"):
                aws[name] = value
            elif _config_key(name):
                config[name] = value

        return cls(
            emojis=environ.get("GTO_EMOJIS", "true").strip().lower() not in _FALSE,
            no_cache=no_cache or text("GTO_DULWICH_NO_CACHE").lower() not in _NO_CACHE_FALSE,
            lock_timeout_text=text("GTO_DULWICH_LOCK_TIMEOUT"),
            timeout_text=text("GTO_DULWICH_TIMEOUT"),
            max_listing_bytes_text=text("GTO_DULWICH_MAX_LISTING_BYTES"),
            max_pack_bytes_text=text("GTO_DULWICH_MAX_PACK_BYTES"),
            yaml_max_bytes_text=text("GTO_DULWICH_YAML_MAX_BYTES"),
            token=environ.get("GTO_DULWICH_TOKEN", ""),
            username=environ.get("GTO_DULWICH_USERNAME", ""),
            password=environ.get("GTO_DULWICH_PASSWORD", ""),
            ci_token=text("GTO_DULWICH_CI_TOKEN").lower() in _CI_TOKEN_TRUE,
            storage_username=environ.get("GTO_DULWICH_STORAGE_USERNAME", ""),
            storage_password=environ.get("GTO_DULWICH_STORAGE_PASSWORD", ""),
            ci_environ=MappingProxyType(ci),
            git_environ=MappingProxyType({k: environ[k] for k in _GIT_NAMES if k in environ}),
            config_environ=MappingProxyType(config),
            aws_environ=MappingProxyType(aws),
        )

    @classmethod
    def from_process(cls, *, no_cache: bool = False) -> Settings:
        """The settings of this process's environment (``os.environ``, read here only)."""
        return cls.from_environ(os.environ, no_cache=no_cache)

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for locks other writers hold (``GTO_DULWICH_LOCK_TIMEOUT``)."""
        return _seconds("GTO_DULWICH_LOCK_TIMEOUT", self.lock_timeout_text, allow_zero=True)

    @property
    def timeout(self) -> float:
        """Seconds all of a command's network work may take (``GTO_DULWICH_TIMEOUT``)."""
        return _seconds("GTO_DULWICH_TIMEOUT", self.timeout_text)

    @property
    def max_listing_bytes(self) -> int:
        """Bytes a remote's ref listing may take (``GTO_DULWICH_MAX_LISTING_BYTES``)."""
        return _limit("GTO_DULWICH_MAX_LISTING_BYTES", self.max_listing_bytes_text, network=True)

    @property
    def max_pack_bytes(self) -> int:
        """Bytes a fetched pack may take (``GTO_DULWICH_MAX_PACK_BYTES``)."""
        return _limit("GTO_DULWICH_MAX_PACK_BYTES", self.max_pack_bytes_text, network=True)

    @property
    def yaml_max_bytes(self) -> int:
        """Bytes a YAML or JSON document may take (``GTO_DULWICH_YAML_MAX_BYTES``)."""
        return _limit("GTO_DULWICH_YAML_MAX_BYTES", self.yaml_max_bytes_text)


def _seconds(name: str, raw: str, *, allow_zero: bool = False) -> float:
    if not raw:
        return float(VARIABLES[name][0])
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        floor = "0 or more" if allow_zero else "more than 0"
        raise BadSetting(name, raw, f"a finite number of seconds, {floor}")
    return value


def _limit(name: str, raw: str, *, network: bool = False) -> int:
    """A positive number of bytes (the table's default when unset).  The network limits
    keep the wording their errors always had."""
    try:
        value = int(raw or VARIABLES[name][0])
    except ValueError:
        value = 0
    if value <= 0:
        message = f"{name} must be a positive whole number of bytes, not '{raw}'"
        raise BadSetting(
            name, raw, "a positive number of bytes", message=message if network else ""
        )
    return value


# The record of the command being run: set by the CLI for the span of one invocation.
_CURRENT: ContextVar[Settings | None] = ContextVar("gto_dulwich_settings", default=None)


def current() -> Settings:
    """The settings of the command being run; outside one, built from ``os.environ`` now."""
    record = _CURRENT.get()
    return Settings.from_process() if record is None else record


def of(environ: Mapping[str, str] | Settings | None) -> Settings:
    """``environ`` itself when it is a record; the settings a mapping gives; the current
    ones when it is None (for the functions that take an environment: tests and library
    callers pass one, and a function that reads several settings passes its record on)."""
    if environ is None:
        return current()
    return environ if isinstance(environ, Settings) else Settings.from_environ(environ)


@contextlib.contextmanager
def using(record: Settings) -> Iterator[Settings]:
    """Make ``record`` the current settings for the block, and put back the previous after."""
    token = _CURRENT.set(record)
    try:
        yield record
    finally:
        _CURRENT.reset(token)


P = ParamSpec("P")
R = TypeVar("R")


def pinned(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` reads one record for the span of a call: the current one, or (a library
    call) one built from ``os.environ`` when it is called.  The :mod:`gto_dulwich.api`
    functions are pinned, so a library call reads the environment once, as the CLI does."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if _CURRENT.get() is not None:
            return function(*args, **kwargs)
        with using(Settings.from_process()):
            return function(*args, **kwargs)

    return call


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
