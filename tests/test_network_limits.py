"""Hostile and broken servers: every network command ends in time, in one line, in bounded memory.

Each server of :mod:`tests.hostile_servers` runs on 127.0.0.1 for the length of
one test; the CLI runs as a real process (no git on PATH) against it through
``-r URL`` reads, ``--push`` and ``--fetch-tags``.  The deadline here is one or
two seconds; "in time" allows generous slack for a busy machine, while the
failures these tests pin lasted forever (or four times the timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gto_dulwich import api
from gto_dulwich.errors import RemoteError
from tests import hostile_servers as hostile
from tests.helpers import path_without_git, run_process
from tests.servers import make_pair

# deadlines are waited out in real time: `make test` runs them, `make check` leaves them out.
pytestmark = pytest.mark.slow

SLACK = 6.0  # seconds beyond the deadline a loaded machine may need to start and stop a process
IDENTITY = {"GIT_COMMITTER_NAME": "Net Tester", "GIT_COMMITTER_EMAIL": "net@example.com"}

Behaviour = Callable[..., None]


def _one_line(stderr: str, url: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert url in lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def _timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, int]:
    started = time.monotonic()
    result = run_process(args, cwd=cwd, env={"GTO_EMOJIS": "false", **env})
    return time.monotonic() - started, result.stderr, result.exit_code


# -- remote reads ---------------------------------------------------------------------

ENDLESS_OR_SILENT: list[tuple[Behaviour, str]] = [
    (hostile.silent_http, "http"),
    (hostile.drip_http, "http"),
    (hostile.endless_refs_http, "http"),
    (hostile.endless_progress_http, "http"),
    (hostile.silent_git, "git"),
    (hostile.endless_refs_git, "git"),
]


def _url(server: hostile.Server, scheme: str) -> str:
    return server.http_url if scheme == "http" else server.git_url


@pytest.mark.parametrize(
    ("behaviour", "scheme"), ENDLESS_OR_SILENT, ids=[b.__name__ for b, _ in ENDLESS_OR_SILENT]
)
def test_a_read_ends_at_the_deadline(behaviour: Behaviour, scheme: str, tmp_path: Path) -> None:
    """Silent, one byte a second, endless listings and progress: the whole command takes
    GTO_DULWICH_TIMEOUT, not a read's worth each (nor forever)."""
    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, {"GTO_DULWICH_TIMEOUT": "1"})
    assert code == 1
    line = _one_line(stderr, url)
    assert line == f"cannot read {url}: no complete answer within 1 s (GTO_DULWICH_TIMEOUT)"
    assert 0.9 < elapsed < 1 + SLACK


def test_a_silent_http_server_is_not_retried(tmp_path: Path) -> None:
    """urllib3 retried a silent server three times (four timeouts): one request now."""
    with hostile.serve(hostile.silent_http) as server:
        _timed(["show", "-r", server.http_url], tmp_path, {"GTO_DULWICH_TIMEOUT": "1"})
        assert len(server.requests) == 1


def test_a_captive_portal_is_one_line(tmp_path: Path) -> None:
    with hostile.serve(hostile.captive_portal) as server:
        url = server.http_url
        elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, {})
    assert code == 1
    assert _one_line(stderr, url) == (
        f"cannot read {url}: the server answered with text/html, not git "
        "(a login page or captive portal?)"
    )
    assert elapsed < SLACK


def test_a_connection_dropped_half_way_is_one_line(tmp_path: Path) -> None:
    with hostile.serve(hostile.dropped_http) as server:
        url = server.http_url
        _elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, {})
    assert code == 1
    assert _one_line(stderr, url).startswith(f"cannot reach {url}: ")


MALFORMED: list[tuple[Behaviour, str]] = [
    (hostile.garbage_http, "http"),
    (hostile.bad_refs_http, "http"),
    (hostile.garbage_git, "git"),
    (hostile.bad_pack_http, "http"),
    (hostile.redirect_loop_http, "http"),
]


@pytest.mark.parametrize(("behaviour", "scheme"), MALFORMED, ids=[b.__name__ for b, _ in MALFORMED])
@pytest.mark.parametrize("command", ["read", "push", "fetch-tags"])
def test_a_malformed_answer_is_one_line(
    behaviour: Behaviour, scheme: str, command: str, tmp_path: Path
) -> None:
    """Not pkt-lines, refs without shas, a broken pack: dulwich's parse errors were exit 3."""
    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        if command == "read":
            _elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, {})
        else:
            pair = make_pair(tmp_path, url=url)
            args = (
                ["register", "rf", "--version", "v1.0.0", "--push"]
                if command == "push"
                else ["check-ref", "rf@v1.0.0", "--fetch-tags"]
            )
            _elapsed, stderr, code = _timed(args, pair.local, IDENTITY)
    assert code == 1, stderr
    _one_line(stderr, url)


@pytest.mark.parametrize(
    ("behaviour", "scheme"),
    [(hostile.endless_refs_http, "http"), (hostile.endless_refs_git, "git")],
    ids=["http", "git"],
)
def test_an_endless_ref_listing_stops_at_its_cap(
    behaviour: Behaviour, scheme: str, tmp_path: Path
) -> None:
    """Memory is bounded by GTO_DULWICH_MAX_LISTING_BYTES, whatever the deadline."""
    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        env = {"GTO_DULWICH_TIMEOUT": "60", "GTO_DULWICH_MAX_LISTING_BYTES": "2000000"}
        elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, env)
    assert code == 1
    assert _one_line(stderr, url) == (
        f"cannot read {url}: its ref listing exceeds 2000000 bytes (GTO_DULWICH_MAX_LISTING_BYTES)"
    )
    assert elapsed < 30


