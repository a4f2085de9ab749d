"""Test helpers: run the CLI in-process or as a real process, build repositories."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from gto_dulwich.builder import BuiltRepo, build_repo, load_spec

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(
    args: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Result:
    """Run ``gto ARGS`` in this process (fast), with GTO's environment defaults."""
    from gto_dulwich.cli import cli

    runner = CliRunner()
    environment = {"COLUMNS": "120", "TZ": "UTC", **(env or {})}
    with contextlib.chdir(cwd or Path.cwd()):
        result = runner.invoke(cli, list(args), env=environment, catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if "--traceback" not in args:
            raise result.exception
        # What the real process would print: the exception's traceback.
        stderr += "".join(traceback.format_exception(result.exception))
    return Result(result.exit_code, result.stdout, stderr)


def run_process(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    without_git: bool = True,
    prefix: Sequence[str] = (),
) -> Result:
    """Run the installed ``gto`` script as a real process; by default with no git on PATH.

    ``prefix`` runs it through another command (e.g. ``unshare`` for a user namespace).
    """
    script = Path(sys.executable).parent / "gto"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GTO_"))}
    if without_git:
        environment["PATH"] = path_without_git()
    environment.update(env or {})
    done = subprocess.run(
        [*prefix, str(script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def path_without_git() -> str:
    """PATH with every directory that holds a ``git`` executable removed."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d) / "git").exists()
    ]
    path = os.pathsep.join(keep)
    assert shutil.which("git", path=path) is None
    return path


def build_fixture(name: str, dest: Path) -> BuiltRepo:
    """Build ``fixtures/<name>.yaml`` into ``dest``."""
    return build_repo(load_spec(FIXTURES / f"{name}.yaml"), dest)


def unprivileged() -> list[str]:
    """A command prefix that runs without the power to ignore file permissions (read-only
    and permission tests); skips where root cannot drop it."""
    import pytest

    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    # root inside a user namespace mapped to another uid: owner permissions apply again.
    prefix = [unshare or "unshare", "--user", "--map-user=1000", "--map-group=1000"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30, check=False)
    except OSError:
        pytest.skip("running as root, and no unshare to drop the power to ignore permissions")
    if unshare is None or probe.returncode != 0:
        pytest.skip("running as root, and user namespaces are not available")
    return prefix
