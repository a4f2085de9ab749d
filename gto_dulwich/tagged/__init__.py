"""Tagged artifacts: write ``plot.png``, get ``plot-<commit>-<config hash>.png``.

A function decorated with :class:`Artifact` receives, instead of the output
path it was called with, a path whose file name also carries the current
commit and a hash of a configuration::

    plot.png  ->  plot-1a2b3c4-5d6e7f8a9b.png            (clean tree)
    plot.png  ->  plot-1a2b3c4-dirty-5d6e7f8a9b.png      (dirty tree, allow_dirty=True)

Everything is read when the function is *called*, never when it is decorated
or imported: the repository holding the current directory (or ``repo=``), its
HEAD commit and whether the work tree is dirty, all with dulwich (no git
binary).  The configuration hash is a SHA-256 of a canonical serialisation
(:func:`canonical_config`), so it is the same in every process, on every
machine and with every Python version; an unsupported value is an error, never
a silent ``repr``.  The exact scheme is written down in
``docs/tagged-artifacts.md`` (the README's "Tagged artifacts" section) so
that other tools can rebuild a name.

Nothing here imports dulwich until a repository is actually read.
"""

from __future__ import annotations

from gto_dulwich.errors import (
    ArtifactArgumentError,
    DirtyWorkTreeError,
    NoCommitsError,
    TaggedArtifactError,
    TaggedFileNotFoundError,
    UnsupportedConfigValue,
)
from gto_dulwich.tagged.artifact import (
    Artifact,
    DirtyArtifactWarning,
    RepoState,
    TaggedPath,
    read_repo_state,
    resolve,
    tagged_path,
)
from gto_dulwich.tagged.naming import (
    COMMIT_LENGTH,
    COMPRESSION_SUFFIXES,
    DIRTY_MARKER,
    HASH_LENGTH,
    PROVENANCE_SCHEMA,
    PROVENANCE_SUFFIX,
    canonical_config,
    config_hash,
    provenance_path,
    split_suffix,
    tagged_name,
)

__all__ = [
    "COMMIT_LENGTH",
    "COMPRESSION_SUFFIXES",
    "DIRTY_MARKER",
    "HASH_LENGTH",
    "PROVENANCE_SCHEMA",
    "PROVENANCE_SUFFIX",
    "Artifact",
    "ArtifactArgumentError",
    "DirtyArtifactWarning",
    "DirtyWorkTreeError",
    "NoCommitsError",
    "RepoState",
    "TaggedArtifactError",
    "TaggedFileNotFoundError",
    "TaggedPath",
    "UnsupportedConfigValue",
    "canonical_config",
    "config_hash",
    "provenance_path",
    "read_repo_state",
    "resolve",
    "split_suffix",
    "tagged_name",
    "tagged_path",
]
