"""``-r file://...`` reads the repository in place: same answers as a local read,
no server, nothing written into the repository, no work-tree file read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.registry import open_git
from gto_dulwich.remote.inplace import InPlaceRepo
from gto_dulwich.remote.reader import RemoteRepo
from tests.helpers import FIXTURES, run_cli
from tests.test_remote_read import ENV, FIXTURE_NAMES, _commands, _same


def _listing(git_dir: Path) -> list[tuple[str, int, int, str]]:
    """Every path under ``git_dir`` with its mode, mtime and content digest."""
    found = []
    for root, dirs, files in os.walk(git_dir):
        for name in sorted(dirs + files):
            path = Path(root) / name
            stat = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            found.append((str(path.relative_to(git_dir)), stat.st_mode, stat.st_mtime_ns, digest))
    return sorted(found)


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_file_url_reads_equal_the_local_read_and_write_nothing(
    fixture: str, tmp_path: Path
) -> None:
    spec = load_spec(FIXTURES / f"{fixture}.yaml")
    # A work tree holding just what was committed: its local read sees what a URL read sees.
    repo = tmp_path / "repo"
    build_repo({k: v for k, v in spec.items() if k != "worktree"}, repo)
    url = repo.as_uri()
    commands = _commands(fixture, limit=20)
    before = _listing(repo / ".git")
    remote = [run_cli([*args, "-r", url], env=ENV) for args in commands]
    assert _listing(repo / ".git") == before
    for args, answer in zip(commands, remote, strict=True):
        _same(run_cli([*args, "-r", str(repo)], env=ENV), answer)


def test_reads_open_in_place_and_writes_push(tmp_path: Path) -> None:
    spec = load_spec(FIXTURES / "showcase.yaml")
    build_repo(spec, tmp_path / "s.git", bare=True)
    url = (tmp_path / "s.git").as_uri()
    with open_git(url) as read:
        assert isinstance(read, InPlaceRepo)
    with open_git(url, write=True) as write:
        assert isinstance(write, RemoteRepo)


def test_work_tree_files_are_not_read(tmp_path: Path) -> None:
    """A `.gto` only in the served work tree is not the repository's: a clone would not see it."""
    spec = load_spec(FIXTURES / "config_stages.yaml")
    repo = tmp_path / "repo"
    build_repo(spec, repo)  # its work tree holds an uncommitted `.gto`
    assert (repo / ".gto").is_file()
    local = run_cli(["stages"], cwd=repo, env=ENV)
    remote = run_cli(["stages", "-r", repo.as_uri()], env=ENV)
    clean = tmp_path / "clean"
    build_repo({k: v for k, v in spec.items() if k != "worktree"}, clean)
    assert remote.stdout == run_cli(["stages"], cwd=clean, env=ENV).stdout
    assert remote.stdout != local.stdout
