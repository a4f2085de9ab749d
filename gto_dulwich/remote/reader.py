"""Read a remote registry without cloning it.

GTO clones the whole repository for every ``--repo URL`` command.  A registry
needs much less: the tag refs, the tag objects, the commits they point at, and
two small files of the default branch head (``.gto`` and ``artifacts.yaml``).
:class:`RemoteRepo` lists the remote's refs once, writes them into a temporary
bare store (refs only, as one ``packed-refs`` file), and fetches objects only
when the registry asks for them:

* tag objects (and their commits, without trees) for the tags being read, in
  one fetch with ``depth=1`` and the ``tree:0`` filter (reading every tag over
  git:// or ssh, the tagged commits with ``include-tag``: see
  :mod:`~gto_dulwich.remote.fetching`), indexed while the pack arrives and
  parsed from the contents indexing inflated (:meth:`RemoteRepo._raw`);
* a commit's trees (``blob:none``) and then single blobs, when a file is read
  at that commit.

Servers that do not honour filters (dulwich's own, ``file://``) send the
trees and blobs of the tagged commits along with the first fetch, so the later
steps find everything in place; real git servers (GitHub, GitLab, git-daemon
with ``uploadpack.allowFilter``) send only what is asked for.  The temporary
store is removed when the repository is closed; credentials never touch it.

Everything else is :class:`~gto_dulwich.repo.GitRepo`'s: the registry reads a
remote exactly as it reads a local repository, and a write creates the tag in
the temporary store and pushes that one ref (see :mod:`gto_dulwich.remote.push`).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dulwich.objects import Commit, ObjectID
from dulwich.repo import Repo

from gto_dulwich.errors import GTOError, RemoteError
from gto_dulwich.facts import CommitInfo, RefEntry
from gto_dulwich.remote import fetching
from gto_dulwich.remote.connection import Connection, connect
from gto_dulwich.remote.fetching import speaks_v2
from gto_dulwich.remote.packindex import Kept, PackReceiver, add_pack, add_pack_file
from gto_dulwich.repo import GitRepo

if TYPE_CHECKING:
    from dulwich.client import FetchPackResult

T = TypeVar("T")

_SPOOL_BYTES = 8 * 1024 * 1024

#: The files of the default branch head that a registry reads.
SETTINGS_FILE = ".gto"


class RemoteRepo(GitRepo):
    """A remote repository seen through a temporary, lazily filled bare store."""

    is_remote = True
    #: Tags are read from the contents the fetch indexed (:meth:`_raw`), not from the pack.
    scan_packs = False

    def __init__(self, repo: Repo, connection: Connection, root: Path, url: str) -> None:
        super().__init__(repo)
        self.url = url  # may hold credentials: never print it, use ``shown``
        self.shown = connection.shown
        self.bytes_received = 0
        self.fetches = 0
        self._connection = connection
        self._root = root
        self._with_trees: set[bytes] = set()
        # Every object this store holds arrived through ``_fetch``: tracking their ids
        # answers "do we have it?" without dulwich's per-object pack and loose-file scan.
        self._present: set[bytes] = set()
        # The commits and tags the fetches brought, as indexing inflated and hashed them.
        self._objects: Kept = {}
        self._settings: Path | None = None
        # Fetches go through :mod:`.fetching` until the server turns out not to speak v2.
        self._v2 = speaks_v2(connection)

    @classmethod
    def open_url(cls, url: str, *, environ: Mapping[str, str] | None = None) -> RemoteRepo:
        """List the refs of the repository at ``url``; nothing else is fetched yet."""
        connection = connect_url(url, environ)
        root = Path(tempfile.mkdtemp(prefix="gto_dulwich-remote-"))
        try:
            listing = call(connection, lambda: connection.client.get_refs(connection.path.encode()))
            store = root / "store.git"
            store.mkdir()
            repo = Repo.init_bare(str(store))
            _write_refs(store, dict(listing.refs), dict(listing.symrefs))
        except BaseException:
            connection.close()
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cls(repo, connection, root, url)

    def __enter__(self) -> RemoteRepo:
        return self

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._connection.close()
            shutil.rmtree(self._root, ignore_errors=True)

    def refresh(self) -> None:
        """List the remote's refs again (after a lost race), forgetting tags written here.

        Fetched objects stay: they are content-addressed, so still right.
        """
        connection = self._connection
        listing = call(connection, lambda: connection.client.get_refs(connection.path.encode()))
        store = Path(self.dulwich.controldir())
        self.dulwich.close()
        shutil.rmtree(store / "refs" / "tags", ignore_errors=True)
        _write_refs(store, dict(listing.refs), dict(listing.symrefs))
        # A fresh dulwich Repo and no parsed packed-refs: both would remember the old refs.
        self._dulwich = Repo(str(store))
        self._packed = None

    def remote_url(self, name: str = "origin") -> str | None:
        """Writes push back to where the registry was read from."""
        return self.url if name == "origin" else None

    def use_cache(self) -> None:
        """The tag cache would live in the temporary store and die with it: skip it."""

    def use_index_cache(self) -> None:
        """Likewise for parsed ``artifacts.yaml`` files."""

    @property
    def workdir(self) -> Path | None:
        """A folder holding the remote head's ``.gto`` (if it has one), for the config reader."""
        if self._settings is None:
            self._settings = self._root / "settings"
            self._settings.mkdir(exist_ok=True)
            head = self.head()
            data = self.read_file(head, SETTINGS_FILE) if head else None
            if data is not None:
                (self._settings / SETTINGS_FILE).write_bytes(data)
        return self._settings

    # -- what the registry reads, fetched on first use ---------------------------

    def tag_refs(self, prefixes: Sequence[str] | None = None) -> list[RefEntry]:
        entries = super().tag_refs(prefixes)
        if prefixes is None and self._v2:
            # Every tag: want the commits the registry's tags point at, and the server
            # adds the annotated tags on them (include-tag), instead of 25,000 wants.
            # Only for names that can be the registry's (``@`` or ``#``): another tag
            # may point at a big blob, and a wanted blob is sent whole; those tags are
            # wanted as themselves.
            # Commits already here are wanted again: the server adds only the tags on
            # the objects it sends.
            wants = [_tag_want(entry) for entry in entries]
            self._fetch(wants, filter_spec=b"tree:0", include_tags=True, force=True)
        # Each tag object not here yet (all of them, without include-tag), by id.
        self._fetch([entry.sha.encode("ascii") for entry in entries], filter_spec=b"tree:0")
        return entries

    def commit_info(self, sha: str) -> CommitInfo | None:
        self._fetch([sha.encode("ascii")], filter_spec=b"tree:0")
        return super().commit_info(sha)

    def read_file(self, commit: str, path: str) -> bytes | None:
        sha = commit.encode("ascii")
        if sha not in self._with_trees:
            self._with_trees.add(sha)
            if not self._has_tree(sha):
                self._fetch([sha], filter_spec=b"blob:none", force=True)
        entry = self._tree_entry(commit, path)
        if entry is not None and ObjectID(entry[1]) not in self.dulwich.object_store:
            try:
                self._fetch([entry[1]], depth=None)
            except RemoteError:
                # The server refuses to send a blob by id: take the whole commit.
                self._fetch([sha], force=True)
        return super().read_file(commit, path)

    def commit_tree(self, commit: str) -> str | None:
        """Trees come with the commit (``blob:none``), as for :meth:`read_file`."""
        sha = commit.encode("ascii")
        if sha not in self._with_trees:
            self._with_trees.add(sha)
            if not self._has_tree(sha):
                self._fetch([sha], filter_spec=b"blob:none", force=True)
        return super().commit_tree(commit)

    def read_blob(self, sha: str) -> bytes | None:
        """One blob by id, fetched on first use (the DVC files a registry reads)."""
        if ObjectID(sha.encode("ascii")) not in self.dulwich.object_store:
            self._fetch([sha.encode("ascii")], depth=None)
        return super().read_blob(sha)

    def fetch_blobs(self, blobs: Sequence[bytes]) -> None:
        """Exactly these blobs, by id, in one fetch (no history, no other file)."""
        store = self.dulwich.object_store
        missing = [b for b in dict.fromkeys(blobs) if ObjectID(b) not in store]
        if missing:
            self._fetch(missing, depth=None)

    def _raw(self, sha: bytes, location: tuple[int, int] | None) -> tuple[int, bytes]:
        """A tag (or commit) as the fetch that brought it was indexed: found again in
        the pack it would be inflated a second time.  Its id was computed from these
        bytes, so they are the object whichever id the server sent it for."""
        found = self._objects.get(sha)
        return found if found is not None else super()._raw(sha, location)

    def _peel_commit(self, sha: bytes) -> Commit:
        self._fetch([sha], filter_spec=b"tree:0")
        return super()._peel_commit(sha)

    def _commit(self, sha: bytes) -> Commit:
        self._fetch([sha], filter_spec=b"tree:0")
        return super()._commit(sha)

    # -- fetching -------------------------------------------------------------------

    def _has_tree(self, commit: bytes) -> bool:
        store = self.dulwich.object_store
        try:
            obj = store[ObjectID(commit)]
        except KeyError:
            return False
        return isinstance(obj, Commit) and obj.tree in store

    def _fetch(
        self,
        wants: Sequence[bytes],
        *,
        depth: int | None = 1,
        filter_spec: bytes | None = None,
        force: bool = False,
        include_tags: bool = False,
    ) -> None:
        """Fetch ``wants`` (and what they reach, cut by ``depth`` and ``filter_spec``)."""
        store = self.dulwich.object_store
        missing = [w for w in dict.fromkeys(wants) if force or w not in self._present]
        if not missing:
            return
        connection = self._connection

        def determine_wants(_refs: Mapping[Any, Any], depth: int | None = None) -> list[ObjectID]:
            return [ObjectID(w) for w in missing]

        # On disk past a few megabytes: a pack may be as large as GTO_DULWICH_MAX_PACK_BYTES.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, dir=str(self._root)) as pack:
            # Up to that size, indexed in memory while it arrives (the server is slower).
            receiver = PackReceiver(pack, _SPOOL_BYTES)

            def fetch() -> tuple[set[bytes] | None, set[bytes] | None]:
                if self._v2:
                    done = fetching.fetch(
                        connection,
                        missing,
                        receiver.write,
                        depth=depth,
                        filter_spec=filter_spec,
                        include_tags=include_tags,
                    )
                    if done is not None:
                        return done
                    self._v2 = False
                result: FetchPackResult = connection.client.fetch_pack(
                    connection.path,
                    determine_wants,  # type: ignore[arg-type]
                    self.dulwich.get_graph_walker(heads=[]),
                    receiver.write,  # type: ignore[arg-type]
                    depth=depth,
                    # Wants are ids, not refs: a protocol-v2 server need not list
                    # every tag again for each fetch (a second each at 25,000 tags).
                    ref_prefix=[b"HEAD"],
                    filter_spec=filter_spec,
                )
                return (
                    {bytes(sha) for sha in result.new_shallow or ()},
                    {bytes(sha) for sha in result.new_unshallow or ()},
                )

            new_shallow, new_unshallow = call(connection, fetch)
            self.fetches += 1
            size = receiver.size
            self.bytes_received += size
            if size:
                data = receiver.data
                ids = receiver.add_to(store.pack_dir)
                kept: Kept = receiver.kept
                if ids is None:
                    kept = {}
                    if data is not None:
                        ids = add_pack(store.pack_dir, bytes(data), kept)
                    else:  # a file past the spool's size: mapped and read in pieces there
                        ids = add_pack_file(store.pack_dir, pack, kept)
                if ids is not None:
                    self._present.update(ids)
                    self._objects.update(kept)
                else:
                    read = io.BytesIO(data).read if data is not None else pack.read
                    pack.seek(0)
                    # Still the server's bytes: a broken pack is its failure, one line.
                    added = call(connection, lambda: store.add_thin_pack(read, None))
                    self._present.update(bytes(sha) for sha in added.index)
        self.dulwich.update_shallow(
            {ObjectID(sha) for sha in new_shallow or ()},
            {ObjectID(sha) for sha in new_unshallow or ()},
        )


