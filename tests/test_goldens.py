"""Conformance: every captured GTO 1.10.1 command gives the same output here.

Each ``fixtures/golden/<name>.json`` was captured from the real GTO on the
repository that ``fixtures/<name>.yaml`` describes (see fixtures/README.md).
We rebuild the same repository with dulwich, run the same command through our
CLI with the same environment, and compare stdout and the exit code exactly.
Where we deliberately differ (GTO bugs we fix), ``fixtures/differences.yaml``
says what we print instead and why; each entry is listed in the README.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import build_repo, load_spec
from tests.helpers import run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN = FIXTURES / "golden"


@dataclass(frozen=True)
class Case:
    fixture: str
    index: int
    args: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def id(self) -> str:
        return f"{self.fixture}:{' '.join(self.args)}"


def _load_differences() -> dict[tuple[str, tuple[str, ...]], dict[str, Any]]:
    path = FIXTURES / "differences.yaml"
    if not path.exists():
        return {}
    entries = load_spec(path).get("differences", [])
    return {(e["fixture"], tuple(e["args"])): e for e in entries}


DIFFERENCES = _load_differences()


def _cases() -> Iterator[Case]:
    for golden in sorted(GOLDEN.glob("*.json")):
        data = json.loads(golden.read_text())
        for index, command in enumerate(data["commands"]):
            yield Case(
                data["fixture"],
                index,
                tuple(command["args"]),
                dict(command.get("env") or {}),
                command["exit_code"],
                command["stdout"],
                command["stderr"],
            )


CASES = list(_cases())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture repository, built once per test module."""
    repos: dict[str, Path] = {}
    for name in sorted({case.fixture for case in CASES}):
        dest = tmp_path_factory.mktemp(name) / "repo"
        build_repo(load_spec(FIXTURES / f"{name}.yaml"), dest)
        repos[name] = dest
    return repos


def _expected(case: Case, repo: Path) -> tuple[int, str, dict[str, Any] | None]:
    difference = DIFFERENCES.get((case.fixture, case.args))
    if difference is not None:
        return (
            difference.get("exit_code", case.exit_code),
            difference.get("stdout", case.stdout).replace("<REPO>", str(repo)),
            difference,
        )
    return case.exit_code, case.stdout.replace("<REPO>", str(repo)), None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_command_matches_gto(case: Case, built: dict[str, Path]) -> None:
    repo = built[case.fixture]
    exit_code, stdout, difference = _expected(case, repo)
    result = run_cli(list(case.args), cwd=repo, env={"GTO_EMOJIS": "false", **case.env})
    assert "Traceback" not in result.stderr
    if difference is not None and "stderr_contains" in difference:
        assert difference["stderr_contains"] in result.stderr
    assert (result.exit_code, result.stdout) == (exit_code, stdout)
    if exit_code == 1 and difference is None:
        # Same one-line error as GTO (we may add detail after it).
        gto_line = case.stderr.strip().splitlines()[-1].removeprefix("❌ ").strip()
        assert result.stderr.strip().startswith(gto_line.split(":")[0])


def test_every_difference_is_used() -> None:
    """A stale entry in differences.yaml would silently stop checking a command."""
    captured = {(case.fixture, case.args) for case in CASES}
    assert set(DIFFERENCES) <= captured
