"""Errors are data: one base class, formatted once at the edge (the CLI).

Every expected failure is a :class:`GTOError`; its ``exit_code`` is what the CLI
exits with and ``str(error)`` is the one line it prints.  Messages follow GTO
1.10.1 word for word where GTO has one, so scripts that grep them keep working.
"""

from __future__ import annotations

import os
from pathlib import Path

NAME_RULES = (
    "Only letters, numbers, '_', '-', '/' are allowed. Value must be of len >= 2 "
    "and must start and end with a letter or a number."
)


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
