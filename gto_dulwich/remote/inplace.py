"""Read a ``file://`` registry in place, as a URL read but without any server.

A ``file://`` URL names a repository on this machine.  Reading it through
:class:`~gto_dulwich.remote.reader.RemoteRepo` ran dulwich's upload-pack in our own
process and indexed the pack it produced into a temporary store: 15x a clone.
:class:`InPlaceRepo` opens the repository itself and reads it the way a local
read does (packs scanned directly), while keeping what makes a URL read one:

* nothing is written into the repository: it is someone else's (another user's,
  a shared mount, a CI cache), so neither the tag nor the ``artifacts.yaml``
  cache is used - as with ``--no-cache`` - and the state cache is skipped
  (``is_remote``).  Reading the owner's caches without writing them was
  rejected: they are files any writer of that ``.git`` controls, and a URL read
  must answer what the repository's objects say, as a clone would.
* ``.gto`` comes from the HEAD commit, never from a work tree: no work-tree file
  is read, exactly as a clone of the URL would see it.

Only reads come here: a write through a ``file://`` URL still goes through
:class:`~gto_dulwich.remote.reader.RemoteRepo` and one push (see ``registry.git_of``), so
the remote's own refs are changed by a push and never by us writing objects.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dulwich.client import LocalGitClient
from dulwich.repo import Repo

from gto_dulwich.remote.reader import SETTINGS_FILE, call, connect_url
from gto_dulwich.repo import GitRepo


class InPlaceRepo(GitRepo):
    """A ``file://`` repository opened read-only, with no cache and no work tree."""

    is_remote = True

    def __init__(self, repo: Repo, url: str, shown: str) -> None:
        super().__init__(repo)
        self.url = url
        self.shown = shown
        self._settings_root: Path | None = None
        self._settings: Path | None = None

    @classmethod
    def open_url(cls, url: str, *, environ: Mapping[str, str] | None = None) -> InPlaceRepo | None:
        """The repository ``url`` names, when it is local after the user's git config
        (``insteadOf`` may point a ``file://`` URL elsewhere); None otherwise."""
        connection = connect_url(url, environ)
        try:
            if not isinstance(connection.client, LocalGitClient):
                return None
            # dulwich's own opening, so a missing repository fails as the served read did.
            repo = call(connection, lambda: Repo(os.fsdecode(connection.path)))
            return cls(repo, url, connection.shown)
        finally:
            connection.close()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._settings_root is not None:
                shutil.rmtree(self._settings_root, ignore_errors=True)

    def remote_url(self, name: str = "origin") -> str | None:
        return self.url if name == "origin" else None

    def use_cache(self) -> None:
        """Never write a cache into someone else's repository."""

    def use_index_cache(self) -> None:
        """Likewise for parsed ``artifacts.yaml`` files."""

    def save_cache(self) -> None:
        """Nothing to save: no cache is used."""

    @property
    def workdir(self) -> Path | None:
        """A folder holding HEAD's ``.gto`` (if it has one), for the config reader."""
        if self._settings is None:
            self._settings_root = Path(tempfile.mkdtemp(prefix="gto_dulwich-settings-"))
            self._settings = self._settings_root
            head = self.head()
            data = self.read_file(head, SETTINGS_FILE) if head else None
            if data is not None:
                (self._settings / SETTINGS_FILE).write_bytes(data)
        return self._settings