def test_endless_progress_stops_at_the_pack_cap(tmp_path: Path) -> None:
    with hostile.serve(hostile.endless_progress_http) as server:
        url = server.http_url
        env = {"GTO_DULWICH_TIMEOUT": "60", "GTO_DULWICH_MAX_PACK_BYTES": "3000000"}
        elapsed, stderr, code = _timed(["show", "-r", url], tmp_path, env)
    assert code == 1
    assert _one_line(stderr, url) == (
        f"cannot read {url}: its pack exceeds 3000000 bytes (GTO_DULWICH_MAX_PACK_BYTES)"
    )
    assert elapsed < 30


@pytest.mark.parametrize(
    ("name", "value"),
    [("GTO_DULWICH_MAX_LISTING_BYTES", "abc"), ("GTO_DULWICH_MAX_PACK_BYTES", "-5")],
)
def test_bad_limit_settings_are_one_line(name: str, value: str, tmp_path: Path) -> None:
    with hostile.serve(hostile.captive_portal) as server:
        _elapsed, stderr, code = _timed(["show", "-r", server.http_url], tmp_path, {name: value})
    assert code == 1
    assert stderr.strip().splitlines() == [
        f"{name} must be a positive whole number of bytes, not '{value}'"
    ]


# -- pushes and --fetch-tags --------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "scheme"),
    [
        (hostile.silent_http, "http"),
        (hostile.silent_git, "git"),
        (hostile.captive_portal, "http"),
    ],
    ids=["silent-http", "silent-git", "captive-portal"],
)
@pytest.mark.parametrize("command", ["push", "fetch-tags"])
def test_push_and_fetch_tags_end_in_time(
    behaviour: Behaviour, scheme: str, command: str, tmp_path: Path
) -> None:
    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        pair = make_pair(tmp_path, url=url)
        args = (
            ["register", "rf", "--version", "v1.0.0", "--push"]
            if command == "push"
            else ["check-ref", "rf@v1.0.0", "--fetch-tags"]
        )
        elapsed, stderr, code = _timed(args, pair.local, {**IDENTITY, "GTO_DULWICH_TIMEOUT": "1"})
    assert code == 1, stderr
    assert url in stderr
    assert stderr.strip().count("\n") == 0, stderr
    assert elapsed < 1 + SLACK


# -- signals ---------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(
    ("behaviour", "scheme"),
    [(hostile.drip_http, "http"), (hostile.silent_git, "git")],
    ids=["drip-http", "silent-git"],
)
def test_a_signal_ends_a_network_command_within_a_second(
    behaviour: Behaviour, scheme: str, sig: signal.Signals, tmp_path: Path
) -> None:
    script = Path(sys.executable).parent / "gto"
    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        env = {**os.environ, "PATH": path_without_git(), "GTO_DULWICH_TIMEOUT": "60"}
        proc = subprocess.Popen(
            [str(script), "show", "-r", url],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.02)  # a bounded wait for the process to connect
            assert server.requests
            sent = time.monotonic()
            proc.send_signal(sig)
            _out, err = proc.communicate(timeout=10)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    assert err.strip().splitlines() == ["Interrupted"]
    assert took < 1.0


# -- the library, outside the main thread -------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "scheme"),
    [(hostile.silent_http, "http"), (hostile.silent_git, "git")],
    ids=["http", "git"],
)
def test_reads_from_another_thread_are_bounded_too(
    behaviour: Behaviour, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timer signal outside the main thread: each read is bounded by the time left."""
    monkeypatch.setenv("GTO_DULWICH_TIMEOUT", "1")
    outcome: list[BaseException | None] = []

    def read(url: str) -> None:
        try:
            api.show(url)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    with hostile.serve(behaviour) as server:
        url = _url(server, scheme)
        worker = threading.Thread(target=read, args=(url,), daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(timeout=30)
        took = time.monotonic() - started
    assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], RemoteError), outcome
    assert url in str(outcome[0])
    assert took < 1 + SLACK


# -- URLs from the command line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("http://[::1", "invalid URL http://[::1: Invalid IPv6 URL"),
        (
            "git://127.0.0.1:99999/x",
            "invalid URL git://127.0.0.1:99999/x: Port out of range 0-65535",
        ),
        ("git:///x", "invalid URL git:///x: no host"),
        ("http://u:secret@:80/x", "invalid URL http://:80/x: no host"),
        (
            "ftp://127.0.0.1/x",
            "unsupported URL ftp://127.0.0.1/x: use https://, http://, ssh://, git:// or file://",
        ),
    ],
)
def test_a_url_dulwich_would_take_for_ssh_is_refused(url: str, line: str, tmp_path: Path) -> None:
    """dulwich read these as ssh ``host:path`` (host "http", "git", "ftp") and ran ssh."""
    result = run_process(["show", "-r", url], cwd=tmp_path, env={"GTO_EMOJIS": "false"})
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [line]
    pair = make_pair(tmp_path, url=url)
    pushed = run_process(
        ["register", "rf", "--version", "v1.0.0", "--push"],
        cwd=pair.local,
        env={"GTO_EMOJIS": "false", **IDENTITY},
    )
    assert pushed.exit_code == 1
    assert line in pushed.stderr
    assert "secret" not in pushed.stderr + result.stderr
