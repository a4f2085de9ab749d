"""Racing writers, locally and through a URL: every writer's event lands, once, or fails.

Real ``gto`` processes (no git on PATH) start together against one repository
on disk, or against one server on 127.0.0.1: dulwich's smart-HTTP server (with
``strict_refs``: dulwich's own server acknowledges a lost compare-and-swap,
pitfall P8) and ``git daemon`` where git is installed (the tests may run git;
the product never does).  Writers share identity and clock, so two of them
choosing the same tag make byte-identical tag objects: only "the tag existed
before my push" tells the loser apart.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.builder import BuiltRepo, build_repo
from tests.servers import copy_objects, ref_dict, serve_git_daemon, serve_http
from tests.test_concurrency import GTO, environment, finish, started, tag_refs

# eight real writers race through real servers: `make test` runs them, `make check` leaves them out.
pytestmark = pytest.mark.slow

WRITERS = 8
SAME_SECOND = {"GIT_COMMITTER_DATE": "1800000000 +0000"}
CREATED = re.compile(r"^Created git tag '([^']+)'", re.MULTILINE)


def build(path: Path, *, bare: bool = False) -> BuiltRepo:
    """rf@v1.0.0 on c1, then c2..c9 (one per writer) on top, HEAD at c9."""
    commits = [
        {
            "id": f"c{n}",
            "message": f"commit {n}",
            "time": f"2024-01-0{n}T00:00:00+00:00",
            "files": {"artifacts.yaml": "rf: {type: model}\n", "n.txt": str(n)},
        }
        for n in range(1, WRITERS + 2)
    ]
    spec = {
        "commits": commits,
        "tags": [{"name": "rf@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00+00:00"}],
    }
    return build_repo(spec, path, bare=bare)


def _new_tags(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> set[str]:
    return {
        name.decode().removeprefix("refs/tags/")
        for name in set(after) - set(before)
        if name.startswith(b"refs/tags/")
    }


def _run_all(argvs: list[list[str]], cwd: Path, **env: str) -> list[Any]:
    with started(argvs, cwd, environment(GTO_DULWICH_LOCK_TIMEOUT="60", **env)) as procs:
        return finish(procs)


def test_auto_bumped_registers_on_different_commits_all_succeed(tmp_path: Path) -> None:
    """Versions were chosen before the write: 1-2 of 8 succeeded, the rest found the tag taken."""
    built = build(tmp_path / "repo")
    before = tag_refs(built.path)
    argvs = [[GTO, "register", "rf", built.commits[f"c{n}"]] for n in range(2, WRITERS + 2)]
    results = _run_all(argvs, built.path)
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    created = [tag for r in results for tag in CREATED.findall(r.stdout)]
    assert sorted(created) == sorted(f"rf@v1.0.{n}" for n in range(1, WRITERS + 1))
    assert set(tag_refs(built.path)) - set(before) == set(created)


@pytest.fixture(params=["dulwich-http", "git-daemon"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, BuiltRepo]]:
    """A bare registry behind a real server on 127.0.0.1: (URL, what was built)."""
    built = build(tmp_path / "srv" / "server.git", bare=True)
    with Repo(str(built.path)) as repo:  # dulwich's server sends only advertised commits
        for commit_id, sha in built.commits.items():
            repo.refs[Ref(b"refs/heads/" + commit_id.encode())] = ObjectID(sha.encode())
    if request.param == "dulwich-http":
        with serve_http(built.path, strict_refs=True) as http:
            yield http.url, built
        return
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    with serve_git_daemon(tmp_path / "srv") as port:
        yield f"git://127.0.0.1:{port}/server.git", built


def test_assigns_through_a_url_all_land_once(server: tuple[str, BuiltRepo], tmp_path: Path) -> None:
    """8 writers pick counters from the same listing; each loser sees the tag on the remote
    (or is refused it), reads again and takes the next: 8 events, each reported once."""
    url, built = server
    before = ref_dict(built.path)
    argv = [GTO, "assign", "rf", "--version", "v1.0.0", "--stage", "prod", "--force", "-r", url]
    results = _run_all([argv] * WRITERS, tmp_path, **SAME_SECOND)
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    created = [tag for r in results for tag in CREATED.findall(r.stdout)]
    assert sorted(created) == sorted(f"rf#prod#{n}" for n in range(1, WRITERS + 1))
    assert _new_tags(before, ref_dict(built.path)) == set(created)
    for result in results:
        assert result.stdout.count("Successfully pushed") == 1, result.stdout


def test_auto_bumped_registers_through_a_url_get_distinct_versions(
    server: tuple[str, BuiltRepo], tmp_path: Path
) -> None:
    url, built = server
    before = ref_dict(built.path)
    argvs = [
        [GTO, "register", "rf", built.commits[f"c{n}"], "-r", url] for n in range(2, WRITERS + 2)
    ]
    results = _run_all(argvs, tmp_path, **SAME_SECOND)
    assert [r.returncode for r in results] == [0] * WRITERS, [r.stderr for r in results]
    created = [tag for r in results for tag in CREATED.findall(r.stdout)]
    assert sorted(created) == sorted(f"rf@v1.0.{n}" for n in range(1, WRITERS + 1))
    assert _new_tags(before, ref_dict(built.path)) == set(created)


def test_an_explicit_version_taken_by_a_racer_fails_in_one_line(
    server: tuple[str, BuiltRepo], tmp_path: Path
) -> None:
    url, built = server
    argvs = [
        [GTO, "register", "rf", built.commits[f"c{n}"], "--version", "v2.0.0", "-r", url]
        for n in range(2, 6)
    ]
    results = _run_all(argvs, tmp_path, **SAME_SECOND)
    assert sorted(r.returncode for r in results) == [0, 1, 1, 1], [r.stderr for r in results]
    for loser in (r for r in results if r.returncode):
        assert loser.stdout == ""  # nothing reported as created
        # (GTO's message ends in a newline, which the terminal escaping shows; harden-input's)
        assert loser.stderr.strip().startswith("Version 'v2.0.0' already was registered.")
        assert len(loser.stderr.strip().splitlines()) == 1


class ReadOnly:
    """Refuse pushes with 403 (a read-only token)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "receive-pack" in environ.get("PATH_INFO", "") + environ.get("QUERY_STRING", ""):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"read only\n"]
        return self.app(environ, start_response)


