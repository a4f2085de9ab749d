"""Talking to remote repositories: which strings are URLs, credentials, clear errors.

Shared by the push (:mod:`gto_dulwich.remote.push`) and the remote reads
(:mod:`gto_dulwich.remote.reader`).  Every transport is dulwich's own client, so no git
binary is needed: ``file://`` runs in-process, ``http(s)://`` uses urllib3,
``git://`` plain TCP, and ``ssh://`` / ``user@host:path`` the ``ssh`` client.

Credentials for http(s) come from the URL itself or from environment variables
(:data:`TOKEN_ENV`, :data:`USERNAME_ENV` + :data:`PASSWORD_ENV`); the tokens CI
systems set (``GITHUB_TOKEN``, ``CI_JOB_TOKEN``) are used only when
:data:`CI_TOKEN_ENV` opts in.  They are never written to disk, and every
message that leaves this module has them masked.  dulwich has no support for
git credential helpers, so ``credential.helper`` is not consulted.

``dulwich.client`` is imported inside the functions: it pulls in urllib3 and
is not needed by the commands that only read a local repository.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from gto_dulwich.errors import RemoteError
from gto_dulwich.remote import SCHEME, SCP_LIKE, WINDOWS_DRIVE

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from dulwich.client import GitClient
    from dulwich.config import Config

    from gto_dulwich.remote.guard import Deadline
    from gto_dulwich.settings import Settings

TOKEN_ENV = "GTO_DULWICH_TOKEN"
USERNAME_ENV = "GTO_DULWICH_USERNAME"
PASSWORD_ENV = "GTO_DULWICH_PASSWORD"
CI_TOKEN_ENV = "GTO_DULWICH_CI_TOKEN"

#: Usernames the CI systems' own tokens go with, in the order they are tried.
CI_TOKENS = (("GITHUB_TOKEN", "x-access-token"), ("CI_JOB_TOKEN", "gitlab-ci-token"))

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, safe to print."""
    return _USERINFO.sub(r"\g<scheme>", url)


def is_local(shown: str) -> bool:
    """A ``file://`` URL or a plain path (not ``host:path``)."""
    if shown.startswith("file:") or WINDOWS_DRIVE.match(shown):
        return True
    return "://" not in shown and not SCP_LIKE.match(shown)


# -- credentials ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for http(s), and the variables they came from."""

    username: str
    password: str
    source: str

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def credentials_from_env(
    url: str, environ: Mapping[str, str] | Settings | None = None
) -> Credentials | None:
    """Credentials for an http(s) ``url`` from the environment, or None.

    A URL that carries its own ``user:password@`` is left alone.  Order:
    :data:`TOKEN_ENV` (with :data:`USERNAME_ENV` or ``x-access-token``), then
    :data:`USERNAME_ENV` + :data:`PASSWORD_ENV`, then, only when
    :data:`CI_TOKEN_ENV` is true, ``GITHUB_TOKEN`` or ``CI_JOB_TOKEN``.
    """
    from gto_dulwich import settings

    record = settings.of(environ)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return None
    username = record.username or None
    if record.token:
        return Credentials(username or "x-access-token", record.token, TOKEN_ENV)
    if record.password:
        return Credentials(
            username or "x-access-token", record.password, f"{USERNAME_ENV}/{PASSWORD_ENV}"
        )
    if record.ci_token:
        for variable, ci_username in CI_TOKENS:
            if record.ci_environ.get(variable):
                return Credentials(username or ci_username, record.ci_environ[variable], variable)
    return None


# -- connections -----------------------------------------------------------------


@dataclass
class Connection:
    """A dulwich client for one remote, what may be shown of its URL, and what to mask."""

    client: GitClient
    path: str
    shown: str
    secrets: tuple[str, ...]
    credentials: Credentials | None
    url_has_credentials: bool
    clock: Deadline

    def guard(self, action: str) -> AbstractContextManager[None]:
        """Network work that must end by the command's deadline (see :mod:`.guard`)."""
        from gto_dulwich.remote.guard import guard

        return guard(self.clock, self.shown, action)

    def scrub(self, message: str) -> str:
        """``message`` with the URL's credentials and every password masked."""
        return scrub(message, self.secrets)

    def explain(self, exc: BaseException, action: str) -> str | None:
        """One masked line for a transport failure, or None for a bug of ours."""
        message = explain(exc, self.shown, action, self)
        return None if message is None else self.scrub(message)

    def close(self) -> None:
        """Release the client's connections (urllib3 keeps a pool that ``close`` leaves open)."""
        self.client.close()
        pool = getattr(self.client, "pool_manager", None)
        for response in getattr(pool, "_gto_responses", ()):
            response.close()
        clear = getattr(pool, "clear", None)
        if callable(clear):
            clear()


