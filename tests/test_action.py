"""action.yml, run as GitHub's runner runs a composite action (as far as it can be here).

The steps' own ``run:`` scripts are read from action.yml and run with ``bash -eo
pipefail`` (GitHub's ``shell: bash``) in a fake GitHub environment: per-step
``$GITHUB_OUTPUT`` files, one ``$GITHUB_STEP_SUMMARY``, ``${{ ... }}``
expressions replaced by the values the runner would put there.  The checkout is
what actions/checkout leaves: one shallow commit and the trigger tag lightweight,
with ``origin`` holding the annotated tags.  ``actions/setup-python`` is the one
step that cannot run here: its ``python-path`` output is this interpreter.

The fast test runs the ``check`` step with this environment's gto_dulwich (the
``install`` step's output given as this interpreter); the slow one runs ``install``
too, which builds the package from the action's checkout into a new virtual
environment (needs the package index for the build and runtime dependencies).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.annotations import load_yaml
from gto_dulwich.builder import build_repo
from gto_dulwich.ci import OUTPUT_KEYS
from tests.helpers import path_without_git
from tests.servers import set_origin

ROOT = Path(__file__).resolve().parent.parent
ACTION: dict[str, Any] = load_yaml((ROOT / "action.yml").read_bytes())
BASH = shutil.which("bash") or "bash"  # found before git (and /usr/bin) leave PATH
EXPRESSION = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")

ARTIFACTS_YAML = (
    "models/sub:churn:\n"
    "  type: model\n"
    "  path: models/sub/churn.pkl\n"
    "  description: |-\n"
    "    Predicts churn.\n"
    "    Trained on 2024 data.\n"
)
COMMITS = [
    {
        "id": "c1",
        "message": "Add model",
        "time": "2024-05-01T10:00:00+00:00",
        "files": {"artifacts.yaml": ARTIFACTS_YAML, "models/sub/churn.pkl": "1"},
    },
    {
        "id": "c2",
        "message": "Retrain",
        "time": "2024-05-02T10:00:00+00:00",
        "files": {"models/sub/churn.pkl": "2"},
    },
]
SPEC: dict[str, Any] = {
    "name": "action",
    "identity": {"name": "CI Tester", "email": "ci@example.com"},
    "branch": "main",
    "commits": COMMITS,
    "tags": [
        {"name": "models/sub=churn@v1.0.0", "target": "c1", "time": "2024-05-01T11:00:00+00:00"},
        {"name": "models/sub=churn@v1.1.0", "target": "c2", "time": "2024-05-02T11:00:00+00:00"},
        {"name": "models/sub=churn#prod#1", "target": "c2", "time": "2024-05-02T12:00:00+00:00"},
    ],
}
TRIGGER = "models/sub=churn#prod#1"


def _checkout(origin: Path, dest: Path) -> str:
    """What actions/checkout leaves: the tagged commit shallow, the trigger tag lightweight."""
    built = build_repo({k: v for k, v in SPEC.items() if k != "tags"}, dest)
    head = built.commits["c2"]
    with Repo(str(dest)) as repo:
        repo.refs[Ref(b"refs/tags/" + TRIGGER.encode())] = ObjectID(head.encode())
        (Path(repo.controldir()) / "shallow").write_text(head + "\n")
    set_origin(dest, origin.as_uri())
    return head


def _github_outputs(path: Path) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT`` file as the runner does (``k=v`` and ``k<<D`` blocks)."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines()) if path.exists() else iter([])
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[key] = "\n".join(block)
        else:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def _run_steps(
    tmp_path: Path,
    workspace: Path,
    *,
    inputs: Mapping[str, str] = {},
    skip: tuple[str, ...] = (),
    given: Mapping[str, Mapping[str, str]] = {},
    env: Mapping[str, str] = {},
) -> tuple[dict[str, Path], Path, list[subprocess.CompletedProcess[str]]]:
    """Run action.yml's steps; returns each step's output file, the summary and the runs."""
    values = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()} | dict(
        inputs
    )
    outputs: dict[str, dict[str, str]] = {k: dict(v) for k, v in given.items()}
    outputs["python"] = {"python-path": sys.executable}  # what actions/setup-python reports
    files: dict[str, Path] = {}
    summary = tmp_path / "step_summary.md"
    done = []
    temp = tmp_path / "runner_temp"
    temp.mkdir(exist_ok=True)

    def expand(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            scope, _, rest = match.group(1).partition(".")
            if scope == "inputs":
                return values[rest]
            if scope == "github" and rest == "action_path":
                return str(ROOT)
            if scope == "steps":
                step, _, key = rest.partition(".outputs.")
                return outputs.get(step, {}).get(key, "")
            raise AssertionError(f"unexpected expression {match.group()}")

        return EXPRESSION.sub(value, text)

    for step in ACTION["runs"]["steps"]:
        if "run" not in step:
            assert step["uses"].startswith("actions/setup-python@")
            continue
        if step["id"] in skip:
            continue
        assert step["shell"] == "bash"
        assert not EXPRESSION.search(step["run"]), "inputs reach scripts through env only"
        files[step["id"]] = output = tmp_path / f"output_{step['id']}"
        environment = {
            "PATH": path_without_git(),
            "HOME": str(tmp_path),
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **env,
            **{k: expand(str(v)) for k, v in (step.get("env") or {}).items()},
        }
        script = tmp_path / f"{step['id']}.sh"
        script.write_text(step["run"])
        run = subprocess.run(
            [BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        done.append(run)
        assert run.returncode == 0, (step["id"], run.stdout, run.stderr)
        outputs[step["id"]] = _github_outputs(output)
    return files, summary, done


GITHUB_ENV = {
    "GITHUB_REF": "refs/tags/" + TRIGGER,
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "org/models",
}


def _expected_output(commit: str) -> str:
    return (
        "event=assignment\n"
        "name=models/sub:churn\n"
        "version=v1.1.0\n"
        "stage=prod\n"
        "type=model\n"
        "path=models/sub/churn.pkl\n"
        "description<<(ghadelimiter_[0-9a-f]{32})\n"
        "Predicts churn\\.\n"
        "Trained on 2024 data\\.\n"
        "\\1\n"
        f"commit={commit}\n"
        "tag-message=Assigning stage prod to artifact models/sub:churn version v1\\.1\\.0\n"
    )


def _expected_summary(commit: str) -> str:
    url = "https://github.com/org/models"
    return (
        '### Stage \\"prod\\" was assigned to version \\"v1\\.1\\.0\\" of artifact '
        '\\"models\\/sub\\:churn\\"\n'
        "\n"
        f"Tag [`{TRIGGER}`]({url}/releases/tag/models/sub%3Dchurn%23prod%231) on commit "
        f"[`{commit[:7]}`]({url}/commit/{commit}), by `CI Tester`, "
        "2024\\-05\\-02 12\\:00\\:00\\+00\\:00.\n"
        "\n"
        "Versions of `models/sub:churn` and their stages after it:\n"
        "\n"
        "| version | stages | created_at | ref |\n"
        "| --- | --- | --- | --- |\n"
        "| `v1.1.0` | `prod` | `2024-05-02 11:00:00+00:00` | `models/sub=churn@v1.1.0` |\n"
        "| `v1.0.0` | - | `2024-05-01 11:00:00+00:00` | `models/sub=churn@v1.0.0` |\n"
        "\n"
        "Tag message:\n"
        "\n"
        "```text\n"
        "Assigning stage prod to artifact models/sub:churn version v1.1.0\n"
        "```\n"
        "\n"
    )


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, str]:
    origin = tmp_path / "origin"
    build_repo(SPEC, origin)
    checkout = tmp_path / "workspace"
    return checkout, _checkout(origin, checkout)


def _check_results(files: Mapping[str, Path], summary: Path, commit: str) -> None:
    text = files["check"].read_text()
    assert re.fullmatch(_expected_output(commit), text), text
    assert summary.read_text() == _expected_summary(commit)


def test_check_step_writes_outputs_and_summary(tmp_path: Path, workspace: tuple[Path, str]) -> None:
    checkout, commit = workspace
    files, summary, (run,) = _run_steps(
        tmp_path,
        checkout,
        skip=("install",),
        given={"install": {"python": sys.executable}},
        env=GITHUB_ENV,
    )
    _check_results(files, summary, commit)
    assert run.stdout == (
        '✅  Stage "prod" was assigned to version "v1.1.0" of artifact "models/sub:churn"\n'
    )
    assert run.stderr == (
        f"Replaced lightweight tag '{TRIGGER}' with the annotated tag from origin\n"
    )


def test_every_declared_output_is_written(tmp_path: Path, workspace: tuple[Path, str]) -> None:
    checkout, _ = workspace
    files, _, _ = _run_steps(
        tmp_path,
        checkout,
        skip=("install",),
        given={"install": {"python": sys.executable}},
        env=GITHUB_ENV,
    )
    written = _github_outputs(files["check"])
    declared = ACTION["outputs"]
    assert list(declared) == list(OUTPUT_KEYS)
    for name, spec in declared.items():
        assert spec["value"] == f"${{{{ steps.check.outputs.{name} }}}}"
        assert written.get(name), name
        assert spec["description"]


@pytest.mark.parametrize(
    ("inputs", "code", "stderr"),
    [
        ({"ref": "refs/heads/main"}, 0, ""),
        ({"ref": "refs/heads/main", "fail-if-none": "true"}, 1, "'refs/heads/main' is not"),
        ({"fetch-tags": "false"}, 0, "is a lightweight tag here"),
        ({"ref": "--help"}, 0, ""),  # a ref is never read as an option
    ],
)
def test_check_step_inputs(
    tmp_path: Path, workspace: tuple[Path, str], inputs: dict[str, str], code: int, stderr: str
) -> None:
    checkout, _ = workspace
    if code:
        with pytest.raises(AssertionError, match=stderr):
            _run_steps(
                tmp_path,
                checkout,
                inputs=inputs,
                skip=("install",),
                given={"install": {"python": sys.executable}},
                env=GITHUB_ENV,
            )
        return
    files, summary, (run,) = _run_steps(
        tmp_path,
        checkout,
        inputs=inputs,
        skip=("install",),
        given={"install": {"python": sys.executable}},
        env=GITHUB_ENV,
    )
    assert stderr in run.stderr
    assert not files["check"].exists()
    assert not summary.exists()


def test_scripts_use_only_bash_and_no_git() -> None:
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert not re.search(r"\bgit\b", step["run"])
    assert ACTION["runs"]["using"] == "composite"


@pytest.mark.slow
def test_action_installs_itself_and_runs(tmp_path: Path, workspace: tuple[Path, str]) -> None:
    """All steps, install included: the package is built from the action's own checkout."""
    checkout, commit = workspace
    files, summary, _ = _run_steps(tmp_path, checkout, env=GITHUB_ENV)
    python = _github_outputs(files["install"])["python"]
    assert python == str(tmp_path / "runner_temp" / "gto_dulwich-venv" / "bin" / "python")
    _check_results(files, summary, commit)
