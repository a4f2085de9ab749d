"""Benchmark whole processes on generated registries; write bench/RESULTS.md.

Every measurement is a fresh process (what a CI step or a container pays),
timed several times after a warm-up: median and min-max wall time, and peak RSS.
The warm-up also fills our caches in the git directory, so ``show --json`` is
the answer from the state cache; three more rows show what it costs otherwise:
``one new tag`` (a tag was added since the last run, the common CI case: only
that artifact's tags are read again), ``no state cache`` (the state cache
files removed before each run: every artifact summarised again, the tag cache
still warm) and ``--no-cache`` (nothing cached: every tag object read).

Baselines run in the same session on the same repositories: ``git for-each-ref``
when a git binary is present, and the real GTO 1.10.1 when ``GTO_VENV`` names a
virtual environment that has it (each GTO run capped at 120 s; ``--gto-sizes``
chooses the sizes it runs at, ``--gto-from`` reuses the GTO cells of an
earlier RESULTS.md for the others, marked as such).

Usage: ``python bench/run.py [--sizes 400,4000,25000,100000] [--runs 5]
[--gto-sizes 400,4000] [--gto-from bench/RESULTS.md]``
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent
REPOS = ROOT / "repos"
GTO_CAP_SECONDS = 120.0
GIT_FORMAT = "%(refname) %(objectname) %(*objectname) %(taggerdate:unix)"
# The floor of a cold read: git inflating every tag object for what a registry needs.
FLOOR_FORMAT = (
    "%(objectname) %(*objectname) %(taggername) %(taggeremail) %(taggerdate:raw) "
    "%(contents:subject)"
)
# Cold rows (issue #16) at these sizes: no cache at all, against the floor.
COLD_SIZES = (25_000, 100_000)
ARTIFACT = "team1/model-1"
STATE_FILES = ("gto_dulwich-state.json", "gto_dulwich-artifacts.json")


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float
    rss_mb: float
    capped: bool = False
    exit_code: int = 0
    reused: str = ""  # the cell of an earlier run, shown as it was
    cpu: float = 0.0  # median user + system CPU seconds: less at the mercy of other jobs

    def cell(self) -> str:
        if self.reused:
            return f"{self.reused} †"
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
    before: Callable[[int], None] | None = None,
) -> Timing:
    """Run ``argv`` once to warm up, then ``runs`` times; wall time and peak RSS per run.

    ``before(i)`` runs (untimed) before each run.
    """
    walls: list[float] = []
    peaks: list[float] = []
    cpus: list[float] = []
    environment = _environment(env)
    for index in range(0 if warmup else 1, runs + 1):
        if before is not None:
            before(index)
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
            cpus.append(usage.ru_utime + usage.ru_stime)
    timing = Timing(
        statistics.median(walls),
        min(walls),
        max(walls),
        max(peaks),
        cpu=statistics.median(cpus),
    )
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
        "history --json": ["history", "--json"],
        "doctor": ["doctor"],
    }


def cold_commands() -> dict[str, list[str]]:
    """Every read with no cache at all (``--no-cache``): a fresh CI clone."""
    return {
        "show --json": ["show", "--json"],
        "history --json": ["history", "--json"],
        "show NAME --json": ["show", ARTIFACT, "--json"],
        "check-ref TAG --json": ["check-ref", f"{ARTIFACT}#prod#3", "--json"],
        "latest NAME": ["latest", ARTIFACT],
        "which NAME STAGE": ["which", ARTIFACT, "prod"],
        "history NAME --json": ["history", ARTIFACT, "--json"],
        "doctor": ["doctor"],
    }


# Issue #16's limits as ratios to the floor, by (command, tags); None: no target.
COLD_LIMITS: dict[tuple[str, int], float] = {
    ("show --json", 25_000): 2.0,
    ("history --json", 25_000): 2.0,
    ("show NAME --json", 25_000): 1.0,
    ("check-ref TAG --json", 25_000): 1.0,
    ("latest NAME", 25_000): 1.0,
    ("which NAME STAGE", 25_000): 1.0,
    ("show --json", 100_000): 2.5,
}
COLD_RSS_MB = 120


def repacked(tags: int) -> Path | None:
    """The generated repository after ``git repack -adf``, as git leaves a registry after
    ``gc --aggressive`` and as a clone receives it: most tag objects delta-encoded."""
    git = shutil.which("git")
    if git is None:
        return None
    path = REPOS / f"{tags}-repacked"
    if not path.exists():
        shutil.copytree(repository(tags), path, symlinks=True)
        subprocess.run([git, "-C", str(path), "repack", "-adfq"], check=True)
    return path


def cold(sizes: Sequence[int], runs: int, startup: Timing, env: dict[str, str]) -> list[str]:
    """Issue #16's table: every read with no cache, against git reading every tag object."""
    git = shutil.which("git")
    if git is None:
        return ["## Cold reads (issue #16)", "", "Skipped: no git binary for the floor."]
    lines = [
        "## Cold reads (issue #16): no cache at all",
        "",
        "Every command with `--no-cache` (what a fresh CI clone pays). The floor is",
        f"`git for-each-ref refs/tags --format='{FLOOR_FORMAT}'`, which inflates every tag",
        "object, plus interpreter start-up, both measured in this run. `repacked`: the same",
        "repository after `git repack -adf` (most tag objects delta-encoded, as after",
        "`git gc` or in a clone). Ratios are of wall-clock medians, as the targets are",
        "stated; the CPU column (user + system) is what other jobs on the machine disturb less.",
        "",
        "| command | tags | gto_dulwich | floor (git + start-up) | ratio | CPU: ours / floor | "
        "target | met? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts: list[bool] = []
    variants: list[tuple[str, int, Path]] = []
    for size in sizes:
        if size in COLD_SIZES:
            variants.append((f"{size:,}", size, repository(size)))
            if size == COLD_SIZES[0]:
                extra = repacked(size)
                if extra is not None:
                    variants.append((f"{size:,} repacked", size, extra))
    for label, size, repo in variants:
        floor_git = measure(
            [git, "for-each-ref", "refs/tags", f"--format={FLOOR_FORMAT}"], repo, runs
        )
        floor = floor_git.median + startup.median
        floor_cpu = floor_git.cpu + startup.cpu
        for name, args in cold_commands().items():
            ours = measure([*gto_command(), "--no-cache", *args], repo, runs, env)
            ratio = ours.median / floor
            limit = COLD_LIMITS.get((name, size))
            checks = []
            if limit is not None:
                checks.append(ratio <= limit)
            if size == 100_000:
                checks.append(ours.rss_mb <= COLD_RSS_MB)
            met = "–" if not checks else ("yes" if all(checks) else "**no**")
            verdicts.extend(checks)
            target = []
            if limit is not None:
                target.append(f"≤ {limit:.1f}×")
            if size == 100_000:
                target.append(f"≤ {COLD_RSS_MB} MB")
            lines.append(
                f"| `{name}` | {label} | {ours.cell()} | {floor:.3f} s "
                f"({floor_git.median:.3f} + {startup.median:.3f}) | {ratio:.1f}× | "
                f"{ours.cpu:.3f} / {floor_cpu:.3f} s = {ours.cpu / floor_cpu:.1f}× | "
                f"{', '.join(target) or '–'} | {met} |"
            )
    lines += ["", f"Targets met: {sum(verdicts)} of {len(verdicts)}."]
    return lines


# ``{i}`` makes each run a fresh write (a new artifact, a new stage).
WRITES = {
    "register": ["register", "bench/new-{i}"],
    "assign": ["assign", ARTIFACT, "--version", "v0.1.0", "--stage", "qa{i}"],
}


def run(
    sizes: Sequence[int],
    runs: int,
    gto_venv: Path | None,
    gto_sizes: Sequence[int],
    gto_from: dict[tuple[str, str], Timing],
) -> str:
    git = shutil.which("git")
    real_gto = [str(gto_venv / "bin" / "gto")] if gto_venv else None
    env = {"GTO_EMOJIS": "false", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x"}
    rows: list[str] = []
    header = (
        "| command | tags | gto_dulwich | git for-each-ref | GTO 1.10.1 | ours/git | GTO/ours |"
    )
    rows += [header, "|---|---|---|---|---|---|---|"]
    load_before = os.getloadavg()
    startup = measure([sys.executable, "-c", "pass"], ROOT, runs)
    cli_import = measure([sys.executable, "-c", "import gto_dulwich.cli"], ROOT, runs)
    results: dict[tuple[str, str], tuple[Timing, Timing | None, Timing | None]] = {}
    variants = [(size, False) for size in sizes]
    if 4000 in sizes:
        variants.append((4000, True))
    for size, loose in variants:
        repo = repository(size, loose=loose)
        for name in STATE_FILES:  # a new version of ours: start from nothing
            (repo / ".git" / name).unlink(missing_ok=True)
        label = f"{size:,}{' loose' if loose else ''}"
        baseline = (
            measure([git, "for-each-ref", "refs/tags", f"--format={GIT_FORMAT}"], repo, runs)
            if git
            else None
        )
        for name, args in commands().items():
            ours = measure([*gto_command(), *args], repo, runs, env)
            theirs = None
            if real_gto and not loose and size in gto_sizes:
                theirs = measure(
                    [*real_gto, *args],
                    repo,
                    runs if size <= 400 else 1,
                    env,
                    cap=GTO_CAP_SECONDS,
                    warmup=size <= 400,
                )
            elif not loose:
                theirs = gto_from.get((name, label))
            results[(name, label)] = (ours, baseline, theirs)
            rows.append(_row(name, label, ours, baseline, theirs))
        for name, timing in _show_variants(repo, runs, env).items():
            results[(name, label)] = (timing, baseline, None)
            rows.append(_row(name, label, timing, baseline, None))
        for name, args in WRITES.items():
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / "repo"
                shutil.copytree(repo, copy, symlinks=True)
                ours = _write_timing([*gto_command(), *args], copy, runs, env)
            results[(name, label)] = (ours, None, None)
            rows.append(_row(name, label, ours, None, None))
    cold_lines = cold(sizes, runs, startup, env)
    load_after = os.getloadavg()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}. Whole processes, "
        f"median of {runs} runs after a warm-up (min–max), peak RSS.",
        f"Load average (1, 5, 15 min) at the start: {_load(load_before)}; at the end: "
        f"{_load(load_after)} (the machine is shared: compare rows within this run).",
        f"Interpreter start-up (`python -c pass`): {startup.cell()}.",
        f'`python -c "import gto_dulwich.cli"`: {cli_import.cell()}.',
        "",
        "`show --json` is answered from the state cache filled by the warm-up run;",
        "`show --json, one new tag`: a tag (`gto assign`) was added before each run;",
        "`show --json, no state cache`: the state cache files removed before each run",
        "(the tag cache stays warm); `--no-cache show --json`: no cache at all.",
        "",
        *rows,
    ]
    if any(t and t.reused for _o, _b, t in results.values()):
        lines += [
            "",
            "† GTO's figure from an earlier run on the same generated repository "
            "(GTO takes minutes per command at this size).",
        ]
    lines += ["", *_targets(results, startup, cli_import)]
    lines += ["", *cold_lines]
    return "\n".join(lines) + "\n"


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


