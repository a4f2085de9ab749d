"""Command-line conventions: an example in every --help, NO_COLOR, no escape sequences or
Rich markup when stdout is not a terminal, and Click's shell completion."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gto_dulwich.builder import build_repo
from gto_dulwich.cli import EXAMPLES, cli
from tests.helpers import build_fixture, run_cli, run_process

GTO = str(Path(sys.executable).parent / "gto")
IDENTITY = {"GIT_COMMITTER_NAME": "Example", "GIT_COMMITTER_EMAIL": "example@example.com"}
# SGR parameters that set a colour: 30-37/39, 40-47/49, 90-97, 100-107, 38;… and 48;….
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def _commands() -> list[str]:
    # Aliases (promote) are the same command under another name: once each.
    ctx = click.Context(cli)
    commands = [cli.get_command(ctx, name) for name in cli.list_commands(ctx)]
    return sorted({command.name for command in commands if command and command.name})


def test_every_command_has_an_example() -> None:
    assert sorted(EXAMPLES) == _commands()


@pytest.mark.parametrize("command", _commands())
def test_help_ends_with_an_example_that_runs(command: str, tmp_path: Path) -> None:
    result = run_cli([command, "--help"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["  Example:", f"    {EXAMPLES[command]}"]
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    argv = shlex.split(EXAMPLES[command])
    assert argv[0] == "gto"
    ran = run_cli(argv[1:], cwd=repo, env=IDENTITY)
    assert ran.exit_code == 0, (argv, ran.stderr)


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("conventions") / "repo"
    build_fixture("showcase", repo)
    return repo


READS = [
    ["show"],
    ["show", "rf"],
    ["history"],
    ["check-ref", "rf#production#3"],
    ["doctor"],
    ["--help"],
    ["show", "--help"],
    ["show", "nonexistent"],
]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_no_escape_sequences_when_stdout_is_not_a_terminal(showcase: Path, args: list[str]) -> None:
    result = run_process(args, cwd=showcase, env={"TERM": "xterm-256color"})
    assert "\x1b" not in result.stdout + result.stderr


def test_rich_markup_in_repository_text_is_printed_as_text(tmp_path: Path) -> None:
    markup = "[bold red]loud[/] :warning: [link=x]y[/link]"
    spec = {
        "name": "markup",
        "identity": {"name": "T", "email": "t@example.com"},
        "branch": "main",
        "commits": [
            {
                "id": "c1",
                "message": "m",
                "time": "2024-05-01T10:00:00+00:00",
                "files": {"artifacts.yaml": f"rf:\n  type: model\n  description: '{markup}'\n"},
            }
        ],
        "tags": [
            {"name": "rf@v1.0.0", "target": "c1", "time": "2024-05-01T11:00:00+00:00"},
            {"name": "rf#prod#1", "target": "c1", "time": "2024-05-01T11:00:00+00:00"},
        ],
    }
    build_repo(spec, tmp_path / "repo")
    result = run_process(["describe", "rf", "--description"], cwd=tmp_path / "repo")
    assert result.stdout == markup + "\n"


def _in_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    """Run ``gto ARGS`` with stdout and stderr on a pseudo-terminal; what it wrote."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environment.update({"TERM": "xterm-256color", "COLUMNS": "120", **env})
    process = subprocess.Popen(
        [GTO, *args], cwd=cwd, env=environment, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0
    return output


@pytest.mark.parametrize("args", [["show"], ["show", "rf"], ["history", "rf"]], ids=" ".join)
def test_no_colour_in_a_terminal_with_no_color(showcase: Path, args: list[str]) -> None:
    output = _in_terminal(args, showcase, {"NO_COLOR": "1"}).decode()
    assert "rf" in output
    assert not COLOUR.search(output), repr(output)


def test_a_terminal_gets_the_rich_table(showcase: Path) -> None:
    output = _in_terminal(["show"], showcase, {}).decode()
    assert "┏" in output  # Rich's box, not the tabulate one (╒) written to pipes and files
    assert not COLOUR.search(output)  # bold headers only: nothing to switch off


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(shell: str, tmp_path: Path) -> None:
    """What the README tells each shell to load."""
    result = run_process([], cwd=tmp_path, env={"_GTO_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0
    assert "_GTO_COMPLETE" in result.stdout
    assert f"{shell}_complete" in result.stdout


def test_completion_completes_commands_and_options(tmp_path: Path) -> None:
    env = {"_GTO_COMPLETE": "bash_complete", "COMP_WORDS": "gto sh", "COMP_CWORD": "1"}
    result = run_process([], cwd=tmp_path, env=env)
    assert result.stdout.splitlines() == ["plain,show"]
    env = {"_GTO_COMPLETE": "bash_complete", "COMP_WORDS": "gto history --as", "COMP_CWORD": "2"}
    result = run_process([], cwd=tmp_path, env=env)
    assert result.stdout.splitlines() == ["plain,--asc", "plain,--ascending"]


def test_readme_documents_completion_for_each_shell() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for line in (
        'eval "$(_GTO_COMPLETE=bash_source gto)"',
        'eval "$(_GTO_COMPLETE=zsh_source gto)"',
        "_GTO_COMPLETE=fish_source gto | source",
    ):
        assert line in readme
