"""Errors are data: one base class, formatted once at the edge (the CLI).

Every expected failure is a :class:`GTOError`; its ``exit_code`` is what the CLI
exits with and ``str(error)`` is the one line it prints.  Messages follow GTO
1.10.1 word for word where GTO has one, so scripts that grep them keep working.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

NAME_RULES = (
    "Only letters, numbers, '_', '-', '/' are allowed. Value must be of len >= 2 "
    "and must start and end with a letter or a number."
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: How many changed files an error or warning names before "and N more".
_LISTED_FILES = 5


def list_files(files: tuple[str, ...]) -> str:
    """``files`` for a one-line message: the first few, then "and N more"."""
    shown = ", ".join(files[:_LISTED_FILES])
    more = len(files) - _LISTED_FILES
    return f"{shown} and {more} more" if more > 0 else shown


class GTOError(Exception):
    """An expected failure: bad input, missing artifact, refused write."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidName(GTOError):
    """An artifact name, stage, type or label that breaks GTO's name rules."""

    def __init__(self, value: str) -> None:
        super().__init__(f"Invalid value '{value}'. {NAME_RULES}")
        self.value = value


class InvalidVersion(GTOError, ValueError):
    """Text that is not ``v`` + SemVer 2.0."""

    def __init__(self, value: str, message: str | None = None) -> None:
        super().__init__(
            message or f"Version '{value}' is not valid. Example of valid version: 'v1.0.0'"
        )
        self.value = value


class TagSyntaxError(GTOError, ValueError):
    """A tag name that is not in GTO's grammar; carries where it goes wrong."""

    def __init__(self, text: str, position: int = 0, reason: str = "") -> None:
        super().__init__(f"Cannot parse tag name '{text}'")
        self.text = text
        self.position = position
        self.reason = reason

    def explain(self) -> str:
        """The message, the text and a caret under the bad part (for humans)."""
        caret = " " * self.position + "^"
        why = f": {self.reason}" if self.reason else ""
        return f"{self.message}{why}\n    {self.text}\n    {caret}"


