"""(state, request) -> the tags to write or delete, or a domain error.  Pure.

Everything a write command checks is checked here, before anything is written:
a multi-step command (``assign`` that must register first) either plans all of
its tags or fails without touching the repository.  GTO's checks and messages
are kept word for word (spec §3.2–3.4); where GTO let a write through that
makes the registry inconsistent, the stricter check is noted.

Counters (``#N``) are *not* chosen here: the writer allocates them at the moment
of writing, so two concurrent writers cannot pick the same one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from gto_dulwich.config import Config
from gto_dulwich.errors import (
    ArtifactNotFound,
    GTOError,
    InvalidVersion,
    ManyVersions,
    VersionNotFound,
)
from gto_dulwich.events import KIND_OF_ACTION, Event, EventKind
from gto_dulwich.grammar import Action, TagName, check_name, format_tag, parse_tag
from gto_dulwich.reducer import Artifact, RegistryState, Version
from gto_dulwich.versions import is_version, parse_version

Bump = Literal["major", "minor", "patch"]

_VERBS = {
    Action.REGISTER: "registers version",
    Action.DEREGISTER: "deregisters version",
    Action.ASSIGN: "assigns stage to version",
    Action.UNASSIGN: "unassigns stage from version",
    Action.DEPRECATE: "deprecates artifact",
}


@dataclass(frozen=True, slots=True)
class NewTag:
    """A tag to create.  With ``counter_form`` the writer appends ``#N`` itself."""

    tag: TagName
    counter_form: bool
    target: str
    message: str
    version: str | None  # the version it concerns (a hexsha for unregistered ones)

    @property
    def kind(self) -> EventKind:
        return KIND_OF_ACTION[self.tag.action]

    def describe(self) -> str:
        """GTO's wording after "Created git tag '<tag>' that ..."."""
        verb = _VERBS[self.tag.action]
        if self.tag.action in (Action.ASSIGN, Action.UNASSIGN):
            return f"{verb} '{self.version}'"
        return verb


@dataclass(frozen=True, slots=True)
class DeleteTag:
    tag: str


Step = NewTag | DeleteTag


def _message(message: str | None, default: str) -> str:
    return message.strip() if message and message.strip() else default


def _form(simple: bool | None, default_simple: bool) -> bool:
    """True for the counter form (``#N``)."""
    return not (default_simple if simple is None else simple)


def next_counter(tag_names: Iterable[str], artifact: str) -> int:
    """GTO's counter: one more than the highest ``#N`` among this artifact's tags."""
    highest = 0
    for name in tag_names:
        try:
            parsed = parse_tag(name)
        except GTOError:
            continue
        if parsed.name == artifact and parsed.counter is not None:
            highest = max(highest, parsed.counter)
    return highest + 1


def with_counter(tag: TagName, counter: int) -> TagName:
    return replace(tag, counter=counter, counter_leading_zeros=0)


def _registered_at(artifact: Artifact | None, commit: str) -> list[Version]:
    if artifact is None:
        return []
    return [v for v in artifact.versions if v.commit == commit and not v.discovered]


def _version_at(artifact: Artifact | None, name: str, commit: str) -> Version | None:
    found = _registered_at(artifact, commit)
    if len(found) > 1:
        raise ManyVersions(name, [v.version for v in found])
    return found[0] if found else None


def _auto_version(artifact: Artifact | None, bump: Bump | None) -> str:
    """GTO's bump of ``latest``; but a version name is never proposed twice.

    GTO 1.10.1 proposed ``v0.0.1`` again after every version was deregistered
    (and then failed on the existing tag); if the proposal is taken we bump
    from the highest version ever registered instead.
    """
    latest = artifact.latest if artifact else None
    if latest is None:
        if bump is not None:
            raise GTOError("Can't apply bump, because this is the first version being registered")
        proposal = "v0.0.1"
    else:
        proposal = "v" + str(parse_version(latest.version).bump(bump or "patch"))
    taken = {v.version for v in artifact.versions} if artifact else set()
    if proposal in taken:
        highest = max(
            (parse_version(v) for v in taken if is_version(v)), default=parse_version("v0.0.0")
        )
        proposal = "v" + str(highest.bump(bump or "patch"))
    return proposal


