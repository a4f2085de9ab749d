"""Questions GTO never answered: one stage's or one version's history (GTO issue 251), and
the versions at a commit (GTO issue 312, "which model version is this checkout?")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import BuiltRepo
from tests.helpers import build_fixture, run_cli


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> BuiltRepo:
    return build_fixture("showcase", tmp_path_factory.mktemp("showcase") / "repo")


@pytest.fixture(scope="module")
def every(tmp_path_factory: pytest.TempPathFactory) -> BuiltRepo:
    return build_fixture("every_event", tmp_path_factory.mktemp("every") / "repo")


def _json(repo: Path, *args: str) -> Any:
    result = run_cli([*args, "--json"], cwd=repo)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _refs(repo: Path, *args: str) -> list[str]:
    return [row["ref"] for row in _json(repo, *args)]


# -- history NAME#STAGE, NAME@VERSION ---------------------------------------------------


def test_history_of_a_stage_on_the_showcase(showcase: BuiltRepo) -> None:
    result = run_cli(["history", "rf#production", "--plain"], cwd=showcase.path)
    assert result.exit_code == 0, result.stderr
    c2, c3 = showcase.commits["c2"][:7], showcase.commits["c3"][:7]
    assert result.stdout == (
        "timestamp                  artifact    event       version    stage       commit    ref\n"
        f"2026-11-21 10:49:38+00:00  rf          assignment  v1.2.3     production  {c2}   "
        "rf#production#4\n"
        f"2026-11-21 10:49:36+00:00  rf          assignment  v1.2.4     production  {c3}   "
        "rf#production#3\n"
        f"2026-11-21 10:49:34+00:00  rf          assignment  v1.2.3     production  {c2}   "
        "rf#production#1\n"
    )


def test_history_of_a_version_on_the_showcase(showcase: BuiltRepo) -> None:
    assert _refs(showcase.path, "history", "rf@v1.2.4") == [
        "rf#production#3",
        "rf#staging#2",
        "rf@v1.2.4",
    ]
    assert _refs(showcase.path, "history", "rf@latest", "--asc") == [
        "rf@v1.2.4",
        "rf#staging#2",
        "rf#production#3",
    ]


@pytest.mark.parametrize(
    ("name", "refs"),
    [
        # an unassigned stage: both assignments and the unassignment
        ("ua#prod", ["ua#prod!#3", "ua#prod#2", "ua#prod#1"]),
        ("ua#dev", ["ua#dev!", "ua#dev"]),
        # a deregistered version: registration, its stage, deregistration
        ("dr@v2.0.0", ["dr@v2.0.0!", "dr#prod#2", "dr@v2.0.0"]),
        ("rc@v1.1.0", ["rc@v1.1.0!#3", "rc@v1.1.0#2"]),
        # one version registered on two commits
        ("dup@v1.0.0", ["dup@v1.0.0#2", "dup@v1.0.0"]),
        # same-second assign and unassign, newest first as in `history x`
        ("x#dev", ["x#dev!#4", "x#dev#3", "x#dev#2", "x#dev#1"]),
        ("folder/sub:model#prod", ["folder/sub=model#prod#1"]),
        ("m2@v1.0.0+build.5", ["m2#prod#2", "m2@v1.0.0+build.5"]),
        # re-activated after deprecation: latest is v1.1.0; the deprecation has no version
        ("rea@latest", ["rea@v1.1.0"]),
        ("dep@v1.0.0", ["dep#legacy#1", "dep@v1.0.0"]),
        ("x#nostage", []),
        ("x@v9.9.9", []),
        ("nonexistent#prod", []),
    ],
)
def test_history_of_a_stage_or_version_on_every_event(
    every: BuiltRepo, name: str, refs: list[str]
) -> None:
    assert _refs(every.path, "history", name) == refs


def test_stage_and_version_histories_are_slices_of_the_artifact_history(
    every: BuiltRepo,
) -> None:
    """For every artifact, stage and version: the same rows, order and JSON as `history NAME`."""
    for artifact in ("x", "an", "m2", "dr", "ua", "rc", "dep", "rea", "dup", "tz", "srx"):
        full = _json(every.path, "history", artifact)
        for stage in {row["stage"] for row in full if row["stage"]}:
            expected = [row for row in full if row["stage"] == stage]
            assert _json(every.path, "history", f"{artifact}#{stage}") == expected
        for version in {row["version"] for row in full if row["version"]}:
            if not version.startswith("v"):
                continue  # commit-named versions have no NAME@VERSION form
            expected = [row for row in full if row["version"] == version]
            assert _json(every.path, "history", f"{artifact}@{version}") == expected


def test_history_of_nothing_says_so(every: BuiltRepo) -> None:
    result = run_cli(["history", "x#nostage"], cwd=every.path)
    assert (result.exit_code, result.stdout) == (0, "Nothing found in the current workspace\n")


# -- show --commit REV ---------------------------------------------------------------------


def test_which_version_is_this_checkout(showcase: BuiltRepo) -> None:
    result = run_cli(["show", "--commit", "HEAD", "rf", "--version"], cwd=showcase.path)
    assert (result.exit_code, result.stdout) == (0, "v1.2.4\n")
    # nn and features are listed in artifacts.yaml at HEAD, but no tag names a version there.
    result = run_cli(["show", "--commit", "HEAD", "--ref"], cwd=showcase.path)
    assert (result.exit_code, result.stdout) == (0, "rf@v1.2.4\n")
    c2 = showcase.commits["c2"]
    result = run_cli(["show", "--commit", c2[:10], "--plain"], cwd=showcase.path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "artifact    version    stage       created_at                 ref\n"
        "nn          v0.0.1     staging     2026-11-21 10:49:32+00:00  nn@v0.0.1\n"
        "rf          v1.2.3     production  2026-11-21 10:49:32+00:00  rf@v1.2.3\n"
    )
    for flag, lines in (
        ("--name", ["nn", "rf"]),
        ("--ref", ["nn@v0.0.1", "rf@v1.2.3"]),
        ("--stage", ["staging", "production"]),
    ):
        result = run_cli(["show", "--commit", c2, flag], cwd=showcase.path)
        assert result.stdout.splitlines() == lines


def _tagged_at(version: dict[str, Any], commit: str) -> bool:
    """A version record of ``show NAME --json`` that a tag puts at ``commit``."""
    tagged = not version["discovered"] or version["ref"] != version["commit_hexsha"]
    return bool(version["commit_hexsha"] == commit and tagged)


def test_commit_json_is_show_json_at_that_commit(showcase: BuiltRepo, every: BuiltRepo) -> None:
    """The same records as `show NAME --json`, kept where commit_hexsha is the commit."""
    for built, names in ((showcase, ("rf", "nn")), (every, ("x", "dr", "ua", "srx", "dup"))):
        for commit in built.commits.values():
            everything: list[Any] = []
            for name in names:
                for options in ((), ("-d",), ("--ro",)):
                    shown = _json(built.path, "show", name, *options)
                    at = [v for v in shown if _tagged_at(v, commit)]
                    assert _json(built.path, "show", "--commit", commit, name, *options) == at
                everything += [v for v in _json(built.path, "show", name) if _tagged_at(v, commit)]
            listed = [
                v for v in _json(built.path, "show", "--commit", commit) if v["artifact"] in names
            ]
            assert listed == sorted(everything, key=lambda v: v["artifact"])


def test_commit_query_on_every_event(every: BuiltRepo) -> None:
    c3 = every.commits["c3"]

    def rows(*options: str) -> dict[str, tuple[str, ...]]:
        result = run_cli(["show", "--commit", c3, "--plain", *options], cwd=every.path)
        assert result.exit_code == 0, result.stderr
        return {
            line.split()[0]: tuple(line.split()[1:3]) for line in result.stdout.splitlines()[1:]
        }

    shown = rows()
    assert shown["ua"] == ("v2.0.0", "2025-03-06")  # its stage was unassigned: none shown
    assert shown["srx"] == (c3[:7], "dev")  # assigned without registration
    assert "dr" not in shown  # deregistered at c3
    assert "rc" not in shown
    with_deregistered = rows("-d")
    assert with_deregistered["dr"][0] == "v2.0.0"
    assert with_deregistered["rc"][0] == "v1.1.0"
    assert "srx" not in rows("--ro")
    nothing = run_cli(["show", "--commit", every.commits["c1"]], cwd=every.path)
    assert (nothing.exit_code, nothing.stdout) == (0, "Nothing found in the current workspace\n")


def test_unknown_commit_is_one_line(showcase: BuiltRepo) -> None:
    result = run_cli(["show", "--commit", "no-such-rev"], cwd=showcase.path)
    assert result.exit_code == 1
    assert result.stderr == "❌ unknown Git revision 'no-such-rev'\n"