class ArtifactNotFound(GTOError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Cannot find artifact '{name}'")
        self.name = name


class VersionNotFound(GTOError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No versions found for '{name}'")
        self.name = name


class NotARepository(GTOError):
    def __init__(self, path: str) -> None:
        super().__init__(f"No Git repo found in '{path}'")
        self.path = path


class UnknownRevision(GTOError):
    def __init__(self, rev: str) -> None:
        super().__init__(f"unknown Git revision '{rev}'")
        self.rev = rev


class WrongConfig(GTOError):
    def __init__(self, path: str, detail: str = "") -> None:
        super().__init__(f"Wrong config file '{path}'" + (f": {detail}" if detail else ""))
        self.path = path
        self.detail = detail


class StageNotAllowed(GTOError):
    def __init__(self, stage: str, allowed: list[str]) -> None:
        super().__init__(f"Allowed stages are: '{allowed}'")
        self.stage = stage
        self.allowed = allowed


class AnnotationsError(GTOError):
    """An ``artifacts.yaml`` that does not follow GTO's format."""

    def __init__(self, index: str, commit: str | None, detail: str = "") -> None:
        where = f" at commit {commit[:7]}" if commit else ""
        message = f"{index} file doesn't conform to GTO format{where}"
        super().__init__(message + (f": {detail}" if detail else ""))
        self.index = index
        self.commit = commit
        self.detail = detail


# -- locks and writes ------------------------------------------------------------------


class TagExists(GTOError):
    def __init__(self, tag: str) -> None:
        super().__init__(f"tag '{tag}' already exists")
        self.tag = tag


class TagNotFound(GTOError):
    def __init__(self, tag: str) -> None:
        super().__init__(f"tag '{tag}' is not found")
        self.tag = tag


class CannotWrite(GTOError):
    """The file system refused a write (read-only repository, full disk, name too long)."""

    def __init__(self, exc: OSError) -> None:
        where = f" ({os.fsdecode(exc.filename)})" if exc.filename else ""
        super().__init__(f"Cannot write to the repository: {exc.strerror or exc}{where}")


class RefBusy(Exception):
    """Another writer holds a lock right now (internal: writers retry)."""


class RefLocked(GTOError):
    """Another writer holds git's lock on a ref for longer than we are willing to wait."""

    def __init__(self, lock: str) -> None:
        super().__init__(
            f"'{lock}' is locked by another process; if no git or gto is running, remove it"
        )
        self.lock = lock


class IndexLocked(GTOError):
    """Another process holds ``<index>.lock`` (or a crashed one left it behind)."""

    def __init__(self, index: str, lock_path: Path) -> None:
        super().__init__(
            f"{index} is locked by another process ({lock_path}); remove it if no gto is running"
        )
        self.index = index
        self.lock_path = lock_path


# -- reading repositories ----------------------------------------------------------------


class RepoError(GTOError):
    """A repository that cannot be read the way the command needs."""


# -- DVC storage -------------------------------------------------------------------------


class StorageError(GTOError):
    """An object that cannot be downloaded, or that does not match its md5."""


class GetError(GTOError):
    """``gto get`` cannot resolve, find or write the artifact."""


# -- settings ----------------------------------------------------------------------------


class BadSetting(GTOError):
    """An environment variable whose value cannot be used."""

    def __init__(self, name: str, value: str, expected: str, *, message: str = "") -> None:
        super().__init__(message or f"{name}={value!r} is not {expected}")
        self.name = name
        self.value = value


class BadLocation(GTOError):
    """A repository location that is refused before any connection (a usage error)."""

    exit_code = 2


# -- bounded YAML ------------------------------------------------------------------------


class YAMLError(GTOError):
    """A document that cannot be read: ``where`` it came from and why, on one line."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {_one_line(reason)}")
        self.where = where
        self.reason = _one_line(reason)


class YAMLRefused(YAMLError):
    """A document over a bound (size, depth, nodes, recursive alias): not parsed further."""


class AnnotationsRefused(AnnotationsError):
    """An ``artifacts.yaml`` over the loader's bounds (size, nesting, alias expansion):
    not read, so its annotations are skipped."""

    def __init__(self, index: str, commit: str | None, reason: str) -> None:
        super().__init__(index, commit, reason)
        where = f" at commit {commit[:7]}" if commit else ""
        self.message = f"{index}{where} refused: {reason}"


# -- planning writes ---------------------------------------------------------------------


class ManyVersions(GTOError):
    def __init__(self, name: str, versions: list[str]) -> None:
        super().__init__(
            "Multiple versions are not allowed on the same Git commit. Violation detected "
            f"for artifact '{name}', versions '{versions}'."
        )


# -- identity ----------------------------------------------------------------------------


class IdentityUnknown(GTOError):
    def __init__(self, missing: str) -> None:
        super().__init__(
            f"Tagger identity unknown: no {missing} configured. Run "
            "'git config --global user.name \"Your Name\"' and "
            "'git config --global user.email you@example.com' (or set GIT_COMMITTER_NAME "
            "and GIT_COMMITTER_EMAIL)"
        )


# -- remotes -----------------------------------------------------------------------------


class RemoteError(GTOError):
    """A remote that could not be read, fetched from or pushed to: one masked line.

    ``url`` is the remote's URL without credentials.
    """

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class PushError(RemoteError):
    """A push that failed or was not applied; the remote may be partly updated only on races."""


class LostRace(PushError):
    """A tag that had to be new on the remote was made there by another writer first.

    Raised only for ``fresh`` pushes (writes through a URL): the tag existed on
    the remote before our push landed, even with the very same content, so this
    writer made nothing and should read the remote again and re-plan.
    """


# -- tagged artifacts --------------------------------------------------------------------


class TaggedArtifactError(GTOError):
    """Base class of every tagged-artifact failure."""


class NoCommitsError(TaggedArtifactError):
    """The repository has no commit yet, so there is nothing to tag with."""

    def __init__(self, root: str) -> None:
        super().__init__(
            f"Repository '{root}' has no commits yet; commit something before tagging artifacts"
        )
        self.root = root


class DirtyWorkTreeError(TaggedArtifactError):
    """Tracked files (or, when asked, untracked ones) differ from HEAD."""

    def __init__(self, root: str, changed: tuple[str, ...]) -> None:
        super().__init__(
            f"Working tree of '{root}' has uncommitted changes ({list_files(changed)}); "
            "commit them, or allow a dirty tree (allow_dirty=True, --allow-dirty)"
        )
        self.root = root
        self.changed = changed


class UnsupportedConfigValue(TaggedArtifactError, TypeError):
    """A config value the canonical serialisation does not define."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"Cannot hash {where}: {problem}")
        self.where = where
        self.problem = problem


class ArtifactArgumentError(TaggedArtifactError, TypeError):
    """The decorated function has no such parameter, or was called without it."""


class TaggedFileNotFoundError(TaggedArtifactError, FileNotFoundError):
    """Reading an artifact whose tagged file does not exist."""

    def __init__(self, plain: str, tagged: str) -> None:
        super().__init__(
            f"No artifact '{tagged}' (the tagged name of '{plain}' for the current commit "
            "and config)"
        )
        self.errno = errno.ENOENT
        self.strerror = self.message
        self.filename = tagged
        self.plain = plain
        self.tagged = tagged