def _tag_want(entry: RefEntry) -> bytes:
    """What to want for one tag ref with include-tag: the commit a registry tag points at
    (the server adds the tag), any other tag itself."""
    if entry.peeled and ("@" in entry.name or "#" in entry.name):
        return entry.peeled.encode("ascii")
    return entry.sha.encode("ascii")


def connect_url(url: str, environ: Mapping[str, str] | None) -> Connection:
    from dulwich.config import StackedConfig

    try:
        # No repository here: the user's own git config (global, XDG, system) still
        # applies, as it does to git (http.extraHeader, http.sslCAInfo, insteadOf, ...).
        user_config = StackedConfig(StackedConfig.default_backends())
    except (OSError, ValueError) as exc:
        raise GTOError(f"cannot read your git config: {exc}") from None
    try:
        return connect(url, operation="pull", config=user_config, environ=environ)
    except GTOError:
        raise
    except Exception as exc:
        raise RemoteError(f"cannot read {url if '@' not in url else 'the remote'}: {exc}") from None


def call(connection: Connection, action: Callable[[], T]) -> T:
    """Run one network operation; a failure becomes one masked line."""
    try:
        with connection.guard("read"):
            return action()
    except GTOError:
        raise
    except Exception as exc:
        message = connection.explain(exc, "read")
        if message is None:
            raise
        raise RemoteError(message) from None


