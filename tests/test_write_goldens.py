"""Conformance of the write commands: each captured GTO 1.10.1 step does the same here.

Every ``fixtures/golden/writes/<scenario>.json`` was captured by
``fixtures/capture_writes.py`` from the real GTO: a base repository (stored in
the golden, so we rebuild exactly what GTO saw) and an ordered list of
``register`` / ``assign`` / ``deprecate`` steps, each with its exit code,
output, and the tags it added and removed.  We rebuild the repository with
dulwich, run the same steps in the same order through our CLI, and compare
step by step: exit code, stdout, GTO's error message (which must start ours),
and the added/removed tags (name, target commit, message, tagger).

GTO stamps tags with the wall clock (the capture pauses between steps); we give
step ``i`` the tag time ``GIT_COMMITTER_DATE = base + i``, after every time in
the base repository, so events sort in the same order.

Where we deliberately differ from GTO, ``DIFFERENCES`` says why and what we do
instead; each such step is the last one of its scenario, so the difference does
not change what the following steps see.  ``KNOWN_BUGS`` lists the steps where we
differ without meaning to; they are strict xfails until the product is fixed
(or the difference is documented and moved to ``DIFFERENCES``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import TagData, build_repo, diff_tags, tag_snapshot
from tests.helpers import FIXTURES, Result, run_cli

GOLDEN = FIXTURES / "golden" / "writes"
_SHA = re.compile(r"\{sha:([^}]+)\}")
NAME, EMAIL = "GTO Tester", "gtotester@example.com"
TAGGER = f"{NAME} <{EMAIL}>"
# The environment of every step (the capture ran GTO with the same, minus GIT_*).
STEP_ENV: Mapping[str, str] = {
    "GTO_EMOJIS": "false",
    "COLUMNS": "200",
    "TZ": "UTC",
    "GIT_COMMITTER_NAME": NAME,
    "GIT_COMMITTER_EMAIL": EMAIL,
}


@dataclass(frozen=True)
class Ours:
    """What we do instead of what GTO did, at one step."""

    why: str
    exit_code: int
    stdout: str = ""
    error: str | None = None
    """The start of our error message (stderr without the leading "❌ ")."""
    added: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Tags we create: name -> (commit id in the base repository, message)."""
    removed: tuple[str, ...] = ()


# (scenario, step index) -> our outcome where we deliberately differ from GTO 1.10.1.
# In `error` and `stdout`, {sha:ID} stands for the SHA of commit ID of the base repository.
DIFFERENCES: dict[tuple[str, int], Ours] = {
    ("assign_skip_registration", 4): Ours(
        why="GTO skipped the 'already in stage' check for versions without a registration "
        "(--sr) and created other#dev#2 although other's commit was already in dev; we "
        "check every version (gto_dulwich/plan.py, plan_assign).",
        exit_code=1,
        error="Version '{sha:c3}' is already in stage 'dev'. Use the '--force' flag",
    ),
    ("deprecate_unassign", 13): Ours(
        why="README 'Unassigning needs an active assignment': GTO only checked that the stage "
        "had ever been assigned, so it unassigned staging from v1.2.4 a second time.",
        exit_code=1,
        error="Stage 'staging' is not assigned to a version 'v1.2.4'",
    ),
    ("reregister_after_deregister", 2): Ours(
        why="README 'Auto-versioning never proposes a taken version': with every version "
        "deregistered GTO proposed v0.0.1 again and failed on the existing tag.",
        exit_code=0,
        stdout="Created git tag 'z@v0.0.2' that registers version\n"
        "To push the changes upstream, run:\n"
        "    git push origin z@v0.0.2\n",
        added={"z@v0.0.2": ("c2", "Registering artifact z version v0.0.2")},
    ),
    ("counters", 11): Ours(
        why="README 'Nothing is half-written': GTO created the registration an@v1.0.2, then "
        "failed on the existing assignment tag an#qa and kept the registration.",
        exit_code=1,
        error="tag 'an#qa' already exists",
    ),
}

# Steps where we differ from GTO without meaning to: expected to fail until fixed
# (strict, so a fix shows up as XPASS and the entry must go).
KNOWN_BUGS: dict[tuple[str, int], str] = {}


@dataclass(frozen=True)
class Step:
    scenario: str
    index: int
    args: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str
    added: dict[str, TagData]
    removed: dict[str, TagData]

    @property
    def id(self) -> str:
        return f"{self.scenario}[{self.index}]:{' '.join(self.args)}"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