def plan_register(
    state: RegistryState,
    name: str,
    commit: str,
    *,
    version: str | None = None,
    bump: Bump | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
) -> NewTag:
    """The registration tag for ``name`` at ``commit`` (GTO's ``register``)."""
    check_name(name)
    if version is not None and bump is not None:
        raise GTOError("Need to specify either version or single bump argument")
    artifact = state.find(name)
    existing = _version_at(artifact, name, commit)
    if existing is not None:
        if existing.is_registered and existing.is_active and not force:
            raise GTOError(
                f"'{name}' is already registered in this commit with version '{existing.version}'"
            )
        if version is not None and version != existing.version:
            raise GTOError(f"For this REF you can only register {existing.version}")
        version = existing.version
    if version is not None:
        if not is_version(version):
            raise InvalidVersion(version, f"Supplied version '{version}' cannot be parsed")
        if artifact and any(v.version == version and v.commit != commit for v in artifact.versions):
            raise GTOError(f"Version '{version}' already was registered.\n")
    else:
        version = _auto_version(artifact, bump)
    tag = TagName(name, Action.REGISTER, version=version)
    default = f"Registering artifact {name} version {version}"
    return NewTag(tag, _form(simple, True), commit, _message(message, default), version)


def plan_assign(
    state: RegistryState,
    config: Config,
    name: str,
    stage: str,
    *,
    version: str | None = None,
    commit: str | None = None,
    name_version: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    skip_registration: bool = False,
) -> list[NewTag]:
    """The assignment tag, preceded by a registration tag when the commit has no version."""
    check_name(name)
    config.check_stage(stage)
    if (version is None) == (commit is None):
        raise GTOError("Exactly one of version and ref must be given")
    artifact = state.find(name)
    steps: list[NewTag] = []
    target: Version | None
    if version is not None:
        if not is_version(version):
            raise InvalidVersion(version)
        target = next(
            (v for v in (artifact.versions if artifact else ()) if v.version == version), None
        )
        if target is None or target.discovered:
            raise GTOError(f"Version '{version}' is not registered")
        version_name, target_commit = target.version, target.commit
    else:
        assert commit is not None
        if name_version is not None and skip_registration:
            raise GTOError("You either need to supply version name or skip registration")
        if name_version is not None and not is_version(name_version):
            raise InvalidVersion(name_version)
        target = _version_at(artifact, name, commit)
        if target is not None and name_version is not None:
            raise GTOError(
                f"Can't register '{name_version}', since '{target.version}' is registered "
                "already at this ref"
            )
        if target is None and not skip_registration:
            registration = plan_register(state, name, commit, version=name_version, simple=True)
            steps.append(registration)
            version_name = registration.tag.version or ""
        elif target is None:
            # An unregistered ("discovered") version, named by its commit.
            target = next(
                (v for v in (artifact.versions if artifact else ()) if v.commit == commit), None
            )
            version_name = commit
        else:
            version_name = target.version
        target_commit = commit
    stage_state = target.stage(stage) if target is not None else None
    # GTO skipped this check for unregistered versions; we do not.
    if stage_state is not None and stage_state.is_active and not force:
        raise GTOError(
            f"Version '{version_name}' is already in stage '{stage}'. Use the '--force' flag "
            "to create a new Git tag nevertheless."
        )
    tag = TagName(name, Action.ASSIGN, stage=stage)
    default = f"Assigning stage {stage} to artifact {name} version {version_name}"
    steps.append(
        NewTag(tag, _form(simple, False), target_commit, _message(message, default), version_name)
    )
    return steps


def _find_version(artifact: Artifact, name: str, version: str) -> Version:
    if not is_version(version):
        raise InvalidVersion(version)
    found = [v for v in artifact.versions if v.version == version]
    if not found:
        raise VersionNotFound(name)
    return found[-1]