class _ExpectedNotices(logging.Filter):
    """Drop dulwich's notice that a server ignores object filters: asking is only an
    optimisation here, and everything still works (the server just sends more)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "object filtering not recognized" not in record.getMessage()


_NOTICES = _ExpectedNotices()


def connect(
    url: str,
    *,
    operation: str,
    config: Config | None = None,
    username: str | None = None,
    password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """A client for ``url``: explicit credentials win over the environment's."""
    from dulwich.client import get_transport_and_path
    from dulwich.config import ConfigDict, StackedConfig

    from gto_dulwich import settings
    from gto_dulwich.remote import guard as netguard

    logging.getLogger("dulwich.client").addFilter(_NOTICES)  # idempotent
    record = settings.of(environ)

    check_url(url)
    credentials: Credentials | None = None
    if username is not None or password is not None:
        credentials = Credentials(username or "", password or "", "the given credentials")
    else:
        credentials = credentials_from_env(url, record)
        if credentials is not None:
            username, password = credentials.username, credentials.password
    http = ConfigDict()
    http.set((b"http",), b"timeout", str(record.timeout).encode("ascii"))
    backends = [http, *(config.backends if isinstance(config, StackedConfig) else ())]
    if config is not None and not isinstance(config, StackedConfig):
        backends.append(config)
    client, path = get_transport_and_path(
        url,
        config=StackedConfig(backends),
        operation=operation,
        username=username,
        password=password,
    )
    _track_responses(client)
    shown = redact_url(url)
    clock = netguard.deadline(record)
    netguard.instrument(client, clock, shown)
    return Connection(
        client=client,
        path=path,
        shown=shown,
        secrets=secrets_in(url, credentials.password if credentials else None),
        credentials=credentials,
        url_has_credentials=shown != url,
        clock=clock,
    )


#: Schemes dulwich speaks; anything else would be taken for an ssh ``host:path``.
SCHEMES = frozenset({"http", "https", "git", "ssh", "git+ssh", "ssh+git", "file"})


def check_url(url: str) -> None:
    """Refuse a ``scheme://`` URL dulwich would misread (bad port, unknown scheme, no host)
    in one line: it falls back to ssh for those, running ``ssh`` with the scheme as host."""
    if not SCHEME.match(url):
        return
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range or not a number
    except ValueError as exc:
        raise RemoteError(f"invalid URL {shown}: {text(exc)}", url=shown) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RemoteError(
            f"unsupported URL {shown}: use https://, http://, ssh://, git:// or file://",
            url=shown,
        )
    if scheme != "file" and not parts.hostname:
        raise RemoteError(f"invalid URL {shown}: no host", url=shown)


def _track_responses(client: GitClient) -> None:
    """Remember every HTTP response the client opens, so that ``close`` can close them.

    dulwich raises ``HTTPUnauthorized`` / ``NotGitRepository`` without closing
    the response it got, which leaves its socket to the garbage collector.
    """
    pool = getattr(client, "pool_manager", None)
    request = getattr(pool, "request", None)
    if pool is None or not callable(request):
        return
    responses: list[Any] = []

    def tracked(*args: Any, **kwargs: Any) -> Any:
        response = request(*args, **kwargs)
        responses.append(response)
        return response

    setattr(pool, "request", tracked)  # noqa: B010 - an instance attribute, on purpose
    setattr(pool, "_gto_responses", responses)  # noqa: B010


# -- errors ------------------------------------------------------------------


def auth_hint() -> str:
    return (
        f"set {TOKEN_ENV} (or {USERNAME_ENV} and {PASSWORD_ENV}); in CI, "
        f"{CI_TOKEN_ENV}=1 uses GITHUB_TOKEN or CI_JOB_TOKEN"
    )


