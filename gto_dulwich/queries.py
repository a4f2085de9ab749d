"""Questions asked of a registry state: latest, which version is in a stage, history.

Pure functions over :mod:`gto_dulwich.reducer` records.  Ordering rules follow
GTO 1.10.1 (spec §2.5–2.8), ties included.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gto_dulwich.errors import GTOError
from gto_dulwich.events import Event
from gto_dulwich.reducer import Artifact, RegistryState, Version, VStage


class Sort(enum.StrEnum):
    TIMESTAMP = "timestamp"
    SEMVER = "semver"


def check_limits(assignments_per_version: int, versions_per_stage: int) -> None:
    if assignments_per_version < -1:
        raise GTOError("'assignments_per_version' must be >= -1")
    if versions_per_stage < -1:
        raise GTOError("'versions_per_stage' must be >=-1")


def versions_in_stages(
    artifact: Artifact,
    *,
    registered_only: bool = False,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    sort: Sort = Sort.TIMESTAMP,
) -> dict[str, list[VStage]]:
    """Stage -> the versions in it, first = "the" version in that stage (GTO §2.6)."""
    check_limits(assignments_per_version, versions_per_stage)
    candidates: list[VStage] = []
    for version in artifact.active_versions(registered_only=registered_only):
        active = sorted(
            (s for s in version.stages if s.is_active),
            key=lambda s: s.activated_at or s.created_at,
        )
        if assignments_per_version >= 0:
            active = active[:assignments_per_version]
        candidates.extend(active)
    if sort is Sort.TIMESTAMP:
        candidates.sort(key=lambda s: s.created_at)
        candidates.reverse()
    result: dict[str, list[VStage]] = {}
    for vstage in candidates:
        holders = result.setdefault(vstage.stage, [])
        if 0 <= versions_per_stage <= len(holders):
            continue
        if all(h.version != vstage.version for h in holders):
            holders.append(vstage)
    return result


def used_stages(state: RegistryState) -> list[str]:
    """Stages currently held by an active version of any artifact (deprecated ones too)."""
    stages: set[str] = set()
    for artifact in state.artifacts.values():
        stages.update(versions_in_stages(artifact, sort=Sort.SEMVER))
    return sorted(stages)


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One artifact in the registry view (``show`` with no name)."""

    name: str
    latest: str | None
    stages: dict[str, list[str]]
    registered: bool
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.latest,
            "stage": {s: ", ".join(v) if v else None for s, v in self.stages.items()},
            "registered": self.registered,
            "active": self.active,
        }


def registry_rows(
    state: RegistryState,
    stages: list[str],
    *,
    deprecated: bool = False,
    registered_only: bool = False,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    sort: Sort = Sort.TIMESTAMP,
) -> list[RegistryRow]:
    """Rows in state order (GTO's JSON order); tables sort them by name."""
    rows = []
    for artifact in state.artifacts.values():
        if not (deprecated or artifact.is_active):
            continue
        held = versions_in_stages(
            artifact,
            registered_only=registered_only,
            assignments_per_version=assignments_per_version,
            versions_per_stage=versions_per_stage,
            sort=sort,
        )
        latest = artifact.latest
        rows.append(
            RegistryRow(
                artifact.name,
                latest.version if latest else None,
                {stage: [s.version for s in held.get(stage, [])] for stage in stages},
                artifact.is_registered,
                artifact.is_active,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version in the artifact view (``show NAME``), with the stages it holds."""

    version: Version
    held: list[VStage]

    @property
    def stages(self) -> list[str]:
        return [vstage.stage for vstage in self.held]

    def to_dict(self) -> dict[str, Any]:
        return self.version.to_dict(stages=self.held)


def version_rows(
    artifact: Artifact,
    *,
    deprecated: bool = False,
    registered_only: bool = False,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    sort: Sort = Sort.TIMESTAMP,
) -> list[VersionRow]:
    """Versions of one artifact, highest first, each with the stages it is listed in.

    Unlike GTO, ``registered_only`` also drops discovered (hexsha) versions here.
    """
    if not (deprecated or artifact.is_active):
        return []
    held = versions_in_stages(
        artifact,
        registered_only=registered_only,
        assignments_per_version=assignments_per_version,
        versions_per_stage=versions_per_stage,
        sort=sort,
    )
    from gto_dulwich.reducer import semver_desc

    versions = [
        v
        for v in artifact.versions
        if (deprecated or v.is_active) and not (registered_only and v.discovered)
    ]
    return [
        VersionRow(
            v,
            _stages_holding(held, v),
        )
        for v in semver_desc(versions)
    ]


def _stages_holding(held: dict[str, list[VStage]], version: Version) -> list[VStage]:
    """The stages this version is shown in, as their VStage records, in display order."""
    return [
        holder
        for holders in held.values()
        for holder in holders
        if holder.version == version.version and holder.commit == version.commit
    ]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    event: Event

    def to_dict(self) -> dict[str, Any]:
        e = self.event
        return {
            "timestamp": e.created_at.isoformat(),
            "artifact": e.artifact,
            "event": e.kind.value,
            "priority": e.priority,
            "version": e.version,
            "stage": e.stage,
            "commit": e.commit,
            "author": e.author,
            "author_email": e.author_email,
            "message": e.message,
            "ref": e.tag,
        }


def history(
    state: RegistryState, artifact: str | None = None, *, ascending: bool = False
) -> list[HistoryRow]:
    """Every tag event, oldest first by (time, priority), newest first unless ascending."""
    events: list[Event] = []
    for art in state.artifacts.values():
        events.extend(_newest_first(art))
    events.sort(key=lambda e: (e.created_at, e.priority))
    if not ascending:
        events.reverse()
    return [HistoryRow(e) for e in events if artifact is None or e.artifact == artifact]


def _newest_first(artifact: Artifact) -> Iterable[Event]:
    """An artifact's own events, newest first, in GTO's pre-sort order, which decides ties.

    GTO gathers them per stage, then per version, then per artifact, and at each level
    sorts by time (stably) and reverses: ties flip order at every level.
    """
    gathered: list[Event] = []
    for version in artifact.versions:
        stage_events = [
            e
            for stage in version.stages
            for e in _newest((*stage.assignments, *stage.unassignments))
        ]
        gathered.extend(_newest((*version.registrations, *version.deregistrations, *stage_events)))
    return _newest((*artifact.deprecations, *gathered))


def _newest(events: Iterable[Event]) -> list[Event]:
    """GTO's ``sorted(events, key=created_at)[::-1]``."""
    return sorted(events, key=lambda e: e.created_at)[::-1]


def find_event(state: RegistryState, tag: str) -> list[Event]:
    """The events a tag created (0 or 1)."""
    found = []
    for artifact in state.artifacts.values():
        for version in artifact.versions:
            for event in (*version.registrations, *version.deregistrations, *version.stage_events):
                if event.tag == tag:
                    found.append(event)
        found.extend(e for e in artifact.deprecations if e.tag == tag)
    return found