def _require(state: RegistryState, name: str) -> Artifact:
    check_name(name)
    artifact = state.find(name)
    if artifact is None:
        raise ArtifactNotFound(name)
    return artifact


def _tags(events: Iterable[Event]) -> list[Step]:
    ordered = sorted(events, key=lambda e: e.created_at)
    return [DeleteTag(e.tag) for e in ordered]


def plan_unassign(
    state: RegistryState,
    config: Config,
    name: str,
    version: str,
    stage: str,
    *,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
) -> list[Step]:
    """``deprecate NAME VERSION STAGE``: an unassignment tag, or (``delete``) the stage's tags."""
    config.check_stage(stage)
    artifact = _require(state, name)
    target = _find_version(artifact, name, version)
    vstage = target.stage(stage)
    if delete:
        if vstage is None:
            if force:
                return []  # nothing to delete, and --force says that is fine
            raise GTOError(f"Stage '{stage}' is not assigned to a version '{version}'")
        return _tags((*vstage.assignments, *vstage.unassignments))
    # GTO only checked that the stage was *ever* assigned, so unassigning twice worked.
    if not force and (vstage is None or not vstage.is_active):
        raise GTOError(f"Stage '{stage}' is not assigned to a version '{version}'")
    tag = TagName(name, Action.UNASSIGN, stage=stage)
    default = f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
    return [NewTag(tag, _form(simple, False), target.commit, _message(message, default), version)]


def plan_deregister(
    state: RegistryState,
    name: str,
    version: str,
    *,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
) -> list[Step]:
    """``deprecate NAME VERSION``: a deregistration tag, or (``delete``) all its tags."""
    check_name(name)
    artifact = state.find(name)
    if artifact is None:
        raise VersionNotFound(name)  # GTO's words for this form
    target = _find_version(artifact, name, version)
    if not force and not target.is_registered:
        raise GTOError(f"The version at ref '{target.commit}' is not registered")
    if not force and not target.is_active:
        raise GTOError(f"The version at ref '{target.commit}' was deregistered already")
    if delete:
        return _tags((*target.registrations, *target.deregistrations, *target.stage_events))
    tag = TagName(name, Action.DEREGISTER, version=version)
    default = f"Deregistering artifact {name} version {version}"
    return [NewTag(tag, _form(simple, True), target.commit, _message(message, default), version)]


def plan_deprecate(
    state: RegistryState,
    name: str,
    *,
    commit: str | None = None,
    head: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
) -> list[Step]:
    """``deprecate NAME``: a deprecation tag, or (``delete``) every tag of the artifact."""
    check_name(name)
    artifact = state.find(name)
    if delete:
        if artifact is None:
            raise ArtifactNotFound(name)
        if not force and not artifact.is_active:
            raise GTOError("Artifact was deprecated already")
        return _tags(artifact.tag_events)
    if force and simple is True:
        raise GTOError("Can't use 'force' with 'simple=True'")
    if not force:
        if artifact is None:
            raise ArtifactNotFound(name)
        if not artifact.is_active:
            raise GTOError("Artifact was deprecated already")
    if commit is None:
        events = sorted(artifact.tag_events, key=lambda e: e.created_at) if artifact else []
        commit = events[-1].commit if events else head
    if commit is None:
        raise GTOError("No commit to put the deprecation tag on: the repository is empty")
    counter_form = True if force else _form(simple, True)
    tag = TagName(name, Action.DEPRECATE)
    default = f"Deprecating artifact '{name}'"
    return [NewTag(tag, counter_form, commit, _message(message, default), None)]


def check_free(steps: Iterable[Step], existing: Iterable[str]) -> None:
    """Refuse a plan whose simple-form tags already exist, before anything is written.

    (Counter-form tags take the next free counter when written, so they cannot
    clash.)  Without this, an ``assign`` that registers first would write the
    registration and then fail on the assignment.
    """
    taken = set(existing)
    for step in steps:
        if isinstance(step, NewTag) and not step.counter_form:
            name = format_tag(step.tag)
            if name in taken:
                raise GTOError(f"tag '{name}' already exists")
            taken.add(name)
