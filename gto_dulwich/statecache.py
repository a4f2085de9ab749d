"""A cache of what ``show`` (no name) prints, keyed by everything that decides it.

Reading the registry costs time per tag: every ref name is parsed, every tag
becomes an event, and the reducer folds them all (0.5 s at 25,000 tags even
with every tag object cached).  ``show`` with no name prints a few hundred
rows at most, so those rows are kept in the git directory
(``gto_dulwich-state.json``) under a fingerprint of exactly what determines
them:

* every ``refs/tags`` ref: the ``packed-refs`` bytes (hashed whole, not
  parsed) and each loose tag ref file under ``refs/tags``;
* the commit checked out: ``HEAD`` and the ref files it leads to (a packed
  branch is covered by the ``packed-refs`` bytes).  A commit never changes,
  so neither do its ``artifacts.yaml`` and metadata;
* ``.git/shallow`` and ``objects/info/alternates``, which decide which objects
  are present;
* the effective configuration (``.gto`` and ``GTO_*`` variables), the package
  version and this cache's schema version.

Objects are named by their content, so given the refs and HEAD the answer can
change only when an object the read needed was missing or unreadable; such a
read is never stored.  The fingerprint is taken before the read and checked
again after it, so a ref written meanwhile never files an answer under the
old refs.

Like the tag cache: written atomically (temp file + rename), two processes
writing at once each write a whole file (the last one wins), and a missing,
corrupt or foreign file is ignored and rebuilt.  It is only a shortcut:
``--no-cache`` or ``GTO_DULWICH_NO_CACHE=1`` turns it off and the output is
the same.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gto_dulwich import __version__
from gto_dulwich.cache import write_atomically
from gto_dulwich.events import Diagnostic
from gto_dulwich.queries import RegistryRow

if TYPE_CHECKING:
    from gto_dulwich.config import Config
    from gto_dulwich.reducer import RegistryState
    from gto_dulwich.repo import GitRepo

FORMAT = "gto_dulwich state cache"
SCHEMA = 1
FILE_NAME = "gto_dulwich-state.json"
# Fingerprints kept: a few worktrees or config variants do not evict each other.
MAX_ENTRIES = 4
# Option sets kept per fingerprint (``show``, ``show --vs -1``, ...).
MAX_VIEWS = 8
# Diagnostics that mean an object was missing or unreadable: such a read is not stored.
UNREADABLE = "unreadable tag:"

View = tuple[list[str], list[RegistryRow]]


def view_key(
    registered_only: bool, assignments_per_version: int, versions_per_stage: int, sort: str
) -> str:
    return f"{int(registered_only)} {assignments_per_version} {versions_per_stage} {sort}"


class StateCache:
    """The cache entry for one repository state, opened before the registry is read."""

    def __init__(self, git: GitRepo, config: Config, *, enrich_all: bool) -> None:
        self.git = git
        self.config = config
        self.enrich_all = enrich_all
        self.path = git.commondir / FILE_NAME
        self.key = fingerprint(git, config, enrich_all=enrich_all)
        # False once the read met a missing object: its answer is not stored.
        self.complete = True
        self.entry: dict[str, Any] | None = None
        if self.key is not None:
            self.entry = _find(_load(self.path), self.key)

    @property
    def hit(self) -> bool:
        return self.entry is not None

    def incomplete(self) -> None:
        self.complete = False

    def diagnostics(self) -> tuple[Diagnostic, ...] | None:
        if self.entry is None:
            return None
        return tuple(
            Diagnostic(ref, reason, severity) for ref, reason, severity in self.entry["diagnostics"]
        )

    def used_stages(self) -> list[str] | None:
        if self.entry is None:
            return None
        stages = self.entry["used_stages"]
        return list(stages) if stages is not None else None

    def view(self, key: str) -> View | None:
        """The stages and rows (deprecated artifacts included) stored for these options."""
        if self.entry is None:
            return None
        found = self.entry["views"].get(key)
        if found is None:
            return None
        stages, rows = found
        return list(stages), [
            RegistryRow(name, latest, {s: list(v) for s, v in held.items()}, registered, active)
            for name, latest, held, registered, active in rows
        ]

    def remember(self, state: RegistryState, key: str, view: View) -> None:
        """Store a view computed from ``state``, if the repository is still what was read."""
        if self.key is None or not self.complete:
            return
        if any(d.reason.startswith(UNREADABLE) for d in state.diagnostics):
            return
        if fingerprint(self.git, self.config, enrich_all=self.enrich_all) != self.key:
            return  # refs or HEAD moved while we read: the answer may be the newer one
        stages, rows = view
        entry = self.entry or {
            "key": self.key,
            "diagnostics": [[d.ref, d.reason, d.severity] for d in state.diagnostics],
            "used_stages": None,
            "views": {},
        }
        if self.config.stages is None:
            entry["used_stages"] = list(stages)
        views = {k: v for k, v in entry["views"].items() if k != key}
        kept = list(views.items())[-(MAX_VIEWS - 1) :] if MAX_VIEWS > 1 else []
        entry["views"] = {
            **dict(kept),
            key: [
                list(stages),
                [[r.name, r.latest, r.stages, r.registered, r.active] for r in rows],
            ],
        }
        self.entry = entry
        others = [e for e in _load(self.path) if e.get("key") != self.key]
        payload = {
            "format": FORMAT,
            "version": SCHEMA,
            "entries": [entry, *others[: MAX_ENTRIES - 1]],
        }
        write_atomically(self.path, json.dumps(payload, separators=(",", ":")).encode())


def fingerprint(git: GitRepo, config: Config, *, enrich_all: bool) -> str | None:
    """A hash of everything a registry read depends on; None when it cannot be taken."""
    digest = hashlib.sha256()

    def part(label: str, data: bytes | None) -> None:
        size = -1 if data is None else len(data)
        digest.update(f"\n{label} {size}\n".encode())
        if data:
            digest.update(data)

    try:
        common = git.commondir
        part("schema", f"{FORMAT} {SCHEMA} {__version__} enrich_all={enrich_all}".encode())
        part("config", repr(config).encode("utf-8", "backslashreplace"))
        part("packed-refs", _read(common / "packed-refs"))
        for ref, content in _loose_tag_refs(common):
            part("ref " + ref, content)
        value = _read(Path(git.dulwich.controldir()) / "HEAD")
        part("HEAD", value)
        for _ in range(5):  # symbolic refs, as GitRepo.head follows them
            if value is None or not value.startswith(b"ref: "):
                break
            name = value[5:].strip()
            value = _read(common / os.fsdecode(name))
            part("HEAD ref " + os.fsdecode(name), value)
        part("shallow", _read(common / "shallow"))
        part("alternates", _read(common / "objects" / "info" / "alternates"))
    except (OSError, ValueError, AttributeError, NotImplementedError):
        return None
    return digest.hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _loose_tag_refs(common: Path) -> list[tuple[str, bytes]]:
    """Every file under ``refs/tags`` with the bytes ``GitRepo.tag_refs`` reads of it."""
    found = []
    for root, _dirs, files in os.walk(common / "refs" / "tags"):
        for file_name in files:
            full = os.path.join(root, file_name)
            if file_name.endswith(".lock"):
                continue
            try:
                with open(full, "rb") as handle:
                    content = handle.read(100)
            except OSError:
                content = b"<unreadable>"
            found.append((os.path.relpath(full, common).replace(os.sep, "/"), content))
    found.sort()
    return found


def absent_for_sure(git: GitRepo, commit: str, path: str) -> bool:
    """Whether ``path`` is surely not a file in ``commit`` (False: an object on the way is
    missing or unreadable, so the answer may change once it is fetched)."""
    from dulwich.objects import Commit, ObjectID, Tree

    store = git.dulwich.object_store
    try:
        obj = store[ObjectID(commit.encode("ascii"))]
        if not isinstance(obj, Commit):
            return True
        tree = store[obj.tree]
        parts = path.strip("/").split("/")
        for number, part in enumerate(parts):
            if not isinstance(tree, Tree):
                return True
            try:
                _mode, sha = tree[part.encode("utf-8")]
            except KeyError:
                return True
            obj = store[sha]
            if number == len(parts) - 1:
                return obj.type_name != b"blob"
            tree = obj
    except Exception:  # missing or unreadable: not sure
        return False
    return True


# -- the file -------------------------------------------------------------------


def _load(path: Path) -> list[dict[str, Any]]:
    """The file's entries, or none when it is missing, corrupt or from another version."""
    try:
        raw: Any = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    if not (
        isinstance(raw, dict)
        and raw.get("format") == FORMAT
        and raw.get("version") == SCHEMA
        and isinstance(raw.get("entries"), list)
    ):
        return []
    return [e for e in raw["entries"] if isinstance(e, dict)]


def _find(entries: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The entry for ``key`` if it is well formed (a damaged one is a miss, not a crash)."""
    for entry in entries:
        if entry.get("key") == key:
            return entry if _valid_entry(entry) else None
    return None


def _strs(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _valid_entry(entry: dict[str, Any]) -> bool:
    diagnostics, used, views = (
        entry.get("diagnostics"),
        entry.get("used_stages"),
        entry.get("views"),
    )
    if not (isinstance(diagnostics, list) and all(_strs(d) and len(d) == 3 for d in diagnostics)):
        return False
    if not (used is None or _strs(used)) or not isinstance(views, dict):
        return False
    for view in views.values():
        if not (isinstance(view, list) and len(view) == 2 and _strs(view[0])):
            return False
        rows = view[1]
        if not isinstance(rows, list) or not all(_valid_row(row) for row in rows):
            return False
    return True


def _valid_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 5
        and isinstance(row[0], str)
        and (row[1] is None or isinstance(row[1], str))
        and isinstance(row[2], dict)
        and all(_strs(v) for v in row[2].values())
        and isinstance(row[3], bool)
        and isinstance(row[4], bool)
    )