def _show_variants(repo: Path, runs: int, env: dict[str, str]) -> dict[str, Timing]:
    """``show --json`` after a new tag, without the state cache, and with no cache."""
    show = [*gto_command(), "show", "--json"]
    timings = {}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "repo"
        shutil.copytree(repo, copy, symlinks=True)

        def new_tag(index: int) -> None:
            done = subprocess.run(
                [
                    *gto_command(),
                    "assign",
                    ARTIFACT,
                    "--version",
                    "v0.1.0",
                    "--stage",
                    f"nt{index}",
                ],
                cwd=copy,
                env=_environment(env),
                capture_output=True,
                check=False,
            )
            if done.returncode:
                raise RuntimeError(f"assign failed in {copy}: {done.stderr!r}")

        timings["show --json, one new tag"] = measure(show, copy, runs, env, before=new_tag)

    def forget(_index: int) -> None:
        for name in STATE_FILES:
            (repo / ".git" / name).unlink(missing_ok=True)

    timings["show --json, no state cache"] = measure(show, repo, runs, env, before=forget)
    timings["--no-cache show --json"] = measure(
        [*gto_command(), "--no-cache", "show", "--json"], repo, runs, env
    )
    return timings


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


def _targets(
    results: dict[tuple[str, str], tuple[Timing, Timing | None, Timing | None]],
    startup: Timing,
    cli_import: Timing,
) -> list[str]:
    """Issue #4's targets, each marked met or not, from this run's figures."""
    lines = ["## Targets (issue #4), from the table above", "", "| target | measured | met? |"]
    lines.append("|---|---|---|")

    def row(target: str, measured: str, met: bool | None) -> None:
        verdict = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {target} | {measured} | {verdict} |")

    def ours(name: str, label: str) -> Timing | None:
        found = results.get((name, label))
        return found[0] if found else None

    show_25k = results.get(("show --json", "25,000"))
    if show_25k is not None:
        timing, git, gto = show_25k
        if git is not None:
            limit = 2 * git.median + startup.median
            row(
                "25,000 tags: `show --json` ≤ 2× `git for-each-ref` + interpreter start-up "
                f"(2 × {git.median:.3f} + {startup.median:.3f} = {limit:.3f} s)",
                f"{timing.median:.3f} s",
                timing.median <= limit,
            )
        if gto is not None and not gto.exit_code and not gto.capped:
            row(
                "25,000 tags: `show --json` ≥ 100× faster than GTO",
                f"{gto.median / timing.median:.0f}× (GTO {gto.median:.1f} s)",
                gto.median / timing.median >= 100,
            )
        for name in ("show --json, one new tag", "show --json, no state cache"):
            other = ours(name, "25,000")
            if other is not None:
                row(
                    f"25,000 tags: `{name}` (no target; for reference)",
                    f"{other.median:.3f} s",
                    None,
                )
    quick = [ours(n, "25,000") for n in ("check-ref TAG --json", "latest NAME", "which NAME STAGE")]
    if all(quick):
        values = [t.median for t in quick if t]
        row(
            "25,000 tags: `check-ref`, `latest`, `which` ≤ 0.3 s",
            " / ".join(f"{v:.3f}" for v in values) + " s",
            max(values) <= 0.3,
        )
    writes = [ours(n, "25,000") for n in ("register", "assign")]
    if all(writes):
        values = [t.median for t in writes if t]
        row(
            "25,000 tags: `register` / `assign` ≤ 0.5 s",
            " / ".join(f"{v:.3f}" for v in values) + " s",
            max(values) <= 0.5,
        )
    show_100k = ours("show --json", "100,000")
    if show_100k is not None:
        row(
            "100,000 tags: `show --json` ≤ 2.5 s",
            f"{show_100k.median:.3f} s",
            show_100k.median <= 2.5,
        )
        for name in ("show --json, one new tag", "show --json, no state cache"):
            other = ours(name, "100,000")
            if other is not None:
                row(
                    f"100,000 tags: `{name}` (no target; for reference)",
                    f"{other.median:.3f} s, {other.rss_mb:.0f} MB",
                    None,
                )
        peaks = {n: t.rss_mb for (n, label), (t, _g, _o) in results.items() if label == "100,000"}
        cached = {n: v for n, v in peaks.items() if n != "--no-cache show --json"}
        uncached = peaks.get("--no-cache show --json", 0)
        row(
            "100,000 tags: peak memory ≤ 200 MB",
            f"{show_100k.rss_mb:.0f} MB (`show --json`); ≤ {max(cached.values()):.0f} MB for "
            f"every command with caches, {uncached:.0f} MB with `--no-cache`",
            max(cached.values()) <= 200,
        )
    for name in ("show --json", "--no-cache show --json"):
        small, large = ours(name, "25,000"), ours(name, "100,000")
        if small and large:
            ratio = large.median / small.median
            row(
                f"cost grows linearly with tags (`{name}`)",
                f"25k → 100k: {ratio:.1f}× for 4× the tags",
                ratio <= 4.4,
            )
    row(
        "`import gto_dulwich.cli` ≤ 120 ms",
        f"{cli_import.median * 1000:.0f} ms (start-up alone {startup.median * 1000:.0f} ms)",
        cli_import.median <= 0.12,
    )
    return lines


