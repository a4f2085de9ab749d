"""Fold the event log into artifacts -> versions -> stages, as GTO 1.10.1 does.

Pure: commit metadata and annotations arrive through a :class:`CommitSource`
callback, so the reducer can be tested without a repository.

Where GTO's own reducer has a bug (see README "Differences from GTO") we fold
differently and say so next to the code:

* an assignment to a commit that holds no registered version reuses the
  hexsha version already made for that commit instead of creating a duplicate;
* an assignment to a commit that holds two registered versions is skipped with
  a diagnostic instead of failing every command;
* commit ("enrichment") events never decide whether an artifact is deprecated:
  only tag events do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gto_dulwich.annotations import Annotation
from gto_dulwich.events import Diagnostic, Event, EventKind, EventLog, to_datetime
from gto_dulwich.facts import CommitInfo
from gto_dulwich.versions import version_sort_key


@dataclass(frozen=True, slots=True)
class CommitEvent:
    """GTO's "commit" enrichment: ``artifacts.yaml`` as it was at a version's commit."""

    artifact: str
    commit: str
    version: str
    created_at: datetime
    author: str
    author_email: str
    committer: str
    committer_email: str
    message: str
    annotation: Annotation | None

    kind = EventKind.COMMIT

    def to_dict(self) -> dict[str, Any]:
        enrichments = (
            [{"source": "gto", "artifact": self.annotation.to_dict()}] if self.annotation else []
        )
        return {
            "priority": self.kind.priority,
            "addition": True,
            "artifact": self.artifact,
            "created_at": self.created_at.isoformat(),
            "author": self.author,
            "author_email": self.author_email,
            "message": self.message,
            "commit_hexsha": self.commit,
            "version": self.version,
            "enrichments": enrichments,
            "committer": self.committer,
            "committer_email": self.committer_email,
        }


AnyEvent = Event | CommitEvent


def _latest(events: Iterable[AnyEvent]) -> AnyEvent | None:
    """The most recent event; on an exact tie the one listed last wins (GTO's rule)."""
    latest: AnyEvent | None = None
    for event in events:
        if latest is None or event.created_at >= latest.created_at:
            latest = event
    return latest


@dataclass(frozen=True, slots=True)
class VStage:
    """One stage of one version: its assignment and unassignment events."""

    artifact: str
    version: str
    stage: str
    commit: str
    assignments: tuple[Event, ...]
    unassignments: tuple[Event, ...]

    @property
    def is_active(self) -> bool:
        last = _latest(self.assignments + self.unassignments)
        return last is not None and last.kind is EventKind.ASSIGNMENT

    @property
    def authoring_event(self) -> Event:
        return self.assignments[-1] if self.assignments else self.unassignments[-1]

    @property
    def created_at(self) -> datetime:
        return self.authoring_event.created_at

    @property
    def activated_at(self) -> datetime | None:
        last = _latest(self.assignments + self.unassignments)
        return last.created_at if last is not None and self.is_active else None

    def state_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "commit_hexsha": self.commit,
            "version": self.version,
            "stage": self.stage,
            "assignments": [e.base_dict() for e in self.assignments],
            "unassignments": [e.base_dict() for e in self.unassignments],
        }

    def to_dict(self) -> dict[str, Any]:
        author = self.authoring_event
        activated = self.activated_at
        return {
            "artifact": self.artifact,
            "commit_hexsha": self.commit,
            "version": self.version,
            "stage": self.stage,
            "assignments": [_stage_event_dict(e) for e in self.assignments],
            "unassignments": [_stage_event_dict(e) for e in self.unassignments],
            "is_active": self.is_active,
            "activated_at": activated.isoformat() if activated else None,
            "created_at": author.created_at.isoformat(),
            "author": author.author,
            "author_email": author.author_email,
            "message": author.message,
            "ref": author.tag,
        }


def _stage_event_dict(event: Event) -> dict[str, Any]:
    data = event.base_dict()
    data["event"] = event.kind.value
    return data


