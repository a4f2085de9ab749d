"""gto_dulwich: a Git Tag Ops artifact registry that needs no git binary.

Public names are imported lazily so that ``import gto_dulwich`` (and the CLI's
start-up) stays cheap: nothing here touches dulwich, Rich or ruamel.yaml until
it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gto_dulwich.tagged import Artifact

__all__ = ["Artifact", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Artifact":
        from gto_dulwich.tagged import Artifact

        return Artifact
    raise AttributeError(f"module 'gto_dulwich' has no attribute {name!r}")
