"""How close pure Python can come to git's floor for a whole-registry cold read.

    python bench/floor.py [--tags 25000] [--runs 9]

Times, as whole processes on the generated repository (``run.py``'s), the floor of
issue #16 (``git for-each-ref`` inflating every tag object, plus interpreter
start-up) against the least a pure-Python cold read must do: list the tag refs from
``packed-refs``, inflate every tag object with the pack reader and match its header.
That process parses no tag name, builds no event, folds no state and writes nothing,
so whatever it costs above the floor, a whole ``--no-cache show --json`` costs more.
Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import FLOOR_FORMAT, _load, gto_command, measure, repository

# The least a cold read does, in the package's own readers (so no import is spared).
LEAST = """
from gto_dulwich.packscan import PackScanner
from gto_dulwich.repo import _TAG_HEADER, parse_packed_refs

with open(".git/packed-refs", "rb") as handle:
    refs = parse_packed_refs(handle.read())[0]
scanner = PackScanner(".git/objects")
scanner.expect(len(refs))
match = _TAG_HEADER.match
read = sum(
    1 for sha, _peeled in refs.values() if (found := scanner.get(sha)) and match(found[1])
)
"""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tags", type=int, default=25_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    git = shutil.which("git")
    if git is None:
        print("Skipped: no git binary for the floor.")
        return 0
    repo = repository(args.tags)
    started = _load(os.getloadavg())
    startup = measure([sys.executable, "-c", "pass"], repo, args.runs)
    floor = measure([git, "for-each-ref", "refs/tags", f"--format={FLOOR_FORMAT}"], repo, args.runs)
    least = measure([sys.executable, "-c", LEAST], repo, args.runs)
    show = measure([*gto_command(), "--no-cache", "show", "--json"], repo, args.runs)
    base = floor.median + startup.median
    print(f"{args.tags:,} tags, medians of {args.runs} runs; load average {started}.\n")
    print("| process | time | / floor |")
    print("|---|---|---|")
    print(f"| floor: git for-each-ref + start-up | {base:.3f} s | 1.00 |")
    ratio = least.median / base
    print(f"| least pure-Python read of every tag object | {least.median:.3f} s | {ratio:.2f} |")
    print(f"| `gto --no-cache show --json` | {show.median:.3f} s | {show.median / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
