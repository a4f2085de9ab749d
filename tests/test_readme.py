"""The README stays true: every ``gto`` command it shows prints what it shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import build_fixture, run_cli

README = Path(__file__).resolve().parent.parent / "README.md"
ENV = {
    "GIT_COMMITTER_NAME": "Readme",
    "GIT_COMMITTER_EMAIL": "readme@example.com",
    "GIT_COMMITTER_DATE": "1800000000 +0000",
}


def _blocks(kind: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{kind}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def _console_commands() -> list[tuple[list[str], str]]:
    """(argv after ``gto``, expected output) for every ``$ gto`` line, in README order."""
    commands = []
    for block in _blocks("console"):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            line, _, output = chunk.partition("\n")
            argv = shlex.split(line)
            if argv[0] == "gto":
                commands.append((argv[1:], output))
    return commands


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What ``make demo`` builds, at the same relative path."""
    build_fixture("showcase", tmp_path / "build" / "demo")
    build_fixture("dvc/get_started", tmp_path / "build" / "dvc-demo")  # "DVC projects"
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_console_examples_print_what_they_show(demo: Path) -> None:
    commands = _console_commands()
    assert len(commands) >= 10
    for argv, expected in commands:
        result = run_cli(argv, cwd=demo, env=ENV)
        assert result.exit_code == 0, (argv, result.stderr)
        assert result.stdout == expected, argv


def test_readme_library_example_runs_as_written(demo: Path) -> None:
    (block,) = [b for b in _blocks("python") if "from gto_dulwich import api" in b]
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=demo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    expected = re.findall(r"# (.+)$", block, flags=re.MULTILINE)[1:]
    assert done.stdout.splitlines() == expected


def test_readme_shows_the_two_setup_commands_first() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = _blocks("sh")[0]
    assert first_block.splitlines()[0].startswith("make install")
    assert first_block.splitlines()[1].startswith("make test")
    assert text.index("make install") < text.index("## The main job")
