"""Hostile and broken servers for tests: each speaks just enough HTTP or git:// to hurt.

Every server listens on 127.0.0.1 on an ephemeral port, is started by a test
through a context manager and stops when it exits: the accept loop and every
connection thread poll a stop event, never block longer than ``POLL``
seconds, and give up after ``lifetime`` seconds even if nobody stops them.
Nothing here needs git.  The behaviours are generic, so any client of ours
(remote reads, pushes, ``--fetch-tags``, downloads) can be pointed at them:

* :func:`captive_portal` - every request gets ``200 OK`` and an HTML page;
* :func:`silent_http` / :func:`silent_git` - accept, read, never answer;
* :func:`drip_http` - a valid ref advertisement sent one byte at a time;
* :func:`endless_refs_http` / :func:`endless_refs_git` - a ref advertisement
  that never ends;
* :func:`endless_progress_http` - a valid advertisement, then sideband
  progress messages forever in answer to the fetch;
* :func:`dropped_http` - promises a long answer and hangs up half-way;
* :func:`garbage_http` / :func:`garbage_git` - bytes that are not pkt-lines;
* :func:`bad_refs_http` - well-framed ref lines without shas;
* :func:`bad_pack_http` - a valid listing, then a pack that is not one;
* :func:`redirect_loop_http` - every request redirected to itself.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

#: The longest any wait inside a server takes, so that stopping is prompt.
POLL = 0.05
#: A sha that no repository holds; advertised refs point at it.
FAKE_SHA = b"1" * 40

Behaviour = Callable[[socket.socket, "Server"], None]


@dataclass
class Server:
    """A running hostile server: its address and what it has seen."""

    host: str
    port: int
    stop: threading.Event
    deadline: float
    requests: list[bytes] = field(default_factory=list)
    bytes_sent: int = 0

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}/repo.git"

    @property
    def git_url(self) -> str:
        return f"git://{self.host}:{self.port}/repo.git"

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def send(self, conn: socket.socket, data: bytes) -> bool:
        """Send ``data`` unless stopped; False once the client has gone."""
        view = memoryview(data)
        while view and self.running():
            try:
                sent = conn.send(view)
            except (BlockingIOError, TimeoutError):
                continue
            except OSError:
                return False
            self.bytes_sent += sent
            view = view[sent:]
        return not view

    def idle(self, seconds: float) -> bool:
        """Wait (stop-aware); False when the server is stopping."""
        end = time.monotonic() + seconds
        while self.running() and time.monotonic() < end:
            self.stop.wait(min(POLL, max(0.0, end - time.monotonic())))
        return self.running()


@contextlib.contextmanager
def serve(behaviour: Behaviour, *, lifetime: float = 60.0) -> Iterator[Server]:
    """Run ``behaviour(connection, server)`` for every connection, in its own thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(POLL)
    server = Server(
        "127.0.0.1", listener.getsockname()[1], threading.Event(), time.monotonic() + lifetime
    )
    workers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(POLL)
            with contextlib.suppress(OSError):
                behaviour(conn, server)

    def accept() -> None:
        while server.running():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            worker = threading.Thread(target=handle, args=(conn,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, name=f"hostile-{server.port}", daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.stop.set()
        acceptor.join(timeout=5)
        for worker in workers:
            worker.join(timeout=5)
        listener.close()


# -- reading requests -------------------------------------------------------------


def read_request(conn: socket.socket, server: Server) -> bytes | None:
    """An HTTP request's head (and as much body as has arrived), or None if the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(conn, server)
        if not chunk:
            return None
        data += chunk
    with contextlib.suppress(OSError):  # take whatever body is already there
        conn.settimeout(POLL)
        more = _recv(conn, server, once=True)
        data += more or b""
    server.requests.append(data)
    return data


def _recv(conn: socket.socket, server: Server, *, once: bool = False) -> bytes | None:
    while server.running():
        try:
            return conn.recv(65536)
        except TimeoutError:
            if once:
                return b""
            continue
    return None


def pkt(data: bytes) -> bytes:
    """One pkt-line."""
    return b"%04x" % (len(data) + 4) + data


FLUSH = b"0000"


def advertisement(service: bytes, refs: dict[bytes, bytes]) -> bytes:
    """A smart-HTTP ``info/refs`` body (protocol v0) for ``refs``."""
    lines = [pkt(b"# service=" + service + b"\n"), FLUSH]
    caps = (
        b"\0multi_ack_detailed side-band-64k thin-pack ofs-delta shallow filter agent=hostile/1\n"
    )
    for i, (name, sha) in enumerate(refs.items()):
        lines.append(pkt(sha + b" " + name + (caps if i == 0 else b"\n")))
    lines.append(FLUSH)
    return b"".join(lines)


def _head(status: bytes, content_type: bytes, length: int | None = None) -> bytes:
    lines = [b"HTTP/1.1 " + status, b"Content-Type: " + content_type, b"Cache-Control: no-cache"]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _service(request: bytes) -> bytes:
    line = request.split(b"\r\n", 1)[0]
    return b"git-receive-pack" if b"receive-pack" in line else b"git-upload-pack"


ONE_TAG = {b"HEAD": FAKE_SHA, b"refs/heads/main": FAKE_SHA, b"refs/tags/rf@v1.0.0": FAKE_SHA}


# -- behaviours -----------------------------------------------------------------------


PORTAL = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome!</body></html>\n"


def captive_portal(conn: socket.socket, server: Server) -> None:
    """``200 OK`` with an HTML login page, whatever was asked."""
    while read_request(conn, server) is not None:
        server.send(conn, _head(b"200 OK", b"text/html; charset=utf-8", len(PORTAL)) + PORTAL)
        return


def silent_http(conn: socket.socket, server: Server) -> None:
    """Read the request, then say nothing until stopped."""
    if read_request(conn, server) is not None:
        server.idle(float("inf"))


def silent_git(conn: socket.socket, server: Server) -> None:
    """A git:// server that accepts and reads but never answers."""
    while server.running():
        data = _recv(conn, server)
        if not data:
            return
        server.requests.append(data)


def drip_http(conn: socket.socket, server: Server, *, interval: float = 1.0) -> None:
    """A valid advertisement (with a correct length), one byte every ``interval`` seconds."""
    request = read_request(conn, server)
    if request is None:
        return
    body = advertisement(_service(request), ONE_TAG)
    content_type = b"application/x-" + _service(request) + b"-advertisement"
    if not server.send(conn, _head(b"200 OK", content_type, len(body))):
        return
    for byte in body:
        if not server.send(conn, bytes([byte])) or not server.idle(interval):
            return


def endless_refs_http(conn: socket.socket, server: Server) -> None:
    """A smart advertisement that never ends (no length, one ref after another)."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    start = advertisement(service, ONE_TAG)[: -len(FLUSH)]
    content_type = b"application/x-" + service + b"-advertisement"
    if not server.send(conn, _head(b"200 OK", content_type) + start):
        return
    _endless_refs(conn, server)


def endless_refs_git(conn: socket.socket, server: Server) -> None:
    """A git:// server whose ref advertisement never ends."""
    request = _recv(conn, server)
    if not request:
        return
    server.requests.append(request)
    first = pkt(FAKE_SHA + b" HEAD\0side-band-64k ofs-delta agent=hostile/1\n")
    if server.send(conn, first):
        _endless_refs(conn, server)


def _endless_refs(conn: socket.socket, server: Server) -> None:
    """About 7 MB a second: a 2 MB cap is met at once, the default 64 MB not within the
    deadline tests' second (a client reading in big receives takes more than 64 MB/s)."""
    n = 0
    while True:
        time.sleep(0.005)
        batch = b"".join(
            pkt(FAKE_SHA + b" refs/tags/artifact-%d@v0.0.%d\n" % (n + i, i)) for i in range(512)
        )
        n += 512
        if not server.send(conn, batch):
            return


def endless_progress_http(conn: socket.socket, server: Server) -> None:
    """Advertise one tag; answer the fetch with sideband progress, forever."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    if request.startswith(b"GET"):
        body = advertisement(service, ONE_TAG)
        content_type = b"application/x-" + service + b"-advertisement"
        server.send(conn, _head(b"200 OK", content_type, len(body)) + body)
        return
    if not server.send(conn, _head(b"200 OK", b"application/x-" + service + b"-result")):
        return
    # The (empty) shallow section a depth-limited fetch expects, then the negotiation's end.
    if not server.send(conn, FLUSH + pkt(b"NAK\n")):
        return
    message = pkt(b"\x02Counting objects: still counting...\r" + b"." * 1000)
    while server.send(conn, message * 32):
        pass


def dropped_http(conn: socket.socket, server: Server) -> None:
    """Promise a long advertisement, send part of it, then hang up."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    body = advertisement(service, ONE_TAG)
    content_type = b"application/x-" + service + b"-advertisement"
    server.send(conn, _head(b"200 OK", content_type, len(body) + 10_000) + body[: len(body) // 2])
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def garbage_http(conn: socket.socket, server: Server) -> None:
    """Claims to be a smart git server, then sends bytes that are not pkt-lines."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    body = b"zzzz this is not a pkt-line \x00\xff\n" * 4
    content_type = b"application/x-" + service + b"-advertisement"
    server.send(conn, _head(b"200 OK", content_type, len(body)) + body)


def bad_refs_http(conn: socket.socket, server: Server) -> None:
    """A well-framed advertisement whose refs are nonsense (no sha, odd names)."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    body = b"".join(
        [
            pkt(b"# service=" + service + b"\n"),
            FLUSH,
            pkt(b"not-a-sha HEAD\0side-band-64k\n"),
            pkt(b"\xff\xfe\n"),
            pkt(b"x"),
            FLUSH,
        ]
    )
    content_type = b"application/x-" + service + b"-advertisement"
    server.send(conn, _head(b"200 OK", content_type, len(body)) + body)


def garbage_git(conn: socket.socket, server: Server) -> None:
    """A git:// server answering with bytes that are not pkt-lines."""
    if _recv(conn, server):
        server.send(conn, b"HTTP/1.1 400 Bad Request\r\n\r\nnot git\n")


def redirect_loop_http(conn: socket.socket, server: Server) -> None:
    """Every request is redirected to itself."""
    request = read_request(conn, server)
    if request is None:
        return
    target = request.split(b" ", 2)[1]
    server.send(
        conn,
        b"HTTP/1.1 302 Found\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
    )


def bad_pack_http(conn: socket.socket, server: Server) -> None:
    """Advertise one tag; answer the fetch with a pack that is not one."""
    request = read_request(conn, server)
    if request is None:
        return
    service = _service(request)
    if request.startswith(b"GET"):
        body = advertisement(service, ONE_TAG)
        content_type = b"application/x-" + service + b"-advertisement"
        server.send(conn, _head(b"200 OK", content_type, len(body)) + body)
        return
    pack = b"PACK\x00\x00\x00\x02\x00\x00\x00\x01" + b"\x95\x0b" + b"not zlib at all" * 4
    body = FLUSH + pkt(b"NAK\n") + pkt(b"\x01" + pack) + FLUSH
    server.send(conn, _head(b"200 OK", b"application/x-" + service + b"-result", len(body)) + body)