_CELL = re.compile(r"^(\d+\.\d+) s \((\d+\.\d+)–(\d+\.\d+)\), (\d+) MB$")


def earlier_gto(path: Path) -> dict[tuple[str, str], Timing]:
    """GTO's cells of an earlier RESULTS.md, by (command, tags)."""
    found: dict[tuple[str, str], Timing] = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[0].startswith("`"):
            continue
        name, label, cell = cells[0].strip("`"), cells[1], cells[4].rstrip(" †")
        match = _CELL.match(cell)
        if match:
            median, low, high, rss = match.groups()
            found[(name, label)] = Timing(
                float(median), float(low), float(high), float(rss), reused=cell
            )
        elif cell.startswith("fails"):
            found[(name, label)] = Timing(0, 0, 0, 0, exit_code=2, reused=cell)
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="400,4000,25000,100000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "RESULTS.md")
    parser.add_argument(
        "--gto-sizes", default="400,4000,25000", help="sizes at which GTO itself is run"
    )
    parser.add_argument(
        "--gto-from", type=Path, help="an earlier RESULTS.md whose GTO figures to reuse"
    )
    parser.add_argument(
        "--cold-only", action="store_true", help="only the cold rows (print, do not write)"
    )
    args = parser.parse_args(argv)
    if args.cold_only:
        startup = measure([sys.executable, "-c", "pass"], ROOT, args.runs)
        sizes = [int(s) for s in args.sizes.split(",")]
        print("\n".join(cold(sizes, args.runs, startup, {"GTO_EMOJIS": "false"})))
        return 0
    venv = os.environ.get("GTO_VENV")
    gto_from = earlier_gto(args.gto_from) if args.gto_from else {}
    report = run(
        [int(s) for s in args.sizes.split(",")],
        args.runs,
        Path(venv) if venv else None,
        [int(s) for s in args.gto_sizes.split(",") if s],
        gto_from,
    )
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