@dataclass(frozen=True, slots=True)
class Version:
    """A registered version (``v1.2.3``) or a "discovered" one named by its commit."""

    artifact: str
    version: str
    commit: str
    registrations: tuple[Event, ...] = ()
    deregistrations: tuple[Event, ...] = ()
    enrichments: tuple[CommitEvent, ...] = ()
    stages: tuple[VStage, ...] = ()

    @property
    def discovered(self) -> bool:
        return not self.registrations and not self.deregistrations

    @property
    def is_registered(self) -> bool:
        return bool(self.registrations)

    @property
    def stage_events(self) -> tuple[Event, ...]:
        return tuple(e for s in self.stages for e in (*s.assignments, *s.unassignments))

    @property
    def is_active(self) -> bool:
        if self.discovered:
            return bool(self.stage_events or self.enrichments)
        last = _latest(self.registrations + self.deregistrations)
        return last is not None and last.kind is EventKind.REGISTRATION

    @property
    def authoring_event(self) -> AnyEvent:
        if self.registrations:
            return self.registrations[-1]
        latest = _latest((*self.stage_events, *self.enrichments))
        if latest is None:  # only deregistrations: a hand-made oddity
            return self.deregistrations[-1]
        return latest

    @property
    def created_at(self) -> datetime:
        return self.authoring_event.created_at

    @property
    def activated_at(self) -> datetime:
        if self.registrations:
            return self.registrations[0].created_at
        events: list[AnyEvent] = [*self.deregistrations, *self.stage_events, *self.enrichments]
        return min(event.created_at for event in events)

    @property
    def ref(self) -> str:
        event = self.authoring_event
        return event.tag if isinstance(event, Event) else event.commit

    def stage(self, name: str) -> VStage | None:
        for vstage in self.stages:
            if vstage.stage == name:
                return vstage
        return None

    def _record(self) -> dict[str, Any]:
        """The keys both JSON forms start with, in GTO's order."""
        return {
            "artifact": self.artifact,
            "commit_hexsha": self.commit,
            "version": self.version,
            "enrichments": [e.to_dict() for e in self.enrichments],
            "registrations": [e.base_dict() for e in self.registrations],
            "deregistrations": [e.base_dict() for e in self.deregistrations],
        }

    def state_dict(self) -> dict[str, Any]:
        """The raw record (GTO's ``print-state``): every stage, keyed by name."""
        return {**self._record(), "stages": {s.stage: s.state_dict() for s in self.stages}}

    def to_dict(self, stages: Iterable[VStage] | None = None) -> dict[str, Any]:
        """``show NAME --json``: ``stages`` lists the stages the version is shown in."""
        author = self.authoring_event
        return {
            **self._record(),
            "stages": [s.to_dict() for s in (self.stages if stages is None else stages)],
            "is_active": self.is_active,
            "activated_at": self.activated_at.isoformat(),
            "created_at": author.created_at.isoformat(),
            "author": author.author,
            "author_email": author.author_email,
            "message": author.message,
            "ref": self.ref,
            "discovered": self.discovered,
        }


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    versions: tuple[Version, ...] = ()
    deprecations: tuple[Event, ...] = ()

    @property
    def tag_events(self) -> tuple[Event, ...]:
        return (
            *self.deprecations,
            *(e for v in self.versions for e in (*v.registrations, *v.deregistrations)),
            *(e for v in self.versions for e in v.stage_events),
        )

    @property
    def is_registered(self) -> bool:
        return bool(self.tag_events)

    @property
    def is_active(self) -> bool:
        """Not deprecated, judged by tag events only (GTO also let commit dates undo it)."""
        tag_events = self.tag_events
        if not tag_events:
            return any(v.enrichments for v in self.versions)
        last = _latest(tag_events)
        return last is not None and last.kind is not EventKind.DEPRECATION

    def state_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.name,
            "versions": [v.state_dict() for v in self.versions],
            "creations": [],
            "deprecations": [e.base_dict() for e in self.deprecations],
        }

    def active_versions(self, *, registered_only: bool = True) -> list[Version]:
        """Active versions, highest first by GTO's semver sort."""
        chosen = [
            v
            for v in self.versions
            if v.is_active and (not registered_only or (v.is_registered and not v.discovered))
        ]
        return semver_desc(chosen)

    @property
    def latest(self) -> Version | None:
        versions = self.active_versions()
        return versions[0] if versions else None


