"""Bounds on network work: one deadline per command, capped answers, no silent retries.

A server can be silent, slow (one byte a second), endless (a ref listing or a
progress stream that never stops), or not a git server at all (a captive
portal answering ``200`` with HTML).  dulwich's clients bound none of this: a
socket timeout limits one read, urllib3 retries a silent server three times,
and ``git://`` sockets have no timeout at all.  So every client we create is
instrumented here:

* **one deadline** (:data:`TIMEOUT_ENV` seconds) for all
  the network work of a command: the CLI opens one :func:`command` scope and
  every connection made inside it shares its clock, which starts at the first
  network operation.  In the main thread (the CLI's) a timer signal interrupts
  whatever read is blocked when the time is up; in any thread each read and
  each HTTP request is bounded by the time left;
* **capped answers**: a ref listing (or any answer that is not a pack) may take
  :data:`MAX_LISTING_ENV` bytes, a pack (its progress messages included)
  :data:`MAX_PACK_ENV` bytes;
* **no HTTP retries** (a retried silent server costs the timeout four times)
  and no "dumb" HTTP: a smart git server names its content type, anything else
  is refused in one line before its body is read.

Failures are :class:`~gto_dulwich.remote.connection.RemoteError` lines naming the URL.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gto_dulwich import settings
from gto_dulwich.errors import GTOError, RemoteError

#: Their defaults are in :data:`gto_dulwich.settings.VARIABLES`: a listing of 64 MiB is about
#: 400,000 tags with their peeled lines, far beyond any registry and small in memory.
#: (Named here, not imported: every command enters :func:`command`, and a local one should
#: not load the transport code to do so.)
TIMEOUT_ENV = "GTO_DULWICH_TIMEOUT"
MAX_LISTING_ENV = "GTO_DULWICH_MAX_LISTING_BYTES"
MAX_PACK_ENV = "GTO_DULWICH_MAX_PACK_BYTES"

#: The pkt-line a fetch sends last: what follows from the server is the pack.
_DONE = b"0009done\n"


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a command may spend on the network, and how much it may receive."""

    seconds: float
    listing_bytes: int
    pack_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | settings.Settings | None = None) -> Limits:
        """The limits of the current settings (or of ``environ``'s)."""
        record = settings.of(environ)
        return cls(record.timeout, record.max_listing_bytes, record.max_pack_bytes)


class Deadline:
    """A clock that starts at the first network operation and ends ``limits.seconds`` later."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._ends: float | None = None

    def start(self) -> None:
        if self._ends is None:
            self._ends = time.monotonic() + self.limits.seconds

    def remaining(self) -> float:
        self.start()
        assert self._ends is not None
        return self._ends - time.monotonic()

    def expired(self, shown: str, action: str) -> RemoteError:
        return RemoteError(
            f"cannot {action} {shown}: no complete answer within {self.limits.seconds:g} s "
            f"({TIMEOUT_ENV})",
            url=shown,
        )


#: Inside :func:`command`: a holder for that command's deadline, made on first use.
_scope: ContextVar[list[Deadline] | None] = ContextVar("gto_dulwich_deadline", default=None)


@contextlib.contextmanager
def command() -> Iterator[None]:
    """One deadline for every connection a command makes (the CLI wraps each command)."""
    token = _scope.set([])
    try:
        yield
    except _Expired:  # a timer that fired in the instant a guard was closing
        raise RemoteError(
            f"no complete answer within the network deadline ({TIMEOUT_ENV})"
        ) from None
    finally:
        _scope.reset(token)


def deadline(environ: Mapping[str, str] | settings.Settings | None = None) -> Deadline:
    """The current command's deadline, or a fresh one (per connection) outside a command."""
    holder = _scope.get()
    if holder is None:
        return Deadline(Limits.from_env(environ))
    if not holder:
        holder.append(Deadline(Limits.from_env(environ)))
    return holder[0]


# -- the timer ----------------------------------------------------------------------


class _Expired(BaseException):
    """Raised by the timer signal; a BaseException so no ``except Exception`` swallows it."""


class _Timer:
    armed = False


def _on_alarm(_signum: int, _frame: object) -> None:
    if _Timer.armed:
        _Timer.armed = False  # once: a guard that is closing must not be interrupted again
        raise _Expired


