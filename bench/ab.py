"""Two builds of gto_dulwich side by side: every read of ``run.py``, warm and cold.

    python bench/ab.py --before /path/to/old/.venv/bin/gto --tags 25000 --runs 5

runs each command of ``run.py`` (caches warm, then ``--no-cache``) with the ``--before``
build and with this checkout's, one after the other for each command, on the same
generated repository.  Each build's warm-up run fills the caches (in its own format, if
the two differ) before its measured runs, so a warm row compares warm reads.  The table
gives the medians of wall and CPU time (user + system, which other jobs on a shared
machine disturb less) and the CPU ratio after/before.  Used to show a restructuring
changed no speed (issue #12), or what an optimisation bought.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    Timing,
    _load,
    cold_commands,
    commands,
    gto_command,
    measure,
    repository,
)

ENV = {"GTO_EMOJIS": "false"}


def _cell(timing: Timing) -> str:
    return f"{timing.median:.3f} s, {timing.cpu:.3f} s"


def compare(before: Path, tags: int, runs: int) -> list[str]:
    repo = repository(tags)
    builds = {"before": [str(before)], "after": gto_command()}
    lines = [
        "| command | tags | before: wall, CPU | after: wall, CPU | CPU after/before |",
        "|---|---|---|---|---|",
    ]
    rows = list(commands().items())
    rows += [
        (f"--no-cache {name}", ["--no-cache", *args]) for name, args in cold_commands().items()
    ]
    for name, args in rows:
        found = {label: measure([*argv, *args], repo, runs, ENV) for label, argv in builds.items()}
        ratio = found["after"].cpu / found["before"].cpu if found["before"].cpu else float("nan")
        lines.append(
            f"| `{name}` | {tags:,} | {_cell(found['before'])} | {_cell(found['after'])} "
            f"| {ratio:.2f}× |"
        )
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other build's gto")
    parser.add_argument("--tags", type=int, default=25_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not os.access(args.before, os.X_OK) or shutil.which(str(args.before)) is None:
        parser.error(f"--before {args.before} is not an executable")
    start = _load(os.getloadavg())
    table = compare(args.before, args.tags, args.runs)
    print(f"Load average at the start: {start}; at the end: {_load(os.getloadavg())}.\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