def _write_refs(store: Path, refs: Mapping[Any, Any], symrefs: Mapping[Any, Any]) -> None:
    """The remote's refs as this store's ``packed-refs`` and ``HEAD`` (objects come later)."""
    peeled: dict[bytes, bytes] = {}
    names: list[bytes] = []
    for name, sha in refs.items():  # 25,000 tags and as many peeled lines: one pass
        if name.endswith(b"^{}"):
            if sha:
                peeled[bytes(name[:-3])] = bytes(sha)
        elif sha and name.startswith(b"refs/"):
            names.append(bytes(name))
    names.sort()
    lines = [b"# pack-refs with: peeled sorted \n"]
    for name in names:
        target = peeled.get(name)
        sha = bytes(refs[name])
        lines.append(
            b"%s %s\n" % (sha, name) if target is None else b"%s %s\n^%s\n" % (sha, name, target)
        )
    (store / "packed-refs").write_bytes(b"".join(lines))
    target = symrefs.get(b"HEAD")
    head = refs.get(b"HEAD")
    if target:
        (store / "HEAD").write_bytes(b"ref: " + bytes(target) + b"\n")
    elif head:
        (store / "HEAD").write_bytes(bytes(head) + b"\n")
    else:
        (store / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    os.makedirs(store / "refs" / "tags", exist_ok=True)
