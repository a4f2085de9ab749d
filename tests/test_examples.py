"""examples/: the CI files parse and call real options; the Dockerfile's install works without git.

Docker cannot run here, so the install test replays the Dockerfile's own
``RUN`` steps (read from the file, paths swapped for temporary ones) into a
fresh virtual environment, then runs the installed CLI with no git on PATH.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.annotations import load_yaml
from tests.helpers import build_fixture, path_without_git, run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _gto_calls(text: str) -> list[list[str]]:
    """Every ``gto ...`` command line in a CI file (environment assignments dropped)."""
    calls = []
    for raw in text.splitlines():
        line = raw.strip().removeprefix("- ").removeprefix("run: ")
        words = shlex.split(line, comments=True) if "gto " in line else []
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)
        if words and words[0] == "gto":
            calls.append(words[1:])
    return calls


@pytest.mark.parametrize("name", ["gto-act-on-tags.yml", "gitlab-ci.yml"])
def test_ci_examples_are_yaml_that_calls_existing_options(name: str, tmp_path: Path) -> None:
    text = (EXAMPLES / name).read_text()
    assert isinstance(load_yaml(text.encode()), dict)
    calls = _gto_calls(text)
    assert calls, "the example should run gto"
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "out"
    for call in calls:
        env = {"GITHUB_REF": "refs/tags/rf#production#4", "GITHUB_OUTPUT": str(out)}
        # --fetch-tags needs an origin; the options themselves are what is checked here.
        args = [a for a in call if a != "--fetch-tags"]
        result = run_cli(args, cwd=repo, env=env)
        assert result.exit_code == 0, (args, result.stderr)
    # GitHub: $GITHUB_OUTPUT; GitLab: the dotenv report the job names.
    written = "".join(p.read_text() for p in (out, repo / "gto.env") if p.exists())
    assert "event=assignment\nname=rf\nversion=v1.2.3\nstage=production\n" in written


def test_github_workflow_outputs_match_what_check_ref_writes() -> None:
    workflow: Any = load_yaml((EXAMPLES / "gto-act-on-tags.yml").read_bytes())
    outputs = workflow["jobs"]["parse"]["outputs"]
    from gto_dulwich.ci import OUTPUT_KEYS

    assert set(outputs) <= set(OUTPUT_KEYS)


def _dockerfile_install(dockerfile: Path, venv: Path, source: Path) -> list[str]:
    """The Dockerfile's install ``RUN`` as shell commands, with its paths replaced."""
    text = dockerfile.read_text().replace("\\\n", " ")
    runs = [line[4:] for line in text.splitlines() if line.startswith("RUN ") and "pip" in line]
    assert len(runs) == 1
    commands = [c.strip() for c in runs[0].split("&&")]
    swapped = []
    for command in commands:
        if command.startswith("rm "):
            continue
        local = command.replace("/opt/gto", str(venv)).replace("/src", str(source))
        swapped.append(local.replace("python -m venv", f"{sys.executable} -m venv"))
    return swapped


@pytest.mark.slow
def test_dockerfile_install_runs_without_git(tmp_path: Path) -> None:
    dockerfile = EXAMPLES / "Dockerfile"
    assert 'ENTRYPOINT ["gto"]' in dockerfile.read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile.read_text(), flags=re.M)
    steps = [line for line in dockerfile.read_text().splitlines() if not line.startswith("#")]
    assert not any(re.search(r"\bgit\b", line) for line in steps)
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "bench", "*.egg-info", ".*_cache", "__pycache__"
        ),
    )
    venv = tmp_path / "venv"
    env = {"PATH": path_without_git(), "HOME": str(tmp_path), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for command in _dockerfile_install(dockerfile, venv, source):
        done = subprocess.run(
            command, shell=True, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    shown = subprocess.run(
        [str(venv / "bin" / "gto"), "show", "rf", "--plain"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "rf@v1.2.4" in shown.stdout
