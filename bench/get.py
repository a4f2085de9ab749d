"""Benchmark ``gto get`` on a large artifact, next to ``dvc get`` and a plain download.

Two artifacts of ``--size-mb`` MB (200 by default) of incompressible bytes:

* **git**: committed in a repository served on 127.0.0.1 by ``git daemon`` (git's own
  server, which honours ``blob:none`` as GitHub does; ``--git-server dulwich-http`` for
  dulwich's smart-HTTP server, which needs minutes to pack a 200 MB blob);
  ``gto get big@v1.0.0 -r git://…`` vs ``dvc get git://… big.bin --rev big@v1.0.0``
  (a git clone, then a copy);
* **dvc**: a DVC 3 output (``big.bin.dvc``) whose object is on an HTTP remote (a
  static file server on 127.0.0.1); ``gto get big -r REPO`` vs ``dvc get REPO big.bin``.

The floor for both is ``curl`` (or a Python streamed download when curl is absent)
fetching the same bytes from the static server.  Each row: the median wall time of
``--runs`` whole processes and their peak RSS (``wait4``).  DVC comes from
``--dvc`` (default /work/scratch/dvc-venv/bin/dvc); without it its rows say so.

Usage: ``python bench/get.py [--size-mb 200] [--runs 3]``; writes ``bench/RESULTS-get.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from dulwich.index import build_index_from_tree  # noqa: E402
from dulwich.objects import Blob, Commit, ObjectID, Tree  # noqa: E402
from dulwich.refs import Ref  # noqa: E402
from dulwich.repo import Repo  # noqa: E402

from tests.servers import EPOCH, IDENTITY, add_tag, serve_http  # noqa: E402
from tests.static_server import free_port, serve_files  # noqa: E402

RESULTS = ROOT / "RESULTS-get.md"
GTO = Path(sys.executable).parent / "gto"
TIME = "/usr/bin/time"  # GNU time: -f %M is the peak RSS in KB


def commit_files(repo: Repo, files: dict[bytes, bytes]) -> bytes:
    tree = Tree()
    for name, data in sorted(files.items()):
        blob = Blob.from_string(data)
        repo.object_store.add_object(blob)
        tree.add(name, 0o100644, blob.id)
    repo.object_store.add_object(tree)
    commit = Commit()
    commit.tree = tree.id
    commit.author = commit.committer = IDENTITY
    commit.author_time = commit.commit_time = EPOCH
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"big artifact\n"
    repo.object_store.add_object(commit)
    repo.refs[Ref(b"refs/heads/master")] = commit.id
    add_tag(repo, "big@v1.0.0", bytes(commit.id))
    return bytes(commit.id)


def git_repo(path: Path, data: bytes) -> None:
    path.mkdir()
    with Repo.init(str(path)) as repo:
        commit_files(repo, {b"artifacts.yaml": b"big:\n  path: big.bin\n", b"big.bin": data})


def dvc_repo(path: Path, data: bytes, remote_url: str) -> None:
    import hashlib

    digest = hashlib.md5(data).hexdigest()
    dotdvc = f"outs:\n- md5: {digest}\n  size: {len(data)}\n  hash: md5\n  path: big.bin\n"
    config = f"[core]\n    remote = web\n['remote \"web\"']\n    url = {remote_url}\n"
    path.mkdir()
    with Repo.init(str(path)) as repo:
        commit_files(
            repo,
            {
                b"artifacts.yaml": b"big:\n  path: big.bin\n",
                b"big.bin.dvc": dotdvc.encode(),
                b".gitignore": b"/big.bin\n",
                b".dvcignore": b"",
            },
        )
        # .dvc/config lives in a subtree: commit it with dulwich's index-free helper.
        head = repo.refs[Ref(b"refs/heads/master")]
        old = repo[head]
        assert isinstance(old, Commit)
        root = repo[old.tree]
        assert isinstance(root, Tree)
        blob = Blob.from_string(config.encode())
        repo.object_store.add_object(blob)
        sub = Tree()
        sub.add(b"config", 0o100644, blob.id)
        repo.object_store.add_object(sub)
        root.add(b".dvc", 0o040000, sub.id)
        repo.object_store.add_object(root)
        new = Commit()
        new.tree = root.id
        new.parents = [ObjectID(head)]
        new.author = new.committer = IDENTITY
        new.author_time = new.commit_time = EPOCH + 1
        new.author_timezone = new.commit_timezone = 0
        new.message = b"dvc config\n"
        repo.object_store.add_object(new)
        repo.refs[Ref(b"refs/heads/master")] = new.id
        del repo.refs[Ref(b"refs/tags/big@v1.0.0")]
        add_tag(repo, "big@v1.0.0", bytes(new.id), when=EPOCH + 10)
        # dvc get reads a local repository's work tree.
        build_index_from_tree(repo.path, repo.index_path(), repo.object_store, root.id)
    storage = path.parent / "storage" / "store" / "files" / "md5" / digest[:2]
    storage.mkdir(parents=True)
    (storage / digest[2:]).write_bytes(data)


@contextlib.contextmanager
def serve_git(repo: Path, kind: str) -> Iterator[str]:
    """The repository's URL on 127.0.0.1: ``git daemon`` (C, filters honoured) or dulwich's
    smart-HTTP server (pure Python; it takes minutes to pack a 200 MB blob)."""
    if kind == "dulwich-http":
        with serve_http(repo) as server:
            yield server.url
        return
    git = shutil.which("git") or "git"
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
        subprocess.run([git, "-C", str(repo), "config", key, "true"], check=True)
    port = free_port()
    daemon = subprocess.Popen(
        [git, "daemon", "--listen=127.0.0.1", f"--port={port}", f"--base-path={repo.parent}",
         "--export-all", "--reuseaddr", str(repo.parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/{repo.name}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def measure(command: Sequence[str], cwd: Path, out: Path, runs: int) -> tuple[float, float]:
    """Median seconds and peak RSS (MB) of ``runs`` runs, each into a fresh ``out``.

    The peak comes from ``/usr/bin/time``: a child's ``ru_maxrss`` starts at its
    parent's (Linux carries the high-water mark across fork and exec), and this
    process holds the servers and the data.
    """
    times, peaks = [], []
    for _ in range(runs):
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        with tempfile.NamedTemporaryFile("r") as report:
            start = time.perf_counter()
            done = subprocess.run(
                [TIME, "-f", "%M", "-o", report.name, *command],
                cwd=cwd,
                env={**os.environ, "DVC_NO_ANALYTICS": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            elapsed = time.perf_counter() - start
            peak_kb = int(report.read().strip().splitlines()[-1])
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")
        times.append(elapsed)
        peaks.append(peak_kb / 1024)
    return statistics.median(times), max(peaks)


def floor_command(url: str, out: Path) -> list[str]:
    curl = shutil.which("curl")
    if curl:
        return [curl, "-sSf", "-o", str(out), url]
    script = (
        "import sys, urllib3\n"
        "r = urllib3.PoolManager().request('GET', sys.argv[1], preload_content=False)\n"
        "with open(sys.argv[2], 'wb') as f:\n"
        "    for c in r.stream(1 << 20): f.write(c)\n"
    )
    return [sys.executable, "-c", script, url, str(out)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dvc", default="/work/scratch/dvc-venv/bin/dvc")
    parser.add_argument(
        "--git-server",
        choices=["git-daemon", "dulwich-http"],
        default="git-daemon" if shutil.which("git") else "dulwich-http",
        help="git's own server (honours blob:none, as GitHub does) or dulwich's HTTP server",
    )
    args = parser.parse_args()
    dvc = args.dvc if Path(args.dvc).exists() else None
    if not Path(TIME).exists():
        sys.exit(f"bench/get.py needs GNU time at {TIME} to measure peak RSS")
    data = random.Random(0).randbytes(args.size_mb << 20)
    rows: list[tuple[str, str, float | None, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="gto-bench-get-") as tmp_name:
        tmp = Path(tmp_name)
        work = tmp / "work"
        work.mkdir()
        out = work / "big.bin"
        static = tmp / "static"
        static.mkdir()
        (static / "big.bin").write_bytes(data)
        git_repo(tmp / "git", data)
        with serve_files(tmp) as files:
            dvc_repo(tmp / "dvc", data, f"{files.url}/storage/store")
            with serve_git(tmp / "git", args.git_server) as repo_url:
                dvc_repo_path = str(tmp / "dvc")
                plain = floor_command(f"{files.url}/static/big.bin", out)
                gto_git = [str(GTO), "get", "big@v1.0.0", "-r", repo_url, "-o", str(out)]
                gto_local = [str(GTO), "get", "big@v1.0.0", "-r", str(tmp / "git"), "-o", str(out)]
                gto_dvc = [str(GTO), "get", "big", "-r", dvc_repo_path, "-o", str(out)]
                dvc_git = [dvc or "", "get", repo_url, "big.bin", "--rev", "big@v1.0.0"]
                dvc_dvc = [dvc or "", "get", dvc_repo_path, "big.bin"]
                cases: list[tuple[str, str, list[str] | None]] = [
                    ("git", f"gto get ({args.git_server})", gto_git),
                    ("git", "dvc get (git clone)", [*dvc_git, "-o", str(out)] if dvc else None),
                    ("git", "gto get (local repository)", gto_local),
                    ("git", "floor: plain download", plain),
                    ("dvc", "gto get (HTTP remote)", gto_dvc),
                    ("dvc", "dvc get (HTTP remote)", [*dvc_dvc, "-o", str(out)] if dvc else None),
                    ("dvc", "floor: plain download", plain),
                ]
                for kind, label, command in cases:
                    if command is None:
                        rows.append((kind, label, None, None, "DVC not installed: skipped"))
                        print(f"{kind:4} {label:28} skipped (no DVC at {args.dvc})")
                        continue
                    seconds, peak = measure(command, work, out, args.runs)
                    assert out.stat().st_size == len(data)
                    rows.append((kind, label, seconds, peak, ""))
                    print(f"{kind:4} {label:28} {seconds:7.2f} s {peak:8.1f} MB")
    write_results(rows, args)


def write_results(
    rows: list[tuple[str, str, float | None, float | None, str]], args: argparse.Namespace
) -> None:
    floors = {kind: seconds for kind, label, seconds, _p, _n in rows if label.startswith("floor")}
    lines = [
        "# `gto get` on a large artifact",
        "",
        f"Generated by `python bench/get.py --size-mb {args.size_mb} --runs {args.runs}`: "
        f"one {args.size_mb} MB artifact of random bytes, whole processes, median of "
        f"{args.runs} runs, peak RSS from GNU time. Servers on 127.0.0.1 in the bench process.",
        "",
        "| artifact | command | median s | × floor | peak RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    for kind, label, seconds, peak, note in rows:
        if seconds is None or peak is None:
            lines.append(f"| {kind} | {label} | {note} | | |")
            continue
        floor = floors.get(kind)
        ratio = seconds / floor if floor else float("nan")
        lines.append(f"| {kind} | {label} | {seconds:.2f} | {ratio:.1f} | {peak:.0f} |")
    RESULTS.write_text("\n".join(lines) + "\n" + NOTES)


NOTES = """
- **dvc**: `gto get` reads the registry and the `.dvc` file from git objects (no clone),
  then streams the object in 1 MiB pieces, hashing as it writes and checking the md5 before
  the rename (with an fsync): memory stays flat whatever the size. `dvc get` opens the
  repository's work tree here (a local path), so it clones nothing either.
- **git, local repository**: the committed file is inflated from its pack entry (or loose
  file) 1 MiB at a time and checked against its object id: flat memory too.
- **git, from a server**: both tools wait for the server to pack 200 MB (most of the time).
  `dvc get` clones the repository; `gto get` fetches the tagged commits without trees, one
  commit's trees, then the one blob by id. The pack is spooled to disk and indexed from
  there in 1 MiB pieces (`gto_dulwich/remote/packindex.py`: hashed as it inflates, pages
  given back as it goes), then written from the store 1 MiB at a time: flat memory too.
"""


if __name__ == "__main__":
    main()
