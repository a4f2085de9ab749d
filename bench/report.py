"""``gto report`` against ``show --json`` on generated registries; writes bench/RESULTS-report.md.

Whole processes, timed as bench/run.py times them (median after a warm-up, peak RSS),
on the same generated repositories.  ``show --json`` is answered from the state cache
after the warm-up; the report needs every event, so it is compared with the reads that
do that work too: ``show --json`` without the state cache (tag cache warm, as for the
report) and with no cache at all.  A second table splits one in-process report into
reading the registry and writing the site.

Usage: ``python bench/report.py [--sizes 400,25000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import STATE_FILES, Timing, gto_command, measure, repository

ROOT = Path(__file__).resolve().parent


def _split(repo: Path, runs: int) -> tuple[float, float, int, int]:
    """Median seconds to read the registry and to write the site, in one process."""
    from gto_dulwich.report import build_report
    from gto_dulwich.site import write_site

    reads, writes = [], []
    size = pages = 0
    for _ in range(runs):
        start = time.perf_counter()
        report = build_report([str(repo)], title="bench", generated_at="2026-01-01T00:00:00")
        middle = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            written = write_site(report, Path(scratch) / "site", as_json=True)
            end = time.perf_counter()
            site = Path(scratch) / "site"
            size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
            pages = written.artifact_pages
        reads.append(middle - start)
        writes.append(end - middle)
    return statistics.median(reads), statistics.median(writes), size, pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="400,25000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    gto = gto_command()
    rows: list[tuple[str, int, Timing]] = []
    splits: list[str] = []
    for tags in (int(s) for s in args.sizes.split(",")):
        repo = repository(tags)
        with tempfile.TemporaryDirectory() as scratch:
            out = str(Path(scratch) / "site")

            def forget(_index: int, repo: Path = repo) -> None:
                for name in STATE_FILES:
                    (repo / ".git" / name).unlink(missing_ok=True)

            report = [*gto, "report", "-o", out, "-r", str(repo)]
            variants: dict[str, tuple[list[str], Callable[[int], None] | None]] = {
                "show --json": ([*gto, "show", "--json"], None),
                "show --json, no state cache": ([*gto, "show", "--json"], forget),
                "--no-cache show --json": ([*gto, "--no-cache", "show", "--json"], None),
                "report -o DIR": (report, None),
                "report -o DIR --json": ([*report, "--json"], None),
                "--no-cache report -o DIR": ([*gto, "--no-cache", *report[1:]], None),
            }
            # Interleaved rounds (each command once per round), so a change in the load of
            # a shared machine hits every command alike; the first round warms up.
            samples: dict[str, list[Timing]] = {name: [] for name in variants}
            for round_ in range(args.runs + 1):
                for name, (command, before) in variants.items():
                    timing = measure(command, repo, 1, warmup=False, before=before)
                    if round_:
                        samples[name].append(timing)
            for name, timings in samples.items():
                walls = [t.median for t in timings]
                rss = max(t.rss_mb for t in timings)
                rows.append(
                    (name, tags, Timing(statistics.median(walls), min(walls), max(walls), rss))
                )
            shutil.rmtree(out, ignore_errors=True)
        read, write, size, pages = _split(repo, 3)
        splits.append(
            f"| {tags:,} | {read:.3f} s | {write:.3f} s | {pages} | {size / 1e6:.1f} MB |"
        )
    lines = [
        "# `gto report` benchmark",
        "",
        f"Machine: 2 cores (shared), Python {sys.version.split()[0]}. Whole processes, "
        f"median of {args.runs} interleaved rounds after a warm-up round (min–max), peak RSS; "
        "same generated repositories as bench/RESULTS.md (`bench/generate.py`).",
        "",
        "| command | tags | time |",
        "|---|---|---|",
        *(f"| `{name}` | {tags:,} | {timing.cell()} |" for name, tags, timing in rows),
        "",
        "One report in one process (median of 3): reading the registry (every event, the",
        "annotations at HEAD) and rendering and writing the site with `registry.json`.",
        "",
        "| tags | read | write | artifact pages | site size |",
        "|---|---|---|---|---|",
        *splits,
        "",
    ]
    (ROOT / "RESULTS-report.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
