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
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from gto_dulwich import __version__
from gto_dulwich.annotations import parse_index
from gto_dulwich.cache import read_json, write_atomically
from gto_dulwich.errors import GTOError
from gto_dulwich.events import Diagnostic, Event, EventKind, build_event_log, parse_ref_name
from gto_dulwich.facts import RefEntry, ref_entry
from gto_dulwich.queries import RegistryRow, Sort, registry_rows, used_stages
from gto_dulwich.reducer import PASSES, RegistryState, reduce
from gto_dulwich.yamlsafe import max_bytes

if TYPE_CHECKING:
    from gto_dulwich.config import Config
    from gto_dulwich.repo import GitRepo

FORMAT = "gto_dulwich state cache"
SCHEMA = 2  # 2: rows list artifacts declared only in dvc.yaml
FILE_NAME = "gto_dulwich-state.json"
GROUPS_FORMAT = "gto_dulwich artifact summaries"
GROUPS_FILE_NAME = "gto_dulwich-artifacts.json"
HISTORY_FORMAT = "gto_dulwich history"
HISTORY_FILE_NAME = "gto_dulwich-history.json"
# Fingerprints kept: a few worktrees or config variants do not evict each other.
MAX_ENTRIES = 4
# Option sets kept per fingerprint (``show``, ``show --vs -1``, ...).
MAX_VIEWS = 8
# Diagnostics that mean an object was missing or unreadable: such a read is not stored.
UNREADABLE = "unreadable tag:"

View = tuple[list[str], list[RegistryRow]]
_NO_VIEWS: Mapping[str, Any] = MappingProxyType({})


# The records of this module are named tuples: as immutable as frozen dataclasses, and
# cheaper to define (every warm read imports this module first).


class ViewOptions(NamedTuple):
    """The ``show`` options that change its rows (``--deprecated`` only filters them)."""

    registered_only: bool = False
    assignments_per_version: int = -1
    versions_per_stage: int = 1
    sort: Sort = Sort.TIMESTAMP

    @property
    def key(self) -> str:
        return (
            f"{int(self.registered_only)} {self.assignments_per_version} "
            f"{self.versions_per_stage} {self.sort.value}"
        )

    def rows(self, state: RegistryState, stages: list[str]) -> list[RegistryRow]:
        """Every artifact's row (deprecated ones too)."""
        return registry_rows(
            state,
            stages,
            deprecated=True,
            registered_only=self.registered_only,
            assignments_per_version=self.assignments_per_version,
            versions_per_stage=self.versions_per_stage,
            sort=self.sort,
        )


class Entry(NamedTuple):
    """What the state file keeps for one fingerprint (``key``): a full read's diagnostics
    and used stages (None until a full read stored them), and a view per option set
    (oldest first, at most :data:`MAX_VIEWS`)."""

    key: str
    diagnostics: tuple[Diagnostic, ...] | None = None
    used_stages: tuple[str, ...] | None = None
    views: Mapping[str, tuple[tuple[str, ...], tuple[RegistryRow, ...]]] = _NO_VIEWS

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Entry | None:
        """The entry, or None when any part is malformed (a damaged entry is a miss)."""
        diagnostics, used, views = raw.get("diagnostics"), raw.get("used_stages"), raw.get("views")
        if diagnostics is not None and not (
            isinstance(diagnostics, list) and all(_strs(d) and len(d) == 3 for d in diagnostics)
        ):
            return None
        if not (used is None or _strs(used)) or not isinstance(views, dict):
            return None
        parsed = {}
        for option_key, view in views.items():
            if not (isinstance(view, list) and len(view) == 2 and _strs(view[0])):
                return None
            if not isinstance(view[1], list):
                return None
            rows = []
            for item in view[1]:
                row = _registry_row(item)
                if row is None:
                    return None
                rows.append(row)
            parsed[option_key] = (tuple(view[0]), tuple(rows))
        return cls(
            raw["key"],
            None if diagnostics is None else tuple(Diagnostic(*d) for d in diagnostics),
            None if used is None else tuple(used),
            parsed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "diagnostics": None
            if self.diagnostics is None
            else [[d.ref, d.reason, d.severity] for d in self.diagnostics],
            "used_stages": None if self.used_stages is None else list(self.used_stages),
            "views": {
                option_key: [
                    list(stages),
                    [_registry_list(row) for row in rows],
                ]
                for option_key, (stages, rows) in self.views.items()
            },
        }


