"""Conformance: every captured GTO 1.10.1 command gives the same output here.

Each ``fixtures/golden/<name>.json`` was captured from the real GTO on the
repository that ``fixtures/<name>.yaml`` describes (see fixtures/README.md).
We rebuild the same repository with dulwich, run the same command through our
CLI with the same environment, and compare stdout and the exit code exactly.
Where we deliberately differ (GTO bugs we fix), ``fixtures/differences.yaml``
says how and why; each entry is listed in the README.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import build_repo, load_spec
from tests.helpers import FIXTURES, run_cli

GOLDEN = FIXTURES / "golden"
DIFFERENCES: dict[str, Any] = load_spec(FIXTURES / "differences.yaml")


@dataclass(frozen=True)
class Case:
    fixture: str
    args: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def id(self) -> str:
        return f"{self.fixture}:{' '.join(self.args)}"


def _cases() -> Iterator[Case]:
    for golden in sorted(GOLDEN.glob("*.json")):
        data = json.loads(golden.read_text())
        for command in data["commands"]:
            yield Case(
                data["fixture"],
                tuple(command["args"]),
                dict(command.get("env") or {}),
                command["exit_code"],
                command["stdout"],
                command["stderr"],
            )


CASES = list(_cases())


def _command_rule(case: Case) -> dict[str, Any] | None:
    for rule in DIFFERENCES.get("commands", []):
        if "args" in rule and tuple(rule["args"]) == case.args:
            return dict(rule)
        if "args_include" in rule and all(a in case.args for a in rule["args_include"]):
            return dict(rule)
        if "args_any" in rule and list(case.args) in rule["args_any"]:
            return dict(rule)
    return None


def _gto_stdout(case: Case, repo: Path) -> str:
    stdout = case.stdout.replace("<REPO>", str(repo))
    for rule in DIFFERENCES.get("rules", []):
        pattern = re.compile(rule["drop_stdout_lines"])
        stdout = "".join(
            line for line in stdout.splitlines(keepends=True) if not pattern.match(line)
        )
    return stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture repository, built once per test module."""
    repos: dict[str, Path] = {}
    for name in sorted({case.fixture for case in CASES}):
        dest = tmp_path_factory.mktemp(name) / "repo"
        build_repo(load_spec(FIXTURES / f"{name}.yaml"), dest)
        repos[name] = dest
    return repos


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_command_matches_gto(case: Case, built: dict[str, Path]) -> None:
    repo = built[case.fixture]
    result = run_cli(list(case.args), cwd=repo, env={"GTO_EMOJIS": "false", **case.env})
    if "--traceback" not in case.args:
        assert "Traceback" not in result.stderr
    fixture_rule = DIFFERENCES.get("fixtures", {}).get(case.fixture, {})
    command_rule = _command_rule(case)
    if command_rule is not None:
        expect = command_rule["expect"]
        if expect != "ours":
            assert (result.exit_code, result.stdout) == (expect["exit_code"], expect["stdout"])
        return
    still_fail = {tuple(args) for args in fixture_rule.get("still_fail", [])}
    if (
        case.exit_code != 0
        and fixture_rule.get("where_gto_fails") == "succeed"
        and case.args not in still_fail
    ):
        assert result.exit_code == 0, result.stderr
        return
    differs = [tuple(prefix) for prefix in fixture_rule.get("differs", [])]
    exact = {tuple(args) for args in fixture_rule.get("differs_exact", [])}
    if case.args in exact or any(case.args[: len(prefix)] == prefix for prefix in differs):
        assert result.exit_code == case.exit_code, result.stderr
        return
    assert (result.exit_code, result.stdout) == (case.exit_code, _gto_stdout(case, repo))
    if case.exit_code == 1 and case.args not in still_fail:
        # The same error as GTO: its one-line message starts ours (we may add detail).
        gto_message = case.stderr.replace("<REPO>", str(repo)).strip().splitlines()[0]
        gto_message = gto_message.removeprefix("❌ ").removeprefix("Unexpected error: ")
        assert result.stderr.strip().removeprefix("❌ ").startswith(gto_message), result.stderr


def test_every_difference_names_a_reason_and_is_used() -> None:
    """A stale entry in differences.yaml would silently stop checking commands."""
    fixtures = {case.fixture for case in CASES}
    for name, rule in DIFFERENCES["fixtures"].items():
        assert rule["why"]
        assert name in fixtures
    for rule in DIFFERENCES["commands"]:
        assert rule["why"]
        assert any(_command_rule(case) == rule for case in CASES), rule


def test_registered_only_hides_commit_named_versions(built: dict[str, Path]) -> None:
    """GTO bug 9: ``show NAME --ro`` still listed the unregistered HEAD version."""
    full = run_cli(["show", "nn", "--plain"], cwd=built["showcase"]).stdout.splitlines()
    registered = run_cli(["show", "nn", "--ro", "--plain"], cwd=built["showcase"])
    assert len(full) == 3
    assert registered.stdout.splitlines() == full[:2]


def test_empty_artifacts_yaml_lists_nothing(built: dict[str, Path]) -> None:
    result = run_cli(["show", "--json"], cwd=built["empty_artifacts"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "a": {"version": "v1.0.0", "stage": {}, "registered": True, "active": True}
    }


def test_reregistered_version_is_one_row(built: dict[str, Path]) -> None:
    """GTO bug 8: a version registered again after its deregistration broke the table."""
    result = run_cli(["show", "x", "--plain"], cwd=built["reregistered"])
    assert result.exit_code == 0, result.stderr
    versions = [line.split()[1] for line in result.stdout.splitlines()[1:]]
    assert len(versions) == len(set(versions))


def test_tag_of_a_tag_is_peeled_to_its_commit(built: dict[str, Path]) -> None:
    events = json.loads(run_cli(["history", "nested", "--json"], cwd=built["tag_of_tag"]).stdout)
    registered = {e["commit"] for e in events if e["event"] == "registration"}
    assigned = {e["commit"] for e in events if e["event"] == "assignment"}
    assert assigned <= registered
    assert all(e["version"].startswith("v") for e in events)


def test_numeric_looking_hashes_print_as_they_are(built: dict[str, Path]) -> None:
    table = run_cli(["show", "--plain"], cwd=built["numeric_sha"]).stdout
    assert "0759510" in table
    assert "9264e41" in table


def test_every_difference_is_pinned_by_an_existing_test() -> None:
    root = FIXTURES.parent
    rules = [*DIFFERENCES["commands"], *DIFFERENCES["fixtures"].values()]
    for rule in rules:
        if "pinned_by" not in rule:
            continue
        path, _, name = rule["pinned_by"].partition("::")
        assert f"def {name}(" in (root / path).read_text(), rule["pinned_by"]