def explain(
    exc: BaseException, shown: str, action: str, connection: Connection | None = None
) -> str | None:
    """One line for a failure raised by dulwich's client, or None for a bug of ours.

    ``action`` completes "cannot ... <url>": ``"push to"``, ``"read"``.
    """
    from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
    from dulwich.errors import (
        ApplyDeltaError,
        ChecksumMismatch,
        GitProtocolError,
        HangupException,
        NotGitRepository,
        ObjectFormatException,
        SendPackError,
    )
    from dulwich.file import FileLocked

    given = connection is not None and (
        connection.credentials is not None or connection.url_has_credentials
    )
    if isinstance(exc, HTTPUnauthorized) or (
        isinstance(exc, GitProtocolError) and "http resp 403" in str(exc)
    ):
        if not given:
            return f"authentication failed for {shown}; {auth_hint()}"
        assert connection is not None
        source = connection.credentials.source if connection.credentials else "the URL"
        return f"authentication failed for {shown}: the server rejected the credentials ({source})"
    if isinstance(exc, HTTPProxyUnauthorized):
        return f"proxy authentication failed for {shown}"
    if isinstance(exc, NotGitRepository):
        return f"cannot {action} {shown}: no git repository there"
    if isinstance(exc, FileLocked):
        return (
            f"cannot {action} {shown}: a ref is locked by another process "
            "(another push is running?); try again"
        )
    if isinstance(exc, SendPackError):
        return f"remote {shown} rejected the push: {text(exc.args[0] if exc.args else exc)}"
    if isinstance(exc, HangupException):
        detail = text(exc)
        return f"cannot {action} {shown}: the remote hung up{f' ({detail})' if detail else ''}"
    if isinstance(exc, GitProtocolError):
        reason = _network_reason(exc)
        if reason is not None:
            return f"cannot reach {shown}: {reason}"
        return f"cannot {action} {shown}: {text(exc)}"
    if isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and not is_local(shown)
    ):
        return f"cannot reach {shown}: {_os_reason(exc)}"
    if isinstance(exc, OSError):
        return f"cannot {action} {shown}: {_os_reason(exc)}"
    if isinstance(exc, AssertionError):
        # porcelain-era client checks raise bare asserts when a remote ref differs.
        return f"cannot {action} {shown}: dulwich refused the update ({text(exc) or 'assertion'})"
    if isinstance(exc, KeyError) and exc.args and _SHA.fullmatch(text(exc.args[0])):
        # The object store's way of saying an object is absent (broken/shallow repo).
        where = "locally" if action == "push to" else "on the remote"
        return f"cannot {action} {shown}: object {text(exc.args[0])} is missing {where}"
    if isinstance(
        exc,
        ValueError
        | LookupError
        | EOFError
        | zlib.error
        | struct.error
        | ChecksumMismatch
        | ApplyDeltaError
        | ObjectFormatException,
    ):
        # dulwich parses what the server sent with plain unpacking and int(): a malformed
        # ref listing, pkt-line or pack surfaces as one of these.
        detail = text(exc) or type(exc).__name__
        return f"cannot {action} {shown}: the server's answer is not valid git ({detail})"
    return None


def _network_reason(exc: BaseException) -> str | None:
    """The root cause of a transport failure (urllib3 wrapped in GitProtocolError), if any."""
    try:
        import urllib3.exceptions
    except ImportError:  # pragma: no cover - urllib3 is a dulwich dependency
        return None
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        nxt = getattr(current, "reason", None)
        current = (
            nxt if isinstance(nxt, BaseException) else current.__cause__ or current.__context__
        )
    if not any(isinstance(e, urllib3.exceptions.HTTPError | OSError) for e in chain[1:]):
        return None
    for item in reversed(chain):
        if isinstance(item, OSError) and item.strerror:
            return item.strerror
    for item in chain:
        if isinstance(item, urllib3.exceptions.TimeoutError):
            return "timed out"
    return text(chain[-1]) or type(chain[-1]).__name__


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return text(exc) or type(exc).__name__


def text(value: object) -> str:
    """``value`` as one line of text (bytes decoded, whitespace collapsed)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return " ".join(str(value).split())


def scrub(message: str, secrets: Sequence[str]) -> str:
    message = redact_url(message)
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


def secrets_in(url: str, password: str | None) -> tuple[str, ...]:
    found = [password] if password else []
    try:
        in_url = urlsplit(url).password
    except ValueError:
        in_url = None
    if in_url:
        found.extend({in_url, unquote(in_url)})
    # Longest first, so that a secret containing another is masked whole.
    return tuple(sorted(found, key=len, reverse=True))
