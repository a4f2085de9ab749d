"""Benchmark whole processes on generated registries; write bench/RESULTS.md.

Every measurement is a fresh process (what a CI step or a container pays),
timed several times after a warm-up: median and min-max wall time, and peak RSS.
Baselines run in the same session on the same repositories: ``git for-each-ref``
when a git binary is present, and the real GTO 1.10.1 when ``GTO_VENV`` names a
virtual environment that has it (each GTO run capped at 120 s).

Usage: ``python bench/run.py [--sizes 400,4000,25000,100000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent
REPOS = ROOT / "repos"
GTO_CAP_SECONDS = 120.0
GIT_FORMAT = "%(refname) %(objectname) %(*objectname) %(taggerdate:unix)"
ARTIFACT = "team1/model-1"


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float
    rss_mb: float
    capped: bool = False
    exit_code: int = 0

    def cell(self) -> str:
        if self.capped:
            return f"> {GTO_CAP_SECONDS:.0f} s"
        if self.exit_code:
            return f"fails (exit {self.exit_code}: no such command in GTO 1.10.1)"
        return f"{self.median:.3f} s ({self.low:.3f}–{self.high:.3f}), {self.rss_mb:.0f} MB"


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    """The child's environment: as an installed tool runs, with bytecode caches on."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, **(extra or {})}


def measure(
    argv: Sequence[str],
    cwd: Path,
    runs: int,
    env: dict[str, str] | None = None,
    cap: float | None = None,
    warmup: bool = True,
) -> Timing:
    """Run ``argv`` once to warm up, then ``runs`` times; wall time and peak RSS per run."""
    walls: list[float] = []
    peaks: list[float] = []
    environment = _environment(env)
    for index in range(0 if warmup else 1, runs + 1):
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _pid, _status, usage = _wait(proc, cap)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return Timing(0, 0, 0, 0, capped=True)
        wall = time.perf_counter() - start
        if index:  # the first run warms caches (OS page cache, our tag cache)
            walls.append(wall)
            peaks.append(usage.ru_maxrss / 1024)
    timing = Timing(statistics.median(walls), min(walls), max(walls), max(peaks))
    if proc.returncode:
        return Timing(
            timing.median, timing.low, timing.high, timing.rss_mb, exit_code=proc.returncode
        )
    return timing


def _wait(
    proc: subprocess.Popen[bytes], cap: float | None
) -> tuple[int, int, resource.struct_rusage]:
    deadline = None if cap is None else time.monotonic() + cap
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return pid, status, usage
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, cap or 0)
        time.sleep(0.002)


def repository(tags: int, *, loose: bool = False) -> Path:
    path = REPOS / f"{tags}{'-loose' if loose else ''}"
    if not path.exists():
        # In a child process: a fork of a big parent would count the parent's pages
        # in every measured child's peak RSS.
        REPOS.mkdir(exist_ok=True)
        flags = ["--loose"] if loose else []
        subprocess.run(
            [sys.executable, str(ROOT / "generate.py"), str(path), str(tags), *flags], check=True
        )
    return path


def gto_command() -> list[str]:
    return [str(Path(sys.executable).parent / "gto")]


def commands() -> dict[str, list[str]]:
    return {
        "show --json": ["show", "--json"],
        "show NAME --json": ["show", ARTIFACT, "--json"],
        "history NAME --json": ["history", ARTIFACT, "--json"],
        "latest NAME": ["latest", ARTIFACT],
        "which NAME STAGE": ["which", ARTIFACT, "prod"],
        "check-ref TAG --json": ["check-ref", f"{ARTIFACT}#prod#3", "--json"],
    }


# ``{i}`` makes each run a fresh write (a new artifact, a new stage).
WRITES = {
    "register": ["register", "bench/new-{i}"],
    "assign": ["assign", ARTIFACT, "--version", "v0.1.0", "--stage", "qa{i}"],
}


def run(sizes: Sequence[int], runs: int, gto_venv: Path | None) -> str:
    git = shutil.which("git")
    real_gto = [str(gto_venv / "bin" / "gto")] if gto_venv else None
    env = {"GTO_EMOJIS": "false", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x"}
    rows: list[str] = []
    header = (
        "| command | tags | gto_dulwich | git for-each-ref | GTO 1.10.1 | ours/git | GTO/ours |"
    )
    rows += [header, "|---|---|---|---|---|---|---|"]
    startup = measure([sys.executable, "-c", "pass"], ROOT, runs)
    cli_import = measure([sys.executable, "-c", "import gto_dulwich.cli"], ROOT, runs)
    variants = [(size, False) for size in sizes]
    if 4000 in sizes:
        variants.append((4000, True))
    for size, loose in variants:
        repo = repository(size, loose=loose)
        label = f"{size:,}{' loose' if loose else ''}"
        baseline = (
            measure([git, "for-each-ref", "refs/tags", f"--format={GIT_FORMAT}"], repo, runs)
            if git
            else None
        )
        for name, args in commands().items():
            ours = measure([*gto_command(), *args], repo, runs, env)
            theirs = (
                measure(
                    [*real_gto, *args],
                    repo,
                    runs if size <= 400 else 1,
                    env,
                    cap=GTO_CAP_SECONDS,
                    warmup=size <= 400,
                )
                if real_gto and not loose and size <= 25_000
                else None
            )
            rows.append(_row(name, label, ours, baseline, theirs))
        for name, args in WRITES.items():
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / "repo"
                shutil.copytree(repo, copy, symlinks=True)
                ours = _write_timing([*gto_command(), *args], copy, runs, env)
            rows.append(_row(name, label, ours, None, None))
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}. Whole processes, "
        f"median of {runs} runs after a warm-up (min–max), peak RSS.",
        f"Interpreter start-up (`python -c pass`): {startup.cell()}.",
        f'`python -c "import gto_dulwich.cli"`: {cli_import.cell()}.',
        "",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def _write_timing(argv: list[str], repo: Path, runs: int, env: dict[str, str]) -> Timing:
    """Writes change the repository, so each run gets its own version/counter."""
    walls, peaks = [], []
    for index in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [a.format(i=index) for a in argv],
            cwd=repo,
            env=_environment(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _pid, _status, usage = _wait(proc, None)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} failed in {repo}")
        if index:
            walls.append(time.perf_counter() - start)
            peaks.append(usage.ru_maxrss / 1024)
    return Timing(statistics.median(walls), min(walls), max(walls), max(peaks))


def _row(name: str, label: str, ours: Timing, git: Timing | None, gto: Timing | None) -> str:
    ratio_git = f"{ours.median / git.median:.1f}×" if git and git.median else "–"
    if gto is None or gto.exit_code:
        ratio_gto = "–"
    elif gto.capped:
        ratio_gto = f"> {GTO_CAP_SECONDS / ours.median:.0f}×"
    else:
        ratio_gto = f"{gto.median / ours.median:.0f}×"
    return (
        f"| `{name}` | {label} | {ours.cell()} | {git.cell() if git else 'no git'} | "
        f"{gto.cell() if gto else 'not run'} | {ratio_git} | {ratio_gto} |"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="400,4000,25000,100000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "RESULTS.md")
    args = parser.parse_args(argv)
    venv = os.environ.get("GTO_VENV")
    report = run([int(s) for s in args.sizes.split(",")], args.runs, Path(venv) if venv else None)
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
