"""Concurrent writers and interrupted writes, with real processes: nothing is lost or half-made.

Every process here is a real ``gto`` (or a Python process calling the write path)
started against one repository on disk.  Start barriers (a line on stdin) make
the writers contend; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from dulwich.objects import Commit, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.annotations import parse_index
from gto_dulwich.builder import build_repo
from tests.helpers import path_without_git

IDENTITY = {"GIT_COMMITTER_NAME": "Writer", "GIT_COMMITTER_EMAIL": "writer@example.com"}
TIMEOUT = 120  # seconds for any one process: generous, the machine may be busy
GTO = str(Path(sys.executable).parent / "gto")

ARTIFACTS = "rf: {type: model, path: models/rf.pkl}\n"


def build(tmp_path: Path) -> Path:
    """rf@v1.0.0 on c1 (HEAD), an artifacts.yaml with rf."""
    spec = {
        "commits": [
            {
                "id": "c1",
                "message": "one",
                "time": "2024-01-01T00:00:00+00:00",
                "files": {"artifacts.yaml": ARTIFACTS, "models/rf.pkl": "1"},
            }
        ],
        "tags": [{"name": "rf@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00+00:00"}],
    }
    return build_repo(spec, tmp_path / "repo").path


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GTO_"))}
    env.update(IDENTITY)
    env.update({"PATH": path_without_git(), "GTO_EMOJIS": "false", **extra})
    return env


def tag_refs(path: Path) -> dict[str, bytes]:
    with Repo(str(path)) as repo:
        return {
            bytes(name).decode(): bytes(sha)
            for name, sha in repo.refs.as_dict(Ref(b"refs/tags")).items()
        }


def lock_files(path: Path) -> list[str]:
    git = path / ".git"
    return sorted(str(p.relative_to(git)) for p in git.rglob("*.lock"))


@contextlib.contextmanager
def started(
    argvs: Sequence[Sequence[str]], cwd: Path, env: dict[str, str], *, barrier: bool = False
) -> Iterator[list[subprocess.Popen[str]]]:
    """Start every process; with ``barrier`` they wait for a line on stdin, sent to all
    at once.  Every process is killed on the way out if the test failed early."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for argv in argvs:
            procs.append(
                subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.PIPE if barrier else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        if barrier:
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def gto(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One real ``gto`` process (no git on PATH)."""
    return subprocess.run(
        [GTO, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[subprocess.CompletedProcess[str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=TIMEOUT)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


# -- many writers ---------------------------------------------------------------------

_ASSIGNER = """
import json, sys
from gto_dulwich import api

repo, count = sys.argv[1], int(sys.argv[2])
sys.stdin.readline()  # start together
for _ in range(count):
    event = api.assign(repo, "rf", "prod", version="v1.0.0", force=True)
    print(json.dumps([event.tag, event.counter]), flush=True)
"""


def test_8_processes_assign_10_times_each_80_distinct_tags_and_counters(tmp_path: Path) -> None:
    """The stress test: 8 writers x 10 assigns of one artifact and stage, all at once."""
    repo = build(tmp_path)
    env = environment(GTO_DULWICH_LOCK_TIMEOUT="60", GIT_COMMITTER_DATE="1800000000 +0000")
    argv = [sys.executable, "-c", _ASSIGNER, str(repo), "10"]
    with started([argv] * 8, repo, env, barrier=True) as procs:
        results = finish(procs)
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    assert all("Traceback" not in r.stderr for r in results)
    made = [tuple(json.loads(line)) for r in results for line in r.stdout.splitlines()]
    tags = [tag for tag, _counter in made]
    counters = sorted(counter for _tag, counter in made)
    assert len(made) == 80
    assert len(set(tags)) == 80
    assert counters == list(range(1, 81))  # unique, and none skipped
    assert set(tags) == {f"rf#prod#{n}" for n in range(1, 81)}
    assert set(tags) <= set(tag_refs(repo))
    history = gto(repo, "history", "rf", "--json", env=env)
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)
    assert sorted(r["ref"] for r in rows if r["event"] == "assignment") == sorted(tags)
    assert lock_files(repo) == []


def test_4_processes_register_the_same_version_exactly_one_tag(tmp_path: Path) -> None:
    repo = build(tmp_path)
    before = tag_refs(repo)
    env = environment(GTO_DULWICH_LOCK_TIMEOUT="60")
    argv = [GTO, "register", "race", "--version", "v1.0.0"]
    with started([argv] * 4, repo, env) as procs:
        results = finish(procs)
    assert sorted(r.returncode for r in results) == [0, 1, 1, 1], [r.stderr for r in results]
    for loser in (r for r in results if r.returncode == 1):
        assert "Traceback" not in loser.stderr
        assert len(loser.stderr.strip().splitlines()) == 1, loser.stderr
        assert loser.stderr.strip() in {
            "tag 'race@v1.0.0' already exists",
            "'race' is already registered in this commit with version 'v1.0.0'",
            "Version 'v1.0.0' already was registered.",
        }
    after = tag_refs(repo)
    assert set(after) - set(before) == {"race@v1.0.0"}
    assert {k: after[k] for k in before} == before
    assert lock_files(repo) == []


def test_concurrent_annotate_cli_processes_lose_no_entry(tmp_path: Path) -> None:
    repo = build(tmp_path)
    names = [f"model-{i}" for i in range(4)]
    argvs = [
        [GTO, "annotate", name, "--type", "model", "--path", f"models/{name}.pkl"] for name in names
    ]
    with started(argvs, repo, environment()) as procs:
        results = finish(procs)
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    assert all(r.stderr == "" for r in results)
    entries = parse_index((repo / "artifacts.yaml").read_bytes()).artifacts
    assert next(iter(entries)) == "rf"
    assert set(entries) == {"rf", *names}
    assert {n: entries[n].path for n in names} == {n: f"models/{n}.pkl" for n in names}
    assert entries["rf"].path == "models/rf.pkl"
    assert not (repo / "artifacts.yaml.lock").exists()


# -- interrupted writes -----------------------------------------------------------------

# Runs the real CLI; the hook only announces the moment and waits there to be signalled.
_INTERRUPTED = """
import sys, time
from gto_dulwich.cli import main
from gto_dulwich.repo import GitRepo

where = sys.argv[1]
if where == "ref-locked":  # the tag object is stored, the ref's lock taken, the ref not set
    original_check = GitRepo._packed_has

    def hook(self, ref):
        print("ready", flush=True)
        time.sleep(60)
        return original_check(self, ref)

    GitRepo._packed_has = hook
else:  # "ref-set": the ref has just been written, the counter lock is still held
    original_claim = GitRepo._claim_ref

    def hook(self, ref, sha):
        claimed = original_claim(self, ref, sha)
        print("ready", flush=True)
        time.sleep(60)
        return claimed

    GitRepo._claim_ref = hook
main(sys.argv[2:])
"""


def _interrupt(repo: Path, where: str, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", _INTERRUPTED, where]
    argv += ["assign", "rf", "--version", "v1.0.0", "--stage", "prod"]
    env = environment(GIT_COMMITTER_DATE="1800000000 +0000")
    with started([argv], repo, env) as (proc,):
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _complete_tag(repo: Path, name: str) -> Tag:
    with Repo(str(repo)) as dulwich_repo:
        obj = dulwich_repo[dulwich_repo.refs[Ref(b"refs/tags/" + name.encode())]]
        assert isinstance(obj, Tag)
        obj.check()
        assert isinstance(dulwich_repo[obj.object[1]], Commit)
        return obj


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("where", ["ref-locked", "ref-set"])
def test_interrupted_write_leaves_no_half_tag_and_no_stale_lock(
    tmp_path: Path, where: str, sig: signal.Signals
) -> None:
    repo = build(tmp_path)
    before = tag_refs(repo)
    done = _interrupt(repo, where, sig)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "Interrupted\n"
    assert lock_files(repo) == []
    after = tag_refs(repo)
    if where == "ref-locked":
        assert after == before  # no tag at all
    else:
        assert set(after) - set(before) == {"rf#prod#1"}
        assert _complete_tag(repo, "rf#prod#1").message == (
            b"Assigning stage prod to artifact rf version v1.0.0\n"
        )
    # Nothing left blocks the next writer, which gets the next counter.
    later = gto(
        repo,
        *("assign", "rf", "--version", "v1.0.0", "--stage", "prod", "--force"),
        env=environment(GTO_DULWICH_LOCK_TIMEOUT="2"),
    )
    assert later.returncode == 0, later.stderr
    expected = "rf#prod#1" if where == "ref-locked" else "rf#prod#2"
    assert later.stdout.startswith(f"Created git tag '{expected}'")
    _complete_tag(repo, expected)


def test_a_killed_writer_leaves_locks_that_are_named_and_never_removed(tmp_path: Path) -> None:
    """SIGKILL runs no cleanup: the next write must say which lock blocks it, not hang
    and not remove it (another writer may still be alive)."""
    repo = build(tmp_path)
    before = tag_refs(repo)
    done = _interrupt(repo, "ref-locked", signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    left = lock_files(repo)
    assert left == ["gto-counter.lock", "refs/tags/rf#prod#1.lock"]
    contents = {name: (repo / ".git" / name).read_bytes() for name in left}
    argv = ["assign", "rf", "--version", "v1.0.0", "--stage", "prod"]
    env = environment(GTO_DULWICH_LOCK_TIMEOUT="0.1")
    # Each lock is named in turn; only the user removes one (as the message says).
    for lock in left:
        later = gto(repo, *argv, env=env)
        assert later.returncode == 1
        assert later.stdout == ""
        assert later.stderr == (
            f"'{repo / '.git' / lock}' is locked by another process; "
            "if no git or gto is running, remove it\n"
        )
        assert {n: (repo / ".git" / n).read_bytes() for n in lock_files(repo)} == {
            n: contents[n] for n in lock_files(repo)
        }
        assert tag_refs(repo) == before
        (repo / ".git" / lock).unlink()
    later = gto(repo, *argv, env=env)
    assert later.returncode == 0, later.stderr
    _complete_tag(repo, "rf#prod#1")