@contextlib.contextmanager
def guard(clock: Deadline, shown: str, action: str) -> Iterator[None]:
    """Run network work that must end by ``clock``'s deadline.

    In the main thread a one-shot ``SIGALRM`` interrupts a blocked read when the
    time is up; elsewhere reads and requests are bounded by the time left.  A
    transport failure after the deadline is reported as the deadline.
    """
    remaining = clock.remaining()
    if remaining <= 0:
        raise clock.expired(shown, action)
    use_timer = (
        not _Timer.armed
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not use_timer:
        try:
            yield
        except Exception as exc:
            if clock.remaining() <= 0 and not isinstance(exc, GTOError):
                raise clock.expired(shown, action) from None
            raise
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    _Timer.armed = True
    signal.setitimer(signal.ITIMER_REAL, remaining)
    try:
        try:
            yield
        finally:  # disarmed first, so the handlers below are never interrupted
            _Timer.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
    except _Expired:
        raise clock.expired(shown, action) from None
    except Exception as exc:
        if clock.remaining() <= 0 and not isinstance(exc, GTOError):
            raise clock.expired(shown, action) from None
        raise


# -- instrumenting dulwich's clients ------------------------------------------------------


class _Budget:
    """Bytes received on one connection (or HTTP answer), against the cap that applies."""

    def __init__(self, clock: Deadline, shown: str, *, pack: bool = False) -> None:
        self.clock = clock
        self.shown = shown
        self.pack = pack
        self.received = 0

    def count(self, data: bytes) -> None:
        self.received += len(data)
        limits = self.clock.limits
        cap, name = (
            (limits.pack_bytes, MAX_PACK_ENV)
            if self.pack
            else (limits.listing_bytes, MAX_LISTING_ENV)
        )
        if self.received > cap:
            what = "pack" if self.pack else "ref listing"
            raise RemoteError(
                f"cannot read {self.shown}: its {what} exceeds {cap} bytes ({name})",
                url=self.shown,
            )

    def check_time(self) -> None:
        if self.clock.remaining() <= 0:
            raise self.clock.expired(self.shown, "read")

    def reader(self, read: Callable[..., bytes], sock: Any = None) -> Callable[..., bytes]:
        def bounded(*args: Any, **kwargs: Any) -> bytes:
            self.check_time()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(max(0.001, self.clock.remaining()))
            data = read(*args, **kwargs)
            if data:
                self.count(data)
            return data

        return bounded


def instrument(client: Any, clock: Deadline, shown: str) -> None:
    """Bound ``client`` (one of dulwich's) by ``clock`` and its limits."""
    from dulwich.client import AbstractHttpGitClient, TraditionalGitClient

    if isinstance(client, AbstractHttpGitClient):
        _instrument_http(client, clock, shown)
    elif isinstance(client, TraditionalGitClient):
        _instrument_stream(client, clock, shown)


def _instrument_stream(client: Any, clock: Deadline, shown: str) -> None:
    """git:// and ssh: one conversation per connection; what follows ``done`` is the pack."""
    connect = client._connect

    def bounded_connect(*args: Any, **kwargs: Any) -> Any:
        proto, can_read, stderr = connect(*args, **kwargs)
        budget = _Budget(clock, shown)
        read1 = getattr(getattr(proto.read, "__self__", None), "read1", None)
        read = budget.reader(read1 if callable(read1) else proto.read, _socket_of(proto.read))
        write, close, shutdown_write = proto.write, proto.close, proto.shutdown_write
        # dulwich writes each pkt-line (each of 25,000 wants) as one send: they are held
        # here and sent together before anything is read, and before the connection is
        # half-closed or closed.
        pending: list[bytes] = []
        held = 0

        def send() -> None:
            nonlocal held
            if pending:
                data = b"".join(pending)
                pending.clear()
                held = 0
                write(data)

        def closing_read(*read_args: Any) -> bytes:
            # dulwich leaves the connection open when a read fails: close it here.
            try:
                send()
                return read(*read_args)
            except BaseException:
                with contextlib.suppress(Exception):
                    proto.close()
                raise

        def watched_write(data: bytes) -> None:
            nonlocal held
            if _DONE in data:
                budget.pack, budget.received = True, 0
            pending.append(data)
            held += len(data)
            if held >= _SEND:
                send()

        def sending_shutdown_write() -> None:
            send()
            shutdown_write()

        def sending_close() -> None:
            try:
                with contextlib.suppress(Exception):
                    send()
            finally:
                pending.clear()
                close()

        if callable(read1):
            refilled = _Refilled(closing_read)
            proto.read = refilled.read
            proto.read_pkt_line = _pkt_line_reader(proto, refilled)
        else:
            proto.read = closing_read
        proto.write = watched_write
        proto.shutdown_write = sending_shutdown_write
        proto.close = sending_close
        return proto, can_read, stderr

    setattr(client, "_connect", bounded_connect)  # noqa: B010 - on this instance only


#: How much one receive may bring into a :class:`_Refilled` buffer, and how much is
#: written before it is sent without waiting for a read.
_RECEIVE = _SEND = 1 << 16


class _Refilled:
    """``read(size)`` served from one buffer that ``receive`` (a bounded ``read1``: what
    one receive brings) refills.

    dulwich reads a pkt-line as two reads (its length, then its content), and a git
    server sends a fetched pack as thousands of small side-band lines: checking the
    deadline, the byte cap and the socket's timeout on each read cost more than the
    reads.  Here they are checked on each receive, which is where time passes and bytes
    arrive; a read that the buffer holds never waits.
    """

    def __init__(self, receive: Callable[[int], bytes]) -> None:
        self._receive = receive
        self._buffer = b""
        self._at = 0

    def read(self, size: int = -1) -> bytes:
        at = self._at
        end = at + size
        if size >= 0 and end <= len(self._buffer):
            self._at = end
            return self._buffer[at:end]
        pieces = [self._buffer[at:]]
        held = len(pieces[0])
        self._buffer, self._at = b"", 0
        while size < 0 or held < size:
            data = self._receive(_RECEIVE)
            if not data:
                break  # the end of the stream: what there is, as a plain read returns
            pieces.append(data)
            held += len(data)
        joined = b"".join(pieces)
        if size < 0 or held <= size:
            return joined
        self._buffer, self._at = joined, size
        return joined[:size]


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _pkt_line_reader(proto: Any, refilled: _Refilled) -> Callable[[], bytes | None]:
    """``proto.read_pkt_line`` taking a pkt-line the buffer holds whole in one step (a
    listing's 25,000 refs, a pack's thousands of side-band lines); anything else (a line
    that was unread, one cut by the buffer's end, a bad length) is dulwich's own."""
    from dulwich.protocol import Protocol

    def read_pkt_line() -> bytes | None:
        buffer, at = refilled._buffer, refilled._at
        head = buffer[at : at + 4]
        if proto._readahead is None and len(head) == 4 and _HEX_DIGITS.issuperset(head):
            size = int(head, 16)
            end = at + size
            if size >= 4 and end <= len(buffer):
                refilled._at = end
                if proto.report_activity:
                    proto.report_activity(size, "read")
                return buffer[at + 4 : end]
            if size in (0, 1):  # flush-pkt, delim-pkt
                refilled._at = at + 4
                if proto.report_activity:
                    proto.report_activity(4, "read")
                return None
        return Protocol.read_pkt_line(proto)

    return read_pkt_line


def _socket_of(read: Any) -> Any:
    """The socket behind a ``socket.makefile`` reader (git://), or None (ssh pipes)."""
    raw = getattr(getattr(read, "__self__", None), "raw", None)
    return getattr(raw, "_sock", None)


def _instrument_http(client: Any, clock: Deadline, shown: str) -> None:
    """One budget per HTTP answer; requests never retried and bounded by the time left."""
    import urllib3

    request = client._http_request
    pool = getattr(client, "pool_manager", None)
    pool_request = getattr(pool, "request", None)
    if pool is not None and callable(pool_request):

        def bounded_pool_request(*args: Any, **kwargs: Any) -> Any:
            remaining = clock.remaining()
            if remaining <= 0:
                raise clock.expired(shown, "read")
            kwargs["timeout"] = urllib3.Timeout(connect=remaining, read=remaining)
            # Redirects are followed; a failed connect or read is not tried again.
            kwargs["retries"] = urllib3.Retry(
                total=5, connect=0, read=0, status=0, other=0, redirect=5
            )
            return pool_request(*args, **kwargs)

        setattr(pool, "request", bounded_pool_request)  # noqa: B010

    def bounded_request(
        url: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        raise_for_status: bool = True,
    ) -> tuple[Any, Callable[[int], bytes]]:
        resp, read = request(url, headers, data, raise_for_status)
        if "/info/refs" in url and getattr(resp, "status", 200) == 200:
            content_type = str(getattr(resp, "content_type", None) or "")
            if not content_type.startswith("application/x-git-"):
                with contextlib.suppress(Exception):
                    resp.close()
                kind = content_type.split(";", maxsplit=1)[0].strip() or "no content type"
                raise RemoteError(
                    f"cannot read {shown}: the server answered with {kind}, not git "
                    "(a login page or captive portal?)",
                    url=shown,
                )
        pack = isinstance(data, bytes) and _DONE in data
        budget = _Budget(clock, shown, pack=pack)
        sock = getattr(getattr(resp, "connection", None), "sock", None)
        return resp, budget.reader(read, sock)

    setattr(client, "_http_request", bounded_request)  # noqa: B010
