"""``gto tag-path``: print the tagged name of an output path, for shells and Makefiles.

    gto tag-path plot.png --config params.yaml --set lr=0.01 --set model.layers=[64,32]

prints ``plot-<commit7>-<confighash10>.png``, exactly the name
``@Artifact(config=...)`` gives ``plot.png`` in Python for the same config.
``--set`` values are JSON when they parse as JSON (numbers, ``true``,
``false``, ``null``, lists, objects, quoted strings) and plain strings
otherwise; dotted keys make nested mappings; ``--set`` wins over ``--config``.

Every failure is one line on stderr and exit code 1.  This module does not
import Rich; dulwich and ruamel.yaml are imported only when needed.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import click

from gto_dulwich.errors import GTOError

__all__ = ["load_config_file", "parse_assignment", "set_dotted", "tag_path"]


def _one_line(text: str) -> str:
    """One line, terminal-safe: file text can appear in a parse error."""
    from gto_dulwich.render import safe

    return safe(" ".join(text.split()))


def load_config_file(path: str) -> dict[str, Any]:
    """Read a JSON or YAML mapping (``.json`` is JSON; anything else is YAML, a JSON superset).

    Bounded like every file we parse (:mod:`gto_dulwich.yamlsafe`): a size cap, and
    no nesting or alias expansion past its limits.  A pipe (``<(...)``) still works.
    """
    from gto_dulwich.errors import YAMLError
    from gto_dulwich.yamlsafe import load_json_bounded, load_yaml_bounded, max_bytes

    limit = max_bytes()
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise click.ClickException(
            f"Cannot read config file '{path}': {error.strerror or error}"
        ) from None
    if len(data) > limit:
        raise click.ClickException(
            f"Cannot read config file '{path}': more than {limit:,} bytes "
            "(GTO_DULWICH_YAML_MAX_BYTES)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"Cannot read config file '{path}': not UTF-8 text") from None
    try:
        if path.lower().endswith(".json"):
            data_: object = load_json_bounded(text, where=f"config file '{path}'")
        else:
            data_ = load_yaml_bounded(data, where=f"config file '{path}'")
    except YAMLError as error:
        raise click.ClickException(_one_line(f"Cannot parse {error}")) from None
    except ValueError as error:  # not JSON
        raise click.ClickException(
            f"Cannot parse config file '{path}': {_one_line(str(error))}"
        ) from None
    if data_ is None:
        return {}
    if not isinstance(data_, dict):
        raise click.ClickException(
            f"Config file '{path}' must hold a mapping at the top level, not {type(data_).__name__}"
        )
    return data_


def parse_assignment(text: str) -> tuple[list[str], object]:
    """``a.b=VALUE`` -> ``(["a", "b"], value)``; VALUE is JSON when it parses, else a string."""
    key, equals, raw = text.partition("=")
    parts = key.split(".")
    if not equals or any(not part.strip() for part in parts):
        raise click.ClickException(f"Invalid --set '{text}': expected KEY=VALUE (KEY may be a.b.c)")
    from gto_dulwich.errors import YAMLError
    from gto_dulwich.yamlsafe import load_json_bounded

    try:
        value: object = load_json_bounded(raw, where=f"--set '{key}'")
    except YAMLError as error:
        raise click.ClickException(_one_line(str(error))) from None
    except ValueError:
        value = raw
    return parts, value


def set_dotted(config: dict[str, Any], parts: list[str], value: object) -> None:
    """Set ``config[parts[0]][parts[1]]... = value``, creating missing mappings."""
    node = config
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise click.ClickException(
                f"Cannot --set '{'.'.join(parts)}': '{where}' is not a mapping"
            )
        node = child
    node[parts[-1]] = value


@click.command("tag-path")
@click.argument("path")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="JSON (.json) or YAML file holding the config mapping.",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a config value (VALUE parsed as JSON if possible; a.b=1 nests). Repeatable.",
)
@click.option("--allow-dirty", is_flag=True, help="Tag from a dirty work tree ('-dirty' marker).")
@click.option(
    "--include-untracked", is_flag=True, help="Count untracked files as making the tree dirty."
)
@click.option(
    "-r",
    "--repo",
    default=None,
    metavar="DIR",
    help="Where to look for the repository (default: the current directory).",
)
def tag_path(
    *,
    path: str,
    config_file: str | None,
    assignments: tuple[str, ...],
    allow_dirty: bool,
    include_untracked: bool,
    repo: str | None,
) -> None:
    """Print PATH's tagged name: <stem>-<commit7>[-dirty]-<confighash10><suffix>."""
    from gto_dulwich.tagged import DirtyArtifactWarning, resolve

    config: dict[str, Any] = load_config_file(config_file) if config_file else {}
    for text in assignments:
        set_dotted(config, *parse_assignment(text))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DirtyArtifactWarning)
        try:
            resolved = resolve(
                path,
                config,
                allow_dirty=allow_dirty,
                include_untracked=include_untracked,
                repo=repo,
            )
        except (GTOError, ValueError) as error:
            raise click.ClickException(_one_line(str(error))) from None
    for warning in caught:
        if issubclass(warning.category, DirtyArtifactWarning):
            click.echo(f"Warning: {_one_line(str(warning.message))}", err=True)
        else:  # pragma: no cover - nothing else warns today
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    click.echo(os.fspath(resolved.path))
