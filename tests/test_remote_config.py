"""The user's git config reaches every remote operation, URL reads included.

A dulwich smart-HTTP server on 127.0.0.1 sits behind a middleware that answers
403 unless the request carries a header only ``http.extraHeader`` in the
user's global git config (a ``HOME`` of the test's own) can provide.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from dulwich.repo import Repo

from tests.helpers import Result, run_process
from tests.servers import HttpRemote, add_tag, make_pair, ref_dict, serve_http

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HEADER, VALUE = "X-Registry-Key", "open-sesame"
IDENTITY = {"GIT_COMMITTER_NAME": "Config Tester", "GIT_COMMITTER_EMAIL": "ct@example.com"}


class RequireHeader:
    """403 for every request without ``HEADER: VALUE``; counts what it saw."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.with_header = 0
        self.without = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_" + HEADER.upper().replace("-", "_")) != VALUE:
            self.without += 1
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"forbidden\n"]
        self.with_header += 1
        return self.app(environ, start_response)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[HttpRemote, RequireHeader, Path, Path]]:
    (tmp_path / "pair").mkdir()
    pair = make_pair(tmp_path / "pair")
    with Repo(str(pair.remote)) as remote:
        add_tag(remote, "rf@v1.0.0", pair.commit)
    seen: list[RequireHeader] = []

    def wrap(app: WSGIApplication) -> WSGIApplication:
        seen.append(RequireHeader(app))
        return seen[0]

    with serve_http(pair.remote, wrap=wrap) as http:
        yield http, seen[0], pair.remote, pair.local


def _home(tmp_path: Path, *, header: bool) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if header:
        (home / ".gitconfig").write_text(f'[http]\n\textraHeader = "{HEADER}: {VALUE}"\n')
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GTO_EMOJIS": "false",
        **IDENTITY,
    }


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> Result:
    return run_process(args, cwd=cwd, env=env)


def test_url_reads_send_the_extra_header_from_the_global_config(
    guarded: tuple[HttpRemote, RequireHeader, Path, Path], tmp_path: Path
) -> None:
    http, gate, _remote, _local = guarded
    result = _run(["show", "--plain", "-r", http.url], tmp_path, _home(tmp_path, header=True))
    assert result.exit_code == 0, result.stderr
    assert "rf" in result.stdout
    assert gate.with_header >= 2  # the listing and the fetch
    assert gate.without == 0


def test_without_the_config_the_server_refuses_in_one_line(
    guarded: tuple[HttpRemote, RequireHeader, Path, Path], tmp_path: Path
) -> None:
    http, _gate, _remote, _local = guarded
    result = _run(["show", "-r", http.url], tmp_path, _home(tmp_path, header=False))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"authentication failed for {http.url}" in result.stderr


def test_url_writes_and_fetch_tags_send_it_too(
    guarded: tuple[HttpRemote, RequireHeader, Path, Path], tmp_path: Path
) -> None:
    http, gate, remote, local = guarded
    env = _home(tmp_path, header=True)
    before = ref_dict(remote)
    args = ["assign", "rf", "--version", "v1.0.0", "--stage", "prod", "-r", http.url]
    written = _run(args, tmp_path, env)
    assert written.exit_code == 0, written.stderr
    assert set(ref_dict(remote)) - set(before) == {b"refs/tags/rf#prod#1"}

    with Repo(str(local)) as repo:
        config = repo.get_config()
        config.set((b"remote", b"origin"), b"url", http.url.encode())
        config.write_to_path()
    fetched = _run(["check-ref", "rf#prod#1", "--fetch-tags", "--json"], local, env)
    assert fetched.exit_code == 0, fetched.stderr
    assert "rf#prod#1" in fetched.stdout
    assert gate.without == 0
