"""The line STYLE.md draws, enforced: the pure core loads no library from the edges.

Each module is imported in a fresh interpreter (a module another test imported earlier would
hide a stray import here) and ``sys.modules`` is inspected afterwards.  Adding, say,
``import dulwich.repo`` to ``events.py`` fails this test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Pure at import: records, the grammar and the folds over them.
CORE = (
    "errors",
    "facts",
    "grammar",
    "versions",
    "events",
    "reducer",
    "queries",
    "plan",
    "config",
    "annotations",
    "yamlsafe",
    "yamlfast",
    "settings",
    "safefile",
)
# The edges: git, the terminal, YAML, templates, HTTP.
EDGE_LIBRARIES = ("dulwich", "click", "rich", "ruamel", "jinja2", "urllib3")

_PROBE = """
import json, sys
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(*modules: str) -> set[str]:
    """Every module loaded once ``modules`` are imported in a fresh interpreter."""
    imports = "\n".join(f"import {module}" for module in modules)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(imports=imports)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out))


def loaded_edges(module: str) -> list[str]:
    """The edge-library modules that importing ``gto_dulwich.<module>`` loads."""
    loaded = loaded_modules(f"gto_dulwich.{module}")
    return sorted(name for name in loaded if name.split(".")[0] in EDGE_LIBRARIES)


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_no_edge_library(module: str) -> None:
    assert loaded_edges(module) == []


def test_the_probe_sees_an_edge_library() -> None:
    # The check itself works: the repository builder does load dulwich.
    assert any(name.startswith("dulwich") for name in loaded_edges("builder"))


def test_the_readme_module_table_lists_every_module_and_only_those() -> None:
    root = Path(__file__).resolve().parent.parent
    text = (root / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| module | role |") :]
    table = table[: table.index("\n\n")]
    first_column = "\n".join(line.split("|")[1] for line in table.splitlines()[2:])
    listed = set(re.findall(r"`([a-z_/]+\.py)`", first_column))
    package = root / "gto_dulwich"
    modules = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    assert listed == modules


def test_the_cli_loads_only_what_a_registry_read_needs() -> None:
    # Every command pays for what `import gto_dulwich.cli` loads: the commands that live in
    # their own modules (tag-path, report, get) and the libraries behind them load when run.
    # Every command also enters its deadline scope (gto_dulwich.remote.guard).
    loaded = loaded_modules("gto_dulwich.cli", "gto_dulwich.remote.guard")
    later = {
        "gto_dulwich.tagged",
        "gto_dulwich.cli_report",
        "gto_dulwich.cli_get",
        "gto_dulwich.remote.connection",
        "jinja2",
    }
    assert loaded & later == set()
    assert not any(name.split(".")[0] in {"dulwich", "rich", "ruamel"} for name in loaded)


def test_the_read_pipeline_loads_no_network_code() -> None:
    # A local read asks only whether its --repo is a URL (gto_dulwich.remote.is_url).
    loaded = loaded_modules("gto_dulwich.registry")
    assert "gto_dulwich.remote" in loaded
    assert not {name for name in loaded if name.startswith("gto_dulwich.remote.")}
