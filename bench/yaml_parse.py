"""Parse an ``artifacts.yaml`` of 1,000 annotated artifacts (issue #16: <= 50 ms).

Usage::

    python bench/yaml_parse.py [--entries 1000] [--runs 15] [--out bench/RESULTS-yaml.md]

Times, in this process, the median of ``--runs`` parses of the same bytes by:
``parse_index`` (what a registry read does: the bounded loader, then GTO's
validation), the bounded loader alone (its pure-Python fast path answers this
document, gto_dulwich.yamlfast), the full path it falls back to (libyaml events),
that path's pure-Python fallback, and ruamel's pure safe loader as the baseline
(what every read used before).

Then, per process, the median of ``--process-runs`` runs of ``python -c`` that import
the loader and parse a small ``artifacts.yaml``: through ``load_yaml_bounded`` (the
fast path, no ruamel import) and forced down the full path (imports ruamel).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gto_dulwich import yamlfast, yamlsafe  # noqa: E402
from gto_dulwich.annotations import parse_index  # noqa: E402

TARGET_MS = 50.0


def artifacts_yaml(entries: int) -> bytes:
    """Entries as GTO users write them: type, path, labels, a description, custom data."""
    lines = []
    for i in range(entries):
        lines.append(
            f"model-{i}:\n"
            "  type: model\n"
            f"  path: models/m{i}.pkl\n"
            "  virtual: false\n"
            f"  labels: [team-{i % 5}, prod]\n"
            f"  description: Model number {i}, trained on the {i % 12 + 1}th month\n"
            "  custom:\n"
            f"    owner: team-{i % 7}\n"
            f"    size: {i * 3}\n"
        )
    return "".join(lines).encode()


def median_ms(parse: Callable[[bytes], Any], data: bytes, runs: int) -> float:
    parse(data)  # imports and first-use set-up are not what is measured
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        parse(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def process_ms(codes: list[str], runs: int) -> list[float]:
    """Median wall time of ``python -c code`` in a fresh process, imports included, for
    each of ``codes``, run in turn so that the machine's noise falls on all of them."""
    # As installed: .pyc files written (by the warm-up run) and used, whatever this shell says.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = [[sys.executable, "-c", code] for code in codes]
    times: list[list[float]] = [[] for _ in commands]
    for round_ in range(runs + 1):
        for command, spent in zip(commands, times, strict=True):
            started = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT, env=env)
            if round_:  # the first round warms the file cache and writes .pyc files
                spent.append(time.perf_counter() - started)
    return [statistics.median(spent) * 1000 for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--process-runs", type=int, default=21)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-yaml.md")
    args = parser.parse_args()
    from ruamel.yaml import YAML

    data = artifacts_yaml(args.entries)
    fast = yamlfast.parse(data, max_depth=yamlsafe.MAX_DEPTH, max_nodes=yamlsafe.MAX_NODES)
    if fast is yamlfast.UNUSUAL or fast != yamlsafe._load_full(data, "x"):
        raise SystemExit("the fast path must answer this document, and as the full path does")
    rows = [
        ("parse_index (registry read)", parse_index),
        (
            "load_yaml_bounded (pure-Python fast path)",
            lambda d: yamlsafe.load_yaml_bounded(d, where="x"),
        ),
        ("full path (libyaml events), forced", lambda d: yamlsafe._load_full(d, "x")),
        ("pure fallback (ruamel pure, bounded)", lambda d: yamlsafe._pure(d, "x")),
        ("baseline: ruamel pure safe load", lambda d: YAML(typ="safe", pure=True).load(d)),
    ]
    results = [(name, median_ms(parse, data, args.runs)) for name, parse in rows]
    baseline = results[-1][1]
    small = artifacts_yaml(3)
    load = f"import gto_dulwich.yamlsafe as y; DOC = {small!r}; "
    processes = [
        ("import only: `import gto_dulwich.yamlsafe`", load),
        (
            "`y.load_yaml_bounded(DOC, where='x')` (fast path)",
            load + "y.load_yaml_bounded(DOC, where='x')",
        ),
        ("`y._load_full(DOC, 'x')` (full path, forced)", load + "y._load_full(DOC, 'x')"),
    ]
    medians = process_ms([code for _, code in processes], args.process_runs)
    per_process = [(name, ms) for (name, _), ms in zip(processes, medians, strict=True)]
    lines = [
        f"# Parsing artifacts.yaml: {args.entries:,} entries, {len(data):,} bytes",
        "",
        f"Median of {args.runs} parses in one process (`python bench/yaml_parse.py`); "
        f"target for a registry read: <= {TARGET_MS:.0f} ms (issue #16).",
        "",
        "| parser | median ms | vs baseline |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} | {baseline / ms:.1f}x |" for name, ms in results]
    verdict = "met" if results[0][1] <= TARGET_MS else "NOT met"
    lines += ["", f"Target {verdict}: parse_index took {results[0][1]:.1f} ms.", ""]
    lines += [
        f"## Per process: {len(small)} bytes of artifacts.yaml",
        "",
        f"Median wall time of {args.process_runs} runs of `python -c` (interpreter start, "
        "imports and the parse), the three taking turns.",
        "",
        "| python -c | median ms |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in per_process]
    saved = per_process[2][1] - per_process[1][1]
    lines += ["", f"The fast path saves {saved:.1f} ms per process on this file.", ""]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