class StateCache:
    """The cache for one repository state, opened (fingerprinted) before anything is read."""

    def __init__(self, git: GitRepo, config: Config, *, enrich_all: bool) -> None:
        self.git = git
        self.config = config
        self.enrich_all = enrich_all
        self.path = git.commondir / FILE_NAME
        self.key = fingerprint(git, config, enrich_all=enrich_all)
        # False once a read met a missing object: its answer is not stored.
        self.complete = True
        self.entry: Entry | None = None
        if self.key is not None:
            self.entry = _find(_load(self.path), self.key)

    @property
    def hit(self) -> bool:
        return self.entry is not None

    def incomplete(self) -> None:
        self.complete = False

    def diagnostics(self) -> tuple[Diagnostic, ...] | None:
        """The read's diagnostics, if a full read stored them."""
        return None if self.entry is None else self.entry.diagnostics

    def used_stages(self) -> list[str] | None:
        if self.entry is None:
            return None
        stages = self.entry.used_stages
        return list(stages) if stages is not None else None

    def view(self, options: ViewOptions) -> View | None:
        """The stages and rows (deprecated artifacts included) stored for these options."""
        if self.entry is None:
            return None
        found = self.entry.views.get(options.key)
        if found is None:
            return None
        stages, rows = found
        return list(stages), [
            RegistryRow(
                r.name, r.latest, {s: list(v) for s, v in r.stages.items()}, r.registered, r.active
            )
            for r in rows
        ]

    def assemble(self, options: ViewOptions, *, cache_threshold: int) -> View | None:
        """The view from per-artifact summaries (see :class:`ArtifactSummaries`), or None
        when it cannot be built that way; stored for the fingerprint when complete."""
        if self.key is None or self.enrich_all:
            return None
        built = ArtifactSummaries(self.git, self.config, self).view(
            options, cache_threshold=cache_threshold
        )
        if built is not None:
            self.remember(options, built, None)
        return built

    def remember_diagnostics(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        """Store a full read's diagnostics (``doctor``, ``-v``) for the fingerprint."""
        if self.entry is not None and self.entry.diagnostics is not None:
            return
        if not self._storable(diagnostics) or self.key is None:
            return
        self._write((self.entry or Entry(self.key))._replace(diagnostics=tuple(diagnostics)))

    def history(self) -> list[Event] | None:
        """Every tag event of the fingerprinted refs, oldest first, if a full read stored them."""
        if self.key is None or self.enrich_all:
            return None
        return _load_history(self.git.commondir / HISTORY_FILE_NAME, self.key)

    def remember_history(self, events: list[Event], diagnostics: tuple[Diagnostic, ...]) -> None:
        """Store the events ``history`` lists (oldest first) after a complete full read."""
        if self.enrich_all or not self._storable(diagnostics):
            return
        rows = []
        for event in events:
            row = to_row(event)
            if row is None:
                return  # a field holds a NUL: not cached
            rows.append(row)
        payload = {"format": HISTORY_FORMAT, "version": SCHEMA, "key": self.key, "events": rows}
        write_atomically(
            self.git.commondir / HISTORY_FILE_NAME,
            json.dumps(payload, separators=(",", ":")).encode(),
        )

    def _storable(self, diagnostics: tuple[Diagnostic, ...] | None) -> bool:
        """Whether a full read's answer may be kept: complete, and the refs did not move."""
        if self.key is None or not self.complete:
            return False
        if diagnostics is not None and any(d.reason.startswith(UNREADABLE) for d in diagnostics):
            return False
        return fingerprint(self.git, self.config, enrich_all=self.enrich_all) == self.key

    def remember(
        self, options: ViewOptions, view: View, diagnostics: tuple[Diagnostic, ...] | None
    ) -> None:
        """Store a view (and the read's diagnostics, when known) if the repository is
        still what was fingerprinted and the read was complete."""
        if self.key is None or not self.complete:
            return
        if diagnostics is not None and any(d.reason.startswith(UNREADABLE) for d in diagnostics):
            return
        if fingerprint(self.git, self.config, enrich_all=self.enrich_all) != self.key:
            return  # refs or HEAD moved while we read: the answer may be the newer one
        stages, rows = view
        entry = self.entry or Entry(self.key)
        if diagnostics is not None:
            entry = entry._replace(diagnostics=tuple(diagnostics))
        if self.config.stages is None:
            entry = entry._replace(used_stages=tuple(stages))
        views = [(k, v) for k, v in entry.views.items() if k != options.key]
        stored = tuple(
            RegistryRow(r.name, r.latest, r.stages, r.registered, r.active) for r in rows
        )
        entry = entry._replace(
            views={
                **dict(views[-(MAX_VIEWS - 1) :]),  # the most recent option sets
                options.key: (tuple(stages), stored),
            },
        )
        self._write(entry)

    def _write(self, entry: Entry) -> None:
        self.entry = entry
        others = [e for e in _load(self.path) if e.get("key") != self.key]
        payload = {
            "format": FORMAT,
            "version": SCHEMA,
            "entries": [entry.to_dict(), *others[: MAX_ENTRIES - 1]],
        }
        write_atomically(self.path, json.dumps(payload, separators=(",", ":")).encode())


# -- per-artifact summaries -------------------------------------------------------


#: A summary's row for one option set: latest version, stages held, registered, active.
SummaryRow = tuple[str | None, dict[str, list[str]], bool, bool]


class Summary(NamedTuple):
    """One group of refs, summarised.  ``clean`` False: the group cannot be summarised
    (read the registry whole); ``artifact`` None: its refs make no artifact.  Otherwise
    ``first`` holds, per reducer pass, the (time, tag) of the artifact's first event of
    that pass, ``used`` the stages it holds, ``views`` its row per option set."""

    clean: bool
    artifact: str | None = None
    first: tuple[tuple[int, str] | None, ...] = ()
    used: tuple[str, ...] = ()
    views: Mapping[str, SummaryRow] = _NO_VIEWS

    @classmethod
    def from_dict(cls, raw: Any) -> Summary | None:
        """The summary, or None when it is malformed (it is then read again)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("clean"), bool):
            return None
        if not raw["clean"]:
            return cls(False)
        name = raw.get("artifact")
        if name is None:
            return cls(True)
        firsts, used, views = raw.get("first"), raw.get("used"), raw.get("views")
        if not (
            isinstance(name, str)
            and isinstance(firsts, list)
            and len(firsts) == len(PASSES)
            and all(
                first is None
                or (
                    isinstance(first, list)
                    and len(first) == 2
                    and type(first[0]) is int
                    and isinstance(first[1], str)
                )
                for first in firsts
            )
            and any(first is not None for first in firsts)
            and _strs(used)
            and isinstance(views, dict)
            and all(
                isinstance(view, list) and _registry_row([name, *view]) is not None
                for view in views.values()
            )
        ):
            return None
        return cls(
            True,
            name,
            tuple(None if first is None else (first[0], first[1]) for first in firsts),
            tuple(cast(list[str], used)),
            {key: (view[0], view[1], view[2], view[3]) for key, view in views.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        if not self.clean:
            return {"clean": False}
        if self.artifact is None:
            return {"clean": True, "artifact": None}
        return {
            "clean": True,
            "artifact": self.artifact,
            "first": [None if first is None else list(first) for first in self.first],
            "used": list(self.used),
            "views": {key: list(view) for key, view in self.views.items()},
        }


class ArtifactSummaries:
    """``show``'s rows rebuilt from one summary per artifact, for when refs changed.

    A new tag changes the fingerprint, but only one artifact's tags.  Tags are
    grouped by what their ref names say the artifact is (the part before the
    first ``@`` or ``#``); each group is summarised (its row for each option
    set, the stages it holds, and when its first deprecation, registration and
    stage event happened, which decide where the artifact is listed) and kept
    in ``gto_dulwich-artifacts.json`` under a hash of the group's refs.  Only
    groups whose refs changed are read again.

    This is exact because an artifact's row depends on its own tag events only:
    ``artifacts.yaml`` and commit metadata ("enrichments") never change a row of
    an artifact that has tag events, and the artifacts listed only in
    ``artifacts.yaml`` at HEAD are appended last, in that file's order, as the
    reducer does.  Anything unusual gives up (None) and the registry is read
    whole: a tag object whose name differs from its ref (its event may belong
    to another artifact), an object that is missing or unreadable, a HEAD
    commit or ``artifacts.yaml`` that cannot be read.
    """

    def __init__(self, git: GitRepo, config: Config, owner: StateCache) -> None:
        self.git = git
        self.config = config
        self.owner = owner
        self.path = git.commondir / GROUPS_FILE_NAME

    def view(self, options: ViewOptions, *, cache_threshold: int) -> View | None:
        refs = self.git.tag_ref_map()
        groups: dict[bytes, list[bytes]] = {}
        for ref in refs:
            match = _GROUP.match(ref)
            if match is not None:  # a name with no '@' or '#' is never a GTO tag
                groups.setdefault(match[1], []).append(ref)
        stored = _load_groups(self.path)
        summaries: dict[str, Summary] = {}
        stale: list[tuple[str, list[bytes]]] = []
        for names in groups.values():
            names.sort()
            digest = _group_digest(names, refs)
            summary = stored.get(digest)
            if summary is not None and (
                not summary.clean or summary.artifact is None or options.key in summary.views
            ):
                summaries[digest] = summary
            else:
                stale.append((digest, names))
        del groups
        if stale:
            if sum(len(names) for _, names in stale) >= cache_threshold and self.git.cache is None:
                self.git.use_cache()
            for digest, names in stale:
                entries = [ref_entry(name, *refs[name]) for name in names]
                summary = self._summarize(entries, options, stored.get(digest))
                if summary is None:
                    return None
                summaries[digest] = summary
            self.git.save_cache()
            write_atomically(
                self.path,
                json.dumps(
                    {
                        "format": GROUPS_FORMAT,
                        "version": SCHEMA,
                        "groups": {k: v.to_dict() for k, v in summaries.items()},
                    },
                    separators=(",", ":"),
                ).encode(),
            )
        if not all(summary.clean for summary in summaries.values()):
            return None
        annotated = self._head_artifacts()
        if annotated is None:
            return None
        return _assemble(list(summaries.values()), annotated, options, self.config)

    def _summarize(
        self, entries: list[RefEntry], options: ViewOptions, known: Summary | None
    ) -> Summary | None:
        """One group's summary (None: an object is missing, so nothing can be kept)."""
        named = []
        for entry in entries:
            parsed = parse_ref_name(entry.name)
            if parsed is not None:
                named.append((entry, parsed))
        wanted = list(self.git.read_tags(named))
        if any(fact.kind not in ("annotated", "lightweight") for fact, _ in wanted):
            self.owner.incomplete()
            return None
        if any(fact.tag_name not in (None, "", fact.ref) for fact, _ in wanted):
            return Summary(False)
        state = reduce(build_event_log(wanted))
        if len(state.artifacts) != 1:
            return Summary(True) if not state.artifacts else Summary(False)
        (artifact,) = state.artifacts.values()
        single = RegistryState({artifact.name: artifact})
        firsts: list[tuple[int, str] | None] = []
        for kinds in PASSES:
            first = min(
                ((_instant(e), e.tag) for e in artifact.tag_events if e.kind in kinds),
                default=None,
            )
            firsts.append(first)
        stages = sorted({s.stage for v in artifact.versions for s in v.stages})
        (row,) = options.rows(single, stages)
        kept = list(known.views.items()) if known is not None and known.artifact else []
        views = {k: v for k, v in kept[-(MAX_VIEWS - 1) :] if k != options.key}
        views[options.key] = (
            row.latest,
            {stage: held for stage, held in row.stages.items() if held},
            row.registered,
            row.active,
        )
        return Summary(True, artifact.name, tuple(firsts), tuple(used_stages(single)), views)

    def _head_artifacts(self) -> list[str] | None:
        """Names in ``artifacts.yaml`` at HEAD, in file order, then those only in
        ``dvc.yaml`` files (None: cannot be sure)."""
        names = self._head_index_names()
        head = self.git.head()
        if names is None or head is None:
            return names
        from gto_dulwich.dvc import names_after

        return names_after(self.git, head, names, cache=True)

    def _head_index_names(self) -> list[str] | None:
        git = self.git
        head = git.head()
        if head is None:
            return []
        if git.commit_info(head) is None:
            self.owner.incomplete()
            return None
        size = git.file_size(head, self.config.index)
        if size is not None and size > max_bytes():
            return None  # refused: the full read reports it
        data = git.read_file(head, self.config.index)
        if data is None:
            if not git.surely_absent(head, self.config.index):
                self.owner.incomplete()
                return None
            return []
        key = hashlib.sha1(data).hexdigest()
        if git.index_cache is None:
            git.use_index_cache()
        store = git.index_cache
        cached = store.get(key) if store is not None else None
        if cached is not None:
            return list(cached)
        try:
            index = parse_index(data, index=self.config.index, commit=head)
        except GTOError:
            return None  # the full read reports it
        if store is not None:
            store.put(key, index.to_dict())
            store.save()
        return list(index.artifacts)


# refs/tags/<the artifact's part of a tag name>, up to the first '@' or '#'.
_GROUP = re.compile(rb"refs/tags/([^@#]*)[@#]")


def _instant(event: Event) -> int:
    return int(event.created_at.timestamp())


def _group_digest(names: list[bytes], refs: dict[bytes, tuple[bytes, bytes | None]]) -> str:
    """A hash of one group's refs: names (sorted), what they point to, and peeled values."""
    lines = [f"{SCHEMA} {__version__}".encode()]
    for name in names:
        sha, peeled = refs[name]
        lines.append(b"%s %s %s" % (name, sha, peeled or b"-"))
    return hashlib.sha1(b"\n".join(lines)).hexdigest()


def _assemble(
    summaries: list[Summary], annotated: list[str], options: ViewOptions, config: Config
) -> View:
    """The rows in the reducer's order: artifacts first seen by a deprecation, then by a
    registration, then by a stage event (each by that event's time and tag name), then
    those only in ``artifacts.yaml`` at HEAD."""
    tagged = [s for s in summaries if s.artifact is not None]
    order: list[Summary] = []
    for number in range(len(PASSES)):
        batch = [
            s
            for s in tagged
            if s.first[number] is not None
            and all(s.first[earlier] is None for earlier in range(number))
        ]
        order.extend(sorted(batch, key=lambda s: cast(tuple[int, str], s.first[number])))
    if config.stages is not None:
        stages = list(config.stages)
    else:
        stages = sorted({stage for s in tagged for stage in s.used})
    rows = []
    for summary in order:
        latest, held, registered, active = summary.views[options.key]
        rows.append(
            RegistryRow(
                cast(str, summary.artifact),
                latest,
                {stage: list(held.get(stage, [])) for stage in stages},
                registered,
                active,
            )
        )
    names = {cast(str, s.artifact) for s in tagged}
    for name in annotated:
        if name not in names:
            names.add(name)
            rows.append(RegistryRow(name, None, {stage: [] for stage in stages}, False, True))
    return stages, rows


def fingerprint(git: GitRepo, config: Config, *, enrich_all: bool) -> str | None:
    """A hash of everything a registry read depends on; None when it cannot be taken."""
    digest = hashlib.sha256()

    def part(label: str, data: bytes | None) -> None:
        size = -1 if data is None else len(data)
        digest.update(f"\n{label} {size}\n".encode())
        if data:
            digest.update(data)

    try:
        # The YAML size cap decides whether artifacts.yaml at HEAD is read at all.
        part(
            "schema",
            f"{FORMAT} {SCHEMA} {__version__} enrich_all={enrich_all} yaml={max_bytes()}".encode(),
        )
        part("config", repr(config).encode("utf-8", "backslashreplace"))
        for label, data in git.state_files():
            part(label, data)
    except (OSError, ValueError, AttributeError, NotImplementedError):
        return None
    return digest.hexdigest()


_KINDS = {kind.value: kind for kind in EventKind}
_COUNTER = re.compile(r"[0-9]+")


# A history row: one event as one string, its fields joined by NULs (``version`` and
# ``stage`` prefixed ``v`` and ``s``, so that an empty one is None).  The one definition of
# a row, for writing (:func:`to_row`) and reading (:func:`from_row`).
_ROW_FIELDS = 11


def to_row(event: Event) -> str | None:
    """The row of ``event``; None when a field holds a NUL (such an event is not stored)."""
    fields = (
        event.kind.value,
        event.artifact,
        event.tag,
        event.commit,
        event.created_at.isoformat(),
        event.author,
        event.author_email,
        event.message,
        "" if event.version is None else "v" + event.version,
        "" if event.stage is None else "s" + event.stage,
        "" if event.counter is None else str(event.counter),
    )
    if any("\x00" in text for text in fields):
        return None
    return "\x00".join(fields)


def from_row(row: object) -> Event | None:
    """The event of ``row``, or None when it is not one :func:`to_row` writes."""
    if type(row) is not str:
        return None
    fields = row.split("\x00")
    if len(fields) != _ROW_FIELDS:
        return None
    kind, artifact, tag, commit, when, author, email, message, version, stage, counter = fields
    if kind not in _KINDS or version[:1] not in ("", "v") or stage[:1] not in ("", "s"):
        return None
    if counter and not _COUNTER.fullmatch(counter):
        return None
    try:
        created_at = datetime.fromisoformat(when)
    except (ValueError, OverflowError):
        return None
    if created_at.tzinfo is None:
        return None
    return Event(
        _KINDS[kind],
        artifact,
        tag,
        commit,
        created_at,
        author,
        email,
        message,
        version[1:] if version else None,
        stage[1:] if stage else None,
        int(counter) if counter else None,
    )


# -- the file -------------------------------------------------------------------


def _contents(path: Path, file_format: str, field: str, kind: type) -> Any:
    """The ``field`` of a cache file, or None when the file is missing, corrupt, of
    another format or schema, or the field is not a ``kind``."""
    raw: Any = read_json(path)
    if not (
        isinstance(raw, dict)
        and raw.get("format") == file_format
        and raw.get("version") == SCHEMA
        and isinstance(raw.get(field), kind)
    ):
        return None
    return raw[field]


def _load(path: Path) -> list[dict[str, Any]]:
    """The file's entries, or none when it is missing, corrupt or from another version."""
    entries = _contents(path, FORMAT, "entries", list) or []
    return [e for e in entries if isinstance(e, dict)]


def _load_groups(path: Path) -> dict[str, Summary]:
    """Well-formed group summaries by digest (damaged ones are dropped: read again)."""
    groups = _contents(path, GROUPS_FORMAT, "groups", dict) or {}
    loaded = {k: Summary.from_dict(v) for k, v in groups.items()}
    return {k: v for k, v in loaded.items() if v is not None}


def _load_history(path: Path, key: str) -> list[Event] | None:
    """The stored events for ``key``; None when missing, foreign, stale or damaged."""
    raw: Any = read_json(path)
    if not (
        isinstance(raw, dict)
        and raw.get("format") == HISTORY_FORMAT
        and raw.get("version") == SCHEMA
        and raw.get("key") == key
        and isinstance(raw.get("events"), list)
    ):
        return None
    events = []
    for row in raw["events"]:
        event = from_row(row)
        if event is None:
            return None  # one damaged row and the whole history is read again
        events.append(event)
    return events


def _find(entries: list[dict[str, Any]], key: str) -> Entry | None:
    """The entry for ``key`` if it is well formed (a damaged one is a miss, not a crash)."""
    for entry in entries:
        if entry.get("key") == key:
            return Entry.from_dict(entry)
    return None


def _strs(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _registry_list(row: RegistryRow) -> list[Any]:
    """``row`` as the state file keeps it: ``[name, latest, stages, registered, active]``."""
    return [row.name, row.latest, row.stages, row.registered, row.active]


def _registry_row(raw: Any) -> RegistryRow | None:
    """The row :func:`_registry_list` wrote, or None when ``raw`` is not one."""
    if not (isinstance(raw, list) and len(raw) == 5):
        return None
    name, latest, stages, registered, active = raw
    if not (
        isinstance(name, str)
        and (latest is None or isinstance(latest, str))
        and isinstance(stages, dict)
        and all(isinstance(k, str) and _strs(v) for k, v in stages.items())
        and isinstance(registered, bool)
        and isinstance(active, bool)
    ):
        return None
    return RegistryRow(name, latest, stages, registered, active)
