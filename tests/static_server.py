"""A static file server on 127.0.0.1 (a DVC http remote), honest or hostile on purpose.

``serve_files(root)`` serves the files under ``root``; ``fault`` makes it lie:
``"corrupt"`` flips a byte of every body (md5 mismatch), ``"drop"`` announces the
full length, sends half and closes the connection, ``"stall"`` sends half and waits
(for a test to interrupt the client).  Also an S3 server (moto's
server mode) for ``s3://`` remotes.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass
class FileServer:
    url: str
    requests: list[str] = field(default_factory=list)
    # "stall": set once the first half is sent; the handler then waits for ``release``.
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def serve_files(
    root: Path,
    *,
    fault: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[FileServer]:
    state = FileServer("")
    expected = (
        "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        if username is not None
        else None
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(self.path)
            if expected is not None and self.headers.get("Authorization") != expected:
                self._reply(401, b"no\n", {"WWW-Authenticate": 'Basic realm="t"'})
                return
            path = (root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
            if not path.is_relative_to(root.resolve()) or not path.is_file():
                self._reply(404, b"not found\n")
                return
            if fault is None:
                self._send_file(path)
                return
            data = path.read_bytes()
            if fault == "corrupt" and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            if fault == "stall":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                state.stalled.set()
                state.release.wait(timeout=60)
                self.close_connection = True
                return
            if fault == "drop":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(200, data)

        def _send_file(self, path: Path) -> None:
            """Streamed, so a benchmark's large object does not sit in the server's memory."""
            self.send_response(200)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with open(path, "rb") as handle, contextlib.suppress(ConnectionError):
                shutil.copyfileobj(handle, self.wfile, 1 << 20)

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        state.url = f"http://127.0.0.1:{server.server_port}"
        yield state
    finally:
        state.release.set()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def serve_s3() -> Iterator[dict[str, str]]:
    """moto's S3 server on 127.0.0.1 and the environment that points boto3 at it (the
    secret is a marker tests look for in output). Skips where the dev extra is missing."""
    import logging

    import pytest

    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        server.stop()