def semver_desc(versions: Iterable[Version]) -> list[Version]:
    """Highest version first; equal precedence keeps input order reversed, like GTO."""
    ordered = sorted(versions, key=lambda v: version_sort_key(v.version))
    ordered.reverse()
    return ordered


@dataclass(frozen=True, slots=True)
class RegistryState:
    """Every artifact in GTO's insertion order, plus the soft problems met on the way."""

    artifacts: dict[str, Artifact]
    diagnostics: tuple[Diagnostic, ...] = ()
    head: str | None = None
    # Every tag ref read (GTO's or not): a write must not reuse one of these names.
    tag_names: frozenset[str] = frozenset()

    def find(self, name: str) -> Artifact | None:
        return self.artifacts.get(name)


@dataclass(frozen=True, slots=True)
class CommitSnapshot:
    """What the reducer needs to know about one commit for enrichment events."""

    info: CommitInfo
    annotations: dict[str, Annotation]


CommitSource = Callable[[str], CommitSnapshot | None]


# -- building -----------------------------------------------------------------


@dataclass(slots=True)
class _VStageB:
    commit: str
    assignments: list[Event] = field(default_factory=list)
    unassignments: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class _VersionB:
    name: str
    commit: str
    registrations: list[Event] = field(default_factory=list)
    deregistrations: list[Event] = field(default_factory=list)
    enrichments: list[CommitEvent] = field(default_factory=list)
    stages: dict[str, _VStageB] = field(default_factory=dict)

    @property
    def discovered(self) -> bool:
        return not self.registrations and not self.deregistrations


@dataclass(slots=True)
class _ArtifactB:
    name: str
    versions: list[_VersionB] = field(default_factory=list)
    deprecations: list[Event] = field(default_factory=list)
    by_commit: dict[str, list[_VersionB]] = field(default_factory=dict)

    def add_version(self, version: _VersionB) -> _VersionB:
        self.versions.append(version)
        self.by_commit.setdefault(version.commit, []).append(version)
        return version

    def at_commit(self, commit: str) -> list[_VersionB]:
        return self.by_commit.get(commit, [])


def _add(events: list[Any], event: Any) -> None:
    """Append an event, keeping the list in time order (events mostly arrive sorted)."""
    events.append(event)
    if len(events) > 1 and events[-2].created_at > event.created_at:
        events.sort(key=lambda e: e.created_at)


def _add_commit_event(events: list[CommitEvent], event: CommitEvent) -> None:
    """GTO ignores an enrichment equal to one already there (HEAD is read twice)."""
    if event not in events:
        _add(events, event)


#: The reducer's passes over the events, in order.  An artifact is listed where it is
#: first seen: by a deprecation, then by a (de)registration, then by a stage event.
PASSES: tuple[tuple[EventKind, ...], ...] = (
    (EventKind.DEPRECATION,),
    (EventKind.REGISTRATION, EventKind.DEREGISTRATION),
    (EventKind.ASSIGNMENT, EventKind.UNASSIGNMENT),
)
_DEPRECATIONS, _VERSION_EVENTS, _STAGE_EVENTS = PASSES


