"""Benchmark reading a remote registry (``show --json -r URL``) against a full clone.

On the generated 4,000-tag repository, served three ways on 127.0.0.1:
``file://`` (dulwich's in-process client), dulwich's smart-HTTP server, and
``git daemon`` with ``uploadpack.allowFilter`` (when git is installed: a real
git server, which honours the ``tree:0`` / ``blob:none`` filters the way
GitHub and GitLab do; dulwich's servers ignore filters).  For each: our whole
``gto show --json -r URL`` process (median of N after a warm-up), the bytes of
pack data it received, and a full bare clone with dulwich and with git.

Then, at ``--big-tags`` (25,000): ``file://`` read in place against the local
read of the same repository, and ``git daemon`` against ``git clone --bare
--filter=tree:0`` from the same server (issue #16's targets).

Usage: ``python bench/remote.py [--tags 4000] [--runs 5] [--big-tags 25000]
[--only daemon]``; writes ``bench/RESULTS-remote.md`` (with ``--only daemon``, only
its git-daemon section).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Timing, measure, repository

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "RESULTS-remote.md"
NOTES = """
The generated registry is almost all tag objects (its commits hold a few bytes of files),
so a clone carries hardly more than the tags and the byte counts are about equal; on a
repository with real files and history a clone grows with them, while a remote read still
fetches only tags, commits and two small files (see the git-daemon test in
`tests/test_remote_read.py`: no tree or blob but the file read). Times: `file://` is read
in place (no server, nothing fetched: `gto_dulwich/inplace.py`); over dulwich's HTTP server
most of our time is dulwich's Python server answering; against git's own server, ours is the
client alone: listing refs, one fetch of the tagged commits and (include-tag) their tag
objects, indexed while they arrive (`gto_dulwich/remote/packindex.py`), and the read
itself. A C `git clone --bare` is faster
still, but needs git; the git-less alternative, dulwich's `porcelain.clone`, writes every
ref as a loose file with an fsync and is 20× slower than our read.
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def _server(argv: Sequence[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def git_daemon(repo: Path, scratch: Path) -> Iterator[str | None]:
    """A copy of ``repo`` served by ``git daemon`` with filters on; None without git."""
    git = shutil.which("git")
    if not git:
        yield None
        return
    served = scratch / f"daemon-{_free_port()}" / "registry.git"
    served.parent.mkdir()
    shutil.copytree(repo / ".git" if (repo / ".git").is_dir() else repo, served)
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
        subprocess.run([git, "-C", str(served), "config", key, "true"], check=True)
    port = _free_port()
    with _server(
        [
            git,
            "daemon",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={served.parent}",
            "--export-all",
            "--reuseaddr",
            str(served.parent),
        ],
        port,
    ):
        yield f"git://127.0.0.1:{port}/registry.git"


@contextlib.contextmanager
def servers(repo: Path, scratch: Path) -> Iterator[dict[str, str]]:
    """name -> URL of the same repository served each way available."""
    urls = {"file://": repo.as_uri()}
    with contextlib.ExitStack() as stack:
        http = _free_port()
        stack.enter_context(
            _server(
                [
                    sys.executable,
                    "-m",
                    "dulwich.web",
                    "-l",
                    "127.0.0.1",
                    "-p",
                    str(http),
                    str(repo),
                ],
                http,
            )
        )
        urls["dulwich http"] = f"http://127.0.0.1:{http}/"
        daemon = stack.enter_context(git_daemon(repo, scratch))
        if daemon:
            urls["git daemon (filters on)"] = daemon
        yield urls


def received_in_child(url: str) -> tuple[int, int]:
    """:func:`received_by_show` in a child: a fork inherits this process's peak RSS, so a
    read done here would show up in the RSS of every command measured after it."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from remote import received_by_show; "
        "print(*received_by_show(sys.argv[2]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), url], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def received_by_show(url: str) -> tuple[int, int]:
    """Bytes of pack data and number of fetches one ``show`` read of ``url`` takes."""
    from gto_dulwich import api
    from gto_dulwich.remote.reader import RemoteRepo

    if url.startswith("file:"):
        return 0, 0  # read in place (gto_dulwich.remote.inplace): nothing is fetched
    with RemoteRepo.open_url(url) as remote:
        api.show(api.Registry.open(remote))
        return remote.bytes_received, remote.fetches


def pack_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.pack"))


def clone_bytes(url: str, scratch: Path, *, with_git: bool) -> int:
    dest = scratch / "clone-size"
    shutil.rmtree(dest, ignore_errors=True)
    if with_git:
        subprocess.run(["git", "clone", "--bare", "-q", url, str(dest)], check=True)
    else:
        from dulwich import porcelain

        porcelain.clone(url, str(dest), bare=True, errstream=io.BytesIO()).close()
    return pack_bytes(dest)


def _cell(timing: Timing) -> str:
    if timing.exit_code:
        return f"failed (exit {timing.exit_code})"
    return timing.cell()


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def run(tags: int, runs: int) -> str:
    repo = repository(tags)
    gto = str(Path(sys.executable).parent / "gto")
    lines = [
        f"# Remote reads: `show --json -r URL` vs a full clone ({tags:,} tags)",
        "",
        "Medians of whole processes after a warm-up (min–max), on 127.0.0.1; bytes are pack",
        "data received. Written by `python bench/remote.py`.",
        "",
        "| server | ours: `show --json -r URL` | ours: received | dulwich bare clone"
        " | git bare clone | clone size | git clone time / ours |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="gto-bench-remote-") as tmp:
        scratch = Path(tmp)
        with servers(repo, scratch) as urls:
            for name, url in urls.items():
                ours = measure([gto, "show", "--json", "-r", url], scratch, runs)
                if ours.exit_code:
                    raise RuntimeError(f"gto show -r {url} failed")
                received, fetches = received_in_child(url)
                dest = scratch / "clone"
                dulwich_clone = measure(
                    [
                        sys.executable,
                        "-c",
                        "import io,shutil,sys; from dulwich import porcelain; "
                        "shutil.rmtree(sys.argv[2], ignore_errors=True); "
                        "porcelain.clone(sys.argv[1], sys.argv[2], bare=True, "
                        "errstream=io.BytesIO())",
                        url,
                        str(dest),
                    ],
                    scratch,
                    max(1, runs // 2),
                )
                git_clone: Timing | None = None
                size = clone_bytes(url, scratch, with_git=bool(shutil.which("git")))
                if shutil.which("git"):
                    git_clone = measure(
                        ["sh", "-c", f'rm -rf "{dest}" && git clone --bare -q "{url}" "{dest}"'],
                        scratch,
                        runs,
                    )
                ratio = f"{git_clone.median / ours.median:.2f}" if git_clone else "–"
                lines.append(
                    f"| {name} | {ours.cell()} | {_mb(received)} in {fetches} fetch(es) "
                    f"| {_cell(dulwich_clone)} | {_cell(git_clone) if git_clone else 'no git'} "
                    f"| {_mb(size)} | {ratio} |"
                )
    lines += [
        "",
        "dulwich's servers ignore object filters, so there the first fetch also",
        "carries the trees and blobs of every tagged commit (still only depth 1, never history).",
        "A real git server (the git-daemon row; GitHub and GitLab likewise) sends only tag",
        "objects and commits, then HEAD's trees and the two files the registry reads.",
        *NOTES.strip("\n").splitlines(),
    ]
    return "\n".join(lines) + "\n"


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def in_place_table(tags: int, runs: int) -> list[str]:
    """``file://`` read in place against the local read of the same repository."""
    repo = repository(tags)
    gto = str(Path(sys.executable).parent / "gto")
    with tempfile.TemporaryDirectory(prefix="gto-bench-inplace-") as tmp:
        scratch = Path(tmp)
        rows = {
            "local `show --json -r PATH` (caches warm)": measure(
                [gto, "show", "--json", "-r", str(repo)], scratch, runs
            ),
            "local `--no-cache show --json -r PATH`": measure(
                [gto, "--no-cache", "show", "--json", "-r", str(repo)], scratch, runs
            ),
        }
        ours = measure([gto, "show", "--json", "-r", repo.as_uri()], scratch, runs)
    lines = [
        "",
        f"## `file://` read in place vs the local read ({tags:,} tags)",
        "",
        "| read | time | `show --json -r file://PATH` / it |",
        "|---|---|---|",
        f"| `show --json -r file://PATH` (in place, no cache) | {ours.cell()} | 1.00 |",
    ]
    for name, timing in rows.items():
        lines.append(f"| {name} | {timing.cell()} | {ours.median / timing.median:.2f} |")
    lines += [
        "",
        "A URL read writes nothing into the repository it reads (it may be someone else's),",
        "so it uses no cache, as `--no-cache`: its baseline is the uncached local read.",
    ]
    return lines


def daemon_table(tags: int, runs: int) -> list[str]:
    """``show --json -r git://`` against ``git clone --bare --filter=tree:0``, same server."""
    title = f"## git daemon (filters on), {tags:,} tags: ours vs `git clone --bare --filter=tree:0`"
    if not shutil.which("git"):
        return ["", title, "", "Skipped: git is not installed."]
    repo = repository(tags)
    gto = str(Path(sys.executable).parent / "gto")
    with tempfile.TemporaryDirectory(prefix="gto-bench-daemon-") as tmp:
        scratch = Path(tmp)
        dest = scratch / "clone"
        with git_daemon(repo, scratch) as url:
            assert url is not None
            ours = measure([gto, "show", "--json", "-r", url], scratch, runs)
            clone = measure(
                ["git", "clone", "--bare", "-q", "--filter=tree:0", url, str(dest)],
                scratch,
                runs,
                before=lambda _i: shutil.rmtree(dest, ignore_errors=True),
            )
            received, fetches = received_in_child(url)
        size = pack_bytes(dest)
    return [
        "",
        title,
        "",
        "| command | time | CPU (user+sys) | received | ours / clone |",
        "|---|---|---|---|---|",
        f"| `gto show --json -r git://…` | {ours.cell()} | {ours.cpu:.3f} s | {_mb(received)} "
        f"in {fetches} fetch(es) | {ours.median / clone.median:.2f} |",
        f"| `git clone --bare --filter=tree:0 git://…` | {clone.cell()} | {clone.cpu:.3f} s "
        f"| {_mb(size)} | 1.00 |",
        "",
        "CPU is the client process's alone (median); the server's work (git upload-pack and",
        "pack-objects) runs in git daemon's processes on the same machine, for both.",
    ]


def replace_section(text: str, heading: str, lines: list[str]) -> str:
    """``text`` with its ``## heading…`` section (up to the next ``## `` or the machine
    line) replaced by ``lines``; appended when it has none."""
    start = text.find("\n" + heading)
    if start < 0:
        return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\nMachine:", start)) if i >= 0]
    end = min(ends) if ends else len(text)
    return text[:start] + "\n".join(lines) + "\n" + text[end:]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tags", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-tags", type=int, default=25_000)
    parser.add_argument(
        "--only",
        choices=["daemon"],
        help="run only the git-daemon section (--big-tags) and replace just that section "
        "of bench/RESULTS-remote.md",
    )
    args = parser.parse_args(argv)
    started = _load()
    if args.only == "daemon":
        section = daemon_table(args.big_tags, args.runs)
        section.append(f"\nMachine for this section: {started} at the start, {_load()} at the end.")
        old = RESULTS.read_text() if RESULTS.exists() else ""
        RESULTS.write_text(replace_section(old, "## git daemon (filters on)", section))
        print("\n".join(section))
        return 0
    big = [
        *in_place_table(args.big_tags, args.runs),
        *daemon_table(args.big_tags, args.runs),
    ]
    table = run(args.tags, args.runs) + "\n".join(big) + "\n"
    table += f"\nMachine: {started} at the start, {_load()} at the end.\n"
    RESULTS.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