def test_a_refused_url_write_reports_nothing_created(tmp_path: Path) -> None:
    built = build(tmp_path / "server.git", bare=True)
    with serve_http(built.path, wrap=ReadOnly) as http:
        results = _run_all([[GTO, "register", "rf", "-r", http.url]], tmp_path)
    assert results[0].returncode == 1
    assert results[0].stdout == ""
    assert len(results[0].stderr.strip().splitlines()) == 1


class RacerWinsFirst:
    """Just before the first push is advertised, another writer's tag lands on the server:
    ``tag`` copied from ``source``, byte-identical to the one the pusher is about to send."""

    def __init__(self, app: Any, source: Path, target: Path, tag: str) -> None:
        self.app, self.source, self.target, self.tag = app, source, target, tag
        self.done = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING", "")
        if not self.done and "service=git-receive-pack" in query:
            self.done = True
            ref = Ref(b"refs/tags/" + self.tag.encode())
            with Repo(str(self.source)) as source, Repo(str(self.target)) as target:
                sha = source.refs[ref]
                copy_objects(source, target, [sha])
                target.refs[ref] = sha
        return self.app(environ, start_response)


def test_a_byte_identical_tag_made_first_by_another_writer_is_a_lost_race(tmp_path: Path) -> None:
    """Same identity, same second, same counter: the tag objects are identical, so only
    "it existed before my push" shows that this writer made nothing; it re-plans."""
    rehearsal = build(tmp_path / "rehearsal.git", bare=True).path
    served = build(tmp_path / "server.git", bare=True).path
    argv = [GTO, "assign", "rf", "--version", "v1.0.0", "--stage", "prod", "--force", "-r"]
    first = _run_all([[*argv, rehearsal.as_uri()]], tmp_path, **SAME_SECOND)[0]
    assert first.returncode == 0, first.stderr
    assert CREATED.findall(first.stdout) == ["rf#prod#1"]

    def wrap(app: Any) -> Any:
        return RacerWinsFirst(app, rehearsal, served, "rf#prod#1")

    with serve_http(served, wrap=wrap, strict_refs=True) as http:
        result = _run_all([[*argv, http.url]], tmp_path, **SAME_SECOND)[0]
    assert result.returncode == 0, result.stderr
    assert CREATED.findall(result.stdout) == ["rf#prod#2"]  # not the racer's rf#prod#1
    assert ref_dict(served)[b"refs/tags/rf#prod#1"] == ref_dict(rehearsal)[b"refs/tags/rf#prod#1"]
    assert b"refs/tags/rf#prod#2" in ref_dict(served)