def reduce(
    log: EventLog,
    *,
    head: str | None = None,
    commits: CommitSource | None = None,
    enrich_all: bool = True,
) -> RegistryState:
    """Fold events into the registry state.

    ``commits`` supplies commit metadata and ``artifacts.yaml`` entries; without
    it no enrichment events are made.  With ``enrich_all=False`` only versions
    whose enrichments can change a derived field (discovered versions, HEAD)
    are enriched, which spares reading ``artifacts.yaml`` at every tagged commit.
    """
    artifacts: dict[str, _ArtifactB] = {}
    diagnostics: list[Diagnostic] = list(log.diagnostics)

    def artifact(name: str) -> _ArtifactB:
        if name not in artifacts:
            artifacts[name] = _ArtifactB(name)
        return artifacts[name]

    for event in log.events:
        if event.kind in _DEPRECATIONS:
            _add(artifact(event.artifact).deprecations, event)

    for event in log.events:
        if event.kind not in _VERSION_EVENTS:
            continue
        art = artifact(event.artifact)
        version = next((v for v in art.at_commit(event.commit) if v.name == event.version), None)
        if version is None:
            assert event.version is not None
            version = art.add_version(_VersionB(event.version, event.commit))
        target = (
            version.registrations
            if event.kind is EventKind.REGISTRATION
            else version.deregistrations
        )
        _add(target, event)

    for event in log.events:
        if event.kind not in _STAGE_EVENTS:
            continue
        art = artifact(event.artifact)
        at_commit = [v for v in art.at_commit(event.commit) if not v.discovered]
        if len(at_commit) > 1:
            names = [v.name for v in at_commit]
            diagnostics.append(
                Diagnostic(
                    event.tag,
                    f"skipped: commit {event.commit[:7]} holds several versions {names} "
                    "of this artifact, so the stage cannot be placed",
                    "error",
                )
            )
            continue
        version = at_commit[0] if at_commit else _version_at(art, event.commit)
        assert event.stage is not None
        vstage = version.stages.get(event.stage)
        if vstage is None:  # not setdefault: that would build a record per event
            vstage = version.stages[event.stage] = _VStageB(event.commit)
        stamped = event.with_version(version.name)
        target = vstage.assignments if event.kind is EventKind.ASSIGNMENT else vstage.unassignments
        _add(target, stamped)

    if commits is not None:
        _enrich(artifacts, artifact, head, commits, enrich_all)

    frozen = {}
    for name in list(artifacts):  # each builder goes once frozen (100,000 tags: 4 MB less)
        frozen[name] = _freeze(artifacts.pop(name))
    return RegistryState(frozen, tuple(diagnostics), head)


def _version_at(art: _ArtifactB, commit: str) -> _VersionB:
    """The registered version at ``commit``, else the one hexsha-named version for it.

    GTO created a fresh hexsha version for every assignment to an unregistered
    commit (3 tags -> 6 rows in ``show``); we keep one per commit.
    """
    candidates = art.at_commit(commit)
    for version in candidates:
        if not version.discovered:
            return version
    if candidates:
        return candidates[0]
    return art.add_version(_VersionB(commit, commit))


def _commit_event(art: str, version: _VersionB, snapshot: CommitSnapshot) -> CommitEvent:
    info = snapshot.info
    return CommitEvent(
        artifact=art,
        commit=version.commit,
        version=version.name,
        created_at=to_datetime(info.time, info.tz_offset),
        author=info.author_name,
        author_email=info.author_email,
        committer=info.committer_name,
        committer_email=info.committer_email,
        message=info.message,
        annotation=snapshot.annotations.get(art),
    )


def _enrich(
    artifacts: dict[str, _ArtifactB],
    artifact: Callable[[str], _ArtifactB],
    head: str | None,
    commits: CommitSource,
    enrich_all: bool,
) -> None:
    for art in list(artifacts.values()):
        for version in art.versions:
            if not (enrich_all or version.discovered or version.commit == head):
                continue
            snapshot = commits(version.commit)
            if snapshot is not None:
                _add_commit_event(version.enrichments, _commit_event(art.name, version, snapshot))
    if head is None:
        return
    snapshot = commits(head)
    if snapshot is None:
        return
    for name in snapshot.annotations:
        art = artifact(name)
        version = _version_at(art, head)
        _add_commit_event(version.enrichments, _commit_event(name, version, snapshot))


def _freeze(art: _ArtifactB) -> Artifact:
    return Artifact(
        art.name,
        tuple(
            Version(
                art.name,
                v.name,
                v.commit,
                tuple(v.registrations),
                tuple(v.deregistrations),
                tuple(v.enrichments),
                tuple(
                    VStage(
                        art.name,
                        v.name,
                        stage,
                        s.commit,
                        tuple(s.assignments),
                        tuple(s.unassignments),
                    )
                    for stage, s in v.stages.items()
                ),
            )
            for v in art.versions
        ),
        tuple(art.deprecations),
    )
