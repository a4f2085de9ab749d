"""Our reading of DVC projects against what the real DVC 3.67.1 answered.

``fixtures/capture_dvc.py`` ran DVC's own API (``Repo.artifacts.read()``, what
``dvc artifacts`` lists, and ``dvc.api.get_url``, what ``dvc get --show-url``
prints) on each ``fixtures/dvc/<name>.yaml`` and stored the answers beside it.
Here the same repositories are rebuilt and the CLI answers, with no git on PATH
and no DVC installed.
"""

from __future__ import annotations

import importlib.util
import json
import posixpath
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import BuiltRepo, build_repo, load_spec
from tests.helpers import FIXTURES, run_cli, run_process

DVC = FIXTURES / "dvc"
NAMES = sorted(p.name.removesuffix(".dvc.json") for p in DVC.glob("*.dvc.json"))


def _captured(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DVC / f"{name}.dvc.json").read_text(encoding="utf-8"))
    return data


def _build(name: str, tmp_path: Path) -> BuiltRepo:
    # At <TMP>/repo, where DVC ran: a relative local remote resolves to the same place.
    return build_repo(load_spec(DVC / f"{name}.yaml"), tmp_path.resolve() / "repo")


def _declared(captured: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Full name -> (repo-relative dvc.yaml, DVC's fields) for every artifact DVC listed."""
    found = {}
    for project, files in captured["artifacts"].items():
        assert "error" not in files, files
        for dvcfile, artifacts in files.items():
            source = posixpath.join(project, dvcfile) if project else dvcfile
            directory = posixpath.dirname(source)
            for ident, fields in artifacts.items():
                found[f"{directory}:{ident}" if directory else ident] = (source, fields)
    return found


def test_dvc_is_not_installed_here() -> None:
    assert importlib.util.find_spec("dvc") is None


def test_every_fixture_was_captured_with_dvc_3() -> None:
    assert NAMES == ["bad", "both", "dvc2", "get_started", "monorepo"]
    for name in NAMES:
        assert _captured(name)["version"] == "3.67.1"


@pytest.mark.parametrize("name", NAMES)
def test_describe_gives_what_dvc_lists(name: str, tmp_path: Path) -> None:
    built = _build(name, tmp_path)
    index = load_spec(DVC / f"{name}.yaml")["commits"][-1]["files"].get("artifacts.yaml", "")
    for full, (source, fields) in _declared(_captured(name)).items():
        result = run_cli(["describe", full, "-r", str(built.path)])
        assert result.exit_code == 0, result.stderr
        ours = json.loads(result.stdout)
        if f"\n{full}:" in f"\n{index}":  # artifacts.yaml names it too, and wins
            assert ours.get("source") is None
            assert run_cli(["describe", full, "--source", "-r", str(built.path)]).stdout == (
                "artifacts.yaml\n"
            )
            continue
        assert ours["source"] == source
        assert ours["path"] == posixpath.normpath(
            posixpath.join(posixpath.dirname(source), fields["path"])
        )
        assert ours.get("type") == fields.get("type")
        assert ours.get("description", "") == fields.get("desc", "")
        assert ours.get("labels", []) == fields.get("labels", [])
        assert ours.get("custom") == fields.get("meta")


@pytest.mark.parametrize("name", NAMES)
def test_show_lists_what_dvc_lists_and_nothing_it_skips(name: str, tmp_path: Path) -> None:
    built = _build(name, tmp_path)
    declared = set(_declared(_captured(name)))
    result = run_cli(["show", "--json", "-r", str(built.path)])
    assert result.exit_code == 0, result.stderr
    shown = set(json.loads(result.stdout))
    tagged = {t.split("@")[0].split("#")[0].replace("=", ":") for t in built.tags}
    index = load_spec(DVC / f"{name}.yaml")["commits"][-1]["files"].get("artifacts.yaml", "")
    from_index = {line.rstrip(":") for line in index.splitlines() if line and line[0] != " "}
    assert shown == declared | tagged | from_index


@pytest.mark.parametrize("name", [n for n in NAMES if _captured(n)["urls"]])
def test_url_is_what_dvc_get_show_url_prints(name: str, tmp_path: Path) -> None:
    built = _build(name, tmp_path)
    captured = _captured(name)
    root = str(built.path)
    by_path = {}
    for full in json.loads(run_cli(["show", "--json", "-r", root]).stdout):
        path = run_cli(["describe", full, "--path", "-r", root]).stdout.strip()
        by_path[path] = full
    for entry in captured["urls"]:
        path = (
            posixpath.join(entry["project"], entry["path"]) if entry["project"] else entry["path"]
        )
        args = ["describe", by_path[path], "--url", "-r", root]
        if entry["rev"]:
            args += ["--rev", built.commits[entry["rev"]]]
        result = run_process(args, cwd=built.path)
        if "url" in entry:
            expected = entry["url"].replace("<TMP>", str(tmp_path.resolve()))
            assert (result.exit_code, result.stdout, result.stderr) == (0, expected + "\n", "")
        else:  # DVC fails (KeyError for a remote it does not have): we say why, in one line
            assert result.exit_code == 1
            assert result.stdout == ""
            assert result.stderr.count("\n") == 1
            assert ".dvc/config at commit" in result.stderr
            assert "Traceback" not in result.stderr


def test_directory_output_keeps_dir_suffix_and_counts(tmp_path: Path) -> None:
    built = _build("monorepo", tmp_path)
    result = run_process(["describe", "data:features"], cwd=built.path)
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)["dvc"]
    assert output["md5"].endswith(".dir")
    assert (output["is_dir"], output["nfiles"], output["size"]) == (True, 3, 3145728)
    assert output["source"] == "data/dvc.lock"


def test_bad_inputs_each_one_line_and_good_still_reads(tmp_path: Path) -> None:
    built = _build("bad", tmp_path)
    captured = _captured("bad")
    commit = built.commits["c1"][:7]
    doctor = run_process(["doctor"], cwd=built.path)
    assert doctor.exit_code == 0, doctor.stderr
    warnings = [line for line in doctor.stdout.splitlines() if line.startswith("warning: ")]
    for path, answer in captured["alone"].items():
        # DVC refuses each (or, for ${...}, interpolates it); we report it, naming file and commit.
        line = next(w for w in warnings if w.startswith(f"warning: {path}: at commit {commit}: "))
        assert "error" in answer or "interpolation" in line
    # DVC fails on the remote .dvc/config does not define (KeyError); doctor names it too.
    assert f"warning: .dvc/config: at commit {commit}: remote 'gone' is not defined" in "\n".join(
        warnings
    )
    assert len(warnings) == len(captured["alone"]) + 1
    good = run_process(["describe", "good"], cwd=built.path)
    assert json.loads(good.stdout)["path"] == "model.pkl"
    assert run_process(["describe", "interp:m"], cwd=built.path).stdout == ""
    verbose = run_process(["-v", "show"], cwd=built.path)
    assert verbose.exit_code == 0
    assert sum(line.startswith("warning: ") for line in verbose.stderr.splitlines()) == len(
        captured["alone"]
    )
    assert "Traceback" not in verbose.stderr + doctor.stderr + good.stderr
