"""The read commands as a user meets them: bad input, exit codes, no git binary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gto_dulwich.builder import build_repo, load_spec
from tests.helpers import FIXTURES, build_fixture, run_cli, run_process


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture("showcase", tmp_path_factory.mktemp("showcase") / "repo").path


def assert_one_line_error(args: list[str], cwd: Path, message: str, code: int = 1) -> None:
    result = run_cli(args, cwd=cwd)
    assert result.exit_code == code
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_not_a_repository(tmp_path: Path) -> None:
    assert_one_line_error(["show"], tmp_path, "No Git repo found in '.'")
    assert_one_line_error(["history", "-r", str(tmp_path / "nope")], tmp_path, "No Git repo found")


def test_unknown_artifact(showcase: Path) -> None:
    assert_one_line_error(["show", "nonexistent"], showcase, "Cannot find artifact 'nonexistent'")
    assert_one_line_error(["latest", "nonexistent"], showcase, "Cannot find artifact")
    assert_one_line_error(["which", "nonexistent", "prod"], showcase, "Cannot find artifact")


def test_malformed_shortcut_is_taken_as_a_name_like_gto(showcase: Path) -> None:
    assert_one_line_error(["show", "rf@v1"], showcase, "Cannot find artifact 'rf@v1'")
    assert_one_line_error(["show", "rf#bad stage"], showcase, "Cannot find artifact 'rf#bad stage'")


def test_invalid_stage_name(showcase: Path) -> None:
    assert_one_line_error(["which", "rf", "bad stage"], showcase, "Invalid value 'bad stage'")


def test_stage_outside_the_configured_list(tmp_path: Path) -> None:
    spec = load_spec(FIXTURES / "showcase.yaml")
    built = build_repo({**spec, "worktree": {".gto": "stages: [dev, prod]\n"}}, tmp_path / "r")
    assert_one_line_error(["which", "rf", "staging"], built.path, "Allowed stages are")


def test_corrupt_artifacts_yaml_at_head(tmp_path: Path) -> None:
    spec = {
        "commits": [
            {
                "id": "c1",
                "time": "2024-01-01T00:00:00+00:00",
                "message": "x",
                "files": {"artifacts.yaml": "rf: {type: [unclosed\n"},
            }
        ],
        "tags": [{"name": "rf@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00+00:00"}],
    }
    built = build_repo(spec, tmp_path / "r")
    assert_one_line_error(["show"], built.path, "artifacts.yaml file doesn't conform to GTO format")


@pytest.mark.parametrize("content", ["stages: [unclosed\n", "nonsense_key: 1\n", "- a list\n"])
def test_corrupt_gto_config(tmp_path: Path, content: str) -> None:
    spec = load_spec(FIXTURES / "showcase.yaml")
    built = build_repo({**spec, "worktree": {".gto": content}}, tmp_path / "r")
    assert_one_line_error(["show"], built.path, "Wrong config file")


def test_conflicting_output_flags_are_a_usage_error(showcase: Path) -> None:
    result = run_cli(["show", "--json", "--plain"], cwd=showcase)
    assert result.exit_code == 2
    assert "Only one output format allowed" in result.stderr


def test_bad_option_values_are_usage_errors(showcase: Path) -> None:
    assert run_cli(["show", "--sort", "bogus"], cwd=showcase).exit_code == 2
    assert run_cli(["show", "--av", "x"], cwd=showcase).exit_code == 2
    assert run_cli(["nosuchcommand"], cwd=showcase).exit_code == 2


def test_negative_limits_below_minus_one_are_refused(showcase: Path) -> None:
    assert_one_line_error(["show", "--vs", "-2"], showcase, "'versions_per_stage' must be >=-1")


def test_latest_which_describe(showcase: Path) -> None:
    assert run_cli(["latest", "rf"], cwd=showcase).stdout == "v1.2.4\n"
    assert run_cli(["latest", "rf", "--ref"], cwd=showcase).stdout == "rf@v1.2.4\n"
    # `which` agrees with `show rf#production` (last assignment wins) unless told otherwise.
    assert run_cli(["which", "rf", "production"], cwd=showcase).stdout == "v1.2.3\n"
    semver = run_cli(["which", "rf", "production", "--sort", "semver"], cwd=showcase)
    assert semver.stdout == "v1.2.4\n"
    every = run_cli(["which", "rf", "production", "--vs", "-1", "--ref"], cwd=showcase)
    assert every.stdout == "rf#production#4\nrf#production#3\n"
    described = json.loads(run_cli(["describe", "rf"], cwd=showcase).stdout)
    assert described == {"type": "model", "path": "models/random-forest.pkl", "virtual": False}
    assert run_cli(["describe", "rf", "--path"], cwd=showcase).stdout == (
        "models/random-forest.pkl\n"
    )
    assert run_cli(["describe", "features"], cwd=showcase).exit_code == 0
    assert run_cli(["describe", "nothing-here"], cwd=showcase).stdout == ""


def test_describe_without_artifacts_yaml_gto_bug_19(tmp_path: Path) -> None:
    spec = {
        "commits": [
            {
                "id": "c1",
                "time": "2024-01-01T00:00:00+00:00",
                "message": "x",
                "files": {"README": "x"},
            }
        ]
    }
    built = build_repo(spec, tmp_path / "r")
    result = run_cli(["describe", "rf"], cwd=built.path)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_cli_runs_without_git_on_path(showcase: Path) -> None:
    """The installed `gto` script, as a real process, with no git binary to be found."""
    result = run_process(["show", "--json"], cwd=showcase)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["rf"]["stage"] == {"production": "v1.2.3", "staging": "v1.2.4"}
    result = run_process(["check-ref", "refs/tags/rf#production#3", "--event"], cwd=showcase)
    assert (result.exit_code, result.stdout) == (0, "assignment\n")


def test_python_dash_m_works(showcase: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "gto_dulwich", "latest", "nn"],
        cwd=showcase,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "v0.0.1\n")


def test_tag_path_is_a_gto_command(showcase: Path) -> None:
    from dulwich.repo import Repo

    with Repo(str(showcase)) as repo:
        commit = repo.head().decode()[:7]
    result = run_cli(["tag-path", "out/plot.png", "--set", "lr=0.1"], cwd=showcase)
    assert result.exit_code == 0, result.stderr
    stem, rest = result.stdout.strip().split("-", 1)
    assert stem == "out/plot"
    assert rest.startswith(commit + "-")
    assert rest.endswith(".png")
    assert "tag-path" in run_cli(["--help"], cwd=showcase).stdout


def test_version_and_doctor_name_the_tool(showcase: Path) -> None:
    from gto_dulwich import __version__

    assert run_cli(["--version"], cwd=showcase).stdout == (
        f"gto_dulwich {__version__} (GTO 1.10.1 compatible)\n"
    )
    doctor = run_cli(["doctor"], cwd=showcase)
    assert doctor.exit_code == 0
    assert doctor.stdout.startswith(f"gto_dulwich {__version__}")
    assert "stages=None" in doctor.stdout