SCENARIOS: dict[str, dict[str, Any]] = {p.stem: _load(p) for p in sorted(GOLDEN.glob("*.json"))}
STEPS = [
    Step(
        name,
        index,
        tuple(step["args"]),
        dict(step["env"]),
        step["exit_code"],
        step["stdout"],
        step["stderr"],
        step["added"],
        step["removed"],
    )
    for name, data in SCENARIOS.items()
    for index, step in enumerate(data["steps"])
]


def base_time(spec: Mapping[str, Any]) -> int:
    """A tag time after every commit and tag of the base repository (unix seconds)."""
    latest = 0
    for item in [*(spec.get("commits") or []), *(spec.get("tags") or [])]:
        if "time" in item:
            latest = max(latest, int(dt.datetime.fromisoformat(item["time"]).timestamp()))
    return latest + 86_400


@dataclass(frozen=True)
class Outcome:
    result: Result
    added: dict[str, TagData]
    removed: dict[str, TagData]
    repo: Path
    commits: dict[str, str]


def run_scenario(name: str, dest: Path) -> list[Outcome]:
    """Build the scenario's base repository and run every step in order."""
    data = SCENARIOS[name]
    built = build_repo(data["repo"], dest)
    assert built.commits == data["commits"], "the base repository differs from GTO's"
    start = base_time(data["repo"])
    outcomes: list[Outcome] = []
    tags = tag_snapshot(built.path)
    with pytest.MonkeyPatch.context() as patch:
        # Nothing from the developer's environment: only what the step sets.
        for key in list(os.environ):
            if key.startswith(("GIT_", "GTO_")):
                patch.delenv(key)
        for index, step in enumerate(data["steps"]):
            env = {**STEP_ENV, "GIT_COMMITTER_DATE": f"{start + index} +0000", **step["env"]}
            result = run_cli(step["args"], cwd=built.path, env=env)
            after = tag_snapshot(built.path)
            added, removed = diff_tags(tags, after)
            tags = after
            outcomes.append(Outcome(result, added, removed, built.path, built.commits))
    return outcomes


@pytest.fixture(scope="module")
def scenario_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], list[Outcome]]:
    """Runs each scenario once (its steps depend on each other), on first use."""
    cache: dict[str, list[Outcome]] = {}

    def get(name: str) -> list[Outcome]:
        if name not in cache:
            cache[name] = run_scenario(name, tmp_path_factory.mktemp(name) / "repo")
        return cache[name]

    return get


def test_goldens_exist() -> None:
    assert SCENARIOS, f"no write goldens in {GOLDEN}"
    for scenario, index in DIFFERENCES:
        assert scenario in SCENARIOS, scenario
        assert index == len(SCENARIOS[scenario]["steps"]) - 1, (
            f"{scenario}[{index}]: a difference must be the last step of its scenario"
        )
    for scenario, index in KNOWN_BUGS:
        assert index < len(SCENARIOS.get(scenario, {}).get("steps", [])), (scenario, index)


def _param(step: Step) -> Any:
    bug = KNOWN_BUGS.get((step.scenario, step.index))
    marks = [pytest.mark.xfail(reason=bug, strict=True)] if bug else []
    return pytest.param(step, id=step.id, marks=marks)


def _expand(text: str, commits: Mapping[str, str]) -> str:
    return _SHA.sub(lambda m: commits[m.group(1)], text)


@pytest.mark.parametrize("step", [_param(s) for s in STEPS])
def test_step_matches_gto(step: Step, scenario_runs: Callable[[str], list[Outcome]]) -> None:
    outcome = scenario_runs(step.scenario)[step.index]
    result = outcome.result
    assert "Traceback" not in result.stderr
    ours = DIFFERENCES.get((step.scenario, step.index))
    if ours is not None:
        stdout = _expand(ours.stdout, outcome.commits)
        assert (result.exit_code, result.stdout) == (ours.exit_code, stdout), result.stderr
        if ours.error is not None:
            error = _expand(ours.error, outcome.commits)
            assert result.stderr.removeprefix("❌ ").startswith(error), result.stderr
        expected_added = {
            tag: {"target": outcome.commits[commit], "message": message, "tagger": TAGGER}
            for tag, (commit, message) in ours.added.items()
        }
        assert outcome.added == expected_added
        assert sorted(outcome.removed) == sorted(ours.removed)
        return
    assert (result.exit_code, result.stdout) == (step.exit_code, step.stdout), result.stderr
    if step.exit_code == 1:
        # The same error as GTO: its one-line message starts ours (we may add detail).
        gto_message = step.stderr.replace("<REPO>", str(outcome.repo)).strip().splitlines()[0]
        gto_message = gto_message.removeprefix("❌ ").removeprefix("Unexpected error: ")
        assert result.stderr.strip().removeprefix("❌ ").startswith(gto_message), result.stderr
    assert outcome.added == step.added
    assert outcome.removed == step.removed
