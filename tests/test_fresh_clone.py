"""The README's first two commands, on a fresh clone, exactly as written.

Slow (it creates a virtual environment from the package index and runs the
whole lint), so it carries the ``slow`` marker: ``make test`` runs it, ``make
check`` does not.  It proves that the committed tree alone (a ``git clone`` of
this repository: nothing uncommitted, no ``.venv``) builds its environment,
passes ``ruff``, ``ruff format --check`` and ``mypy`` on every file, builds and
shows the demo registry, and runs tests in that new environment; and that
running either command again installs nothing.  The inner ``make test`` runs
only ``tests/test_readme.py`` (``PYTEST_ADDOPTS``): the whole suite already runs
outside, and ``GTO_DULWICH_INNER_CLONE`` stops this test from running itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INNER = "GTO_DULWICH_INNER_CLONE"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_sh = re.search(r"^```sh\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    assert first_sh is not None
    return [line.split("#")[0].strip() for line in first_sh.group(1).splitlines()]


def _run(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get(INNER)), reason="already inside the fresh clone's tests")
@pytest.mark.skipif(shutil.which("git") is None, reason="cloning needs git (the product does not)")
def test_fresh_clone_runs_make_demo_then_make_test(tmp_path: Path) -> None:
    assert _readme_commands() == ["make demo", "make test"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    assert not (clone / ".venv").exists()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "GTO_", "MAKE", "MFLAGS", "VIRTUAL_ENV", "PYTEST"))
    }
    env |= {INNER: "1", "PYTEST_ADDOPTS": "tests/test_readme.py -p no:cacheprovider"}

    demo = _run("make demo", clone, env)
    assert "pip install" in demo  # the environment was made
    assert "│ rf        │ v1.2.4   │ v1.2.3        │ v1.2.4     │" in demo
    assert "rf#production#4" in demo  # then the history
    test = _run("make test", clone, env)
    assert "pip install" not in test  # nothing changed: the stamp is newer than pyproject.toml
    assert re.search(r"^Success: no issues found in \d+ source files$", test, flags=re.M)
    assert re.search(r"=+ 3 passed in ", test.splitlines()[-1])
    again = _run("make demo", clone, env)
    assert "pip install" not in again
