"""The library API: GTO's function names and parameters, over one read of the repository.

Every function accepts a path, an open dulwich ``Repo`` or a :class:`Registry`
(a snapshot that reads the repository once and answers many questions; GTO
re-reads everything on every call).  Functions return frozen records whose
``to_dict()`` is exactly what the CLI prints as JSON; nothing here prints.
Each reads its settings once (:func:`gto_dulwich.settings.pinned`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gto_dulwich.registry
from gto_dulwich import settings
from gto_dulwich.annotations import Annotation, Index, parse_index
from gto_dulwich.config import Config, load_config
from gto_dulwich.errors import GTOError, UnknownRevision
from gto_dulwich.events import Diagnostic, Event, parse_ref_name
from gto_dulwich.grammar import Shortcut, artifact_prefixes, parse_shortcut
from gto_dulwich.grammar import parse_tag as _parse_tag
from gto_dulwich.queries import (
    HistoryRow,
    RegistryRow,
    Sort,
    VersionRow,
    find_event,
    version_rows,
    versions_in_stages,
)
from gto_dulwich.queries import history as _history
from gto_dulwich.reducer import Version, VStage

# The snapshot type is part of this API (``api.Registry.open(...)``); it lives with the read.
from gto_dulwich.registry import Registry as Registry  # noqa: PLC0414
from gto_dulwich.registry import RepoLike, git_of, open_git, opened, read_index
from gto_dulwich.repo import GitRepo

if TYPE_CHECKING:
    from gto_dulwich.dvc import DvcOutput, Problem
    from gto_dulwich.get import GetResult, Progress
    from gto_dulwich.plan import Bump, Step
    from gto_dulwich.remote.push import FetchResult
    from gto_dulwich.write import Reporter

# -- show ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryView:
    """``show`` with no name: one row per artifact, one column per stage."""

    stages: list[str]
    rows: list[RegistryRow]

    def to_dict(self) -> dict[str, Any]:
        return {row.name: row.to_dict() for row in self.rows}


@dataclass(frozen=True, slots=True)
class ArtifactView:
    """``show NAME``: the artifact's versions (filtered by a shortcut), highest first."""

    name: str
    registered: bool
    rows: list[VersionRow]

    def to_dict(self) -> list[dict[str, Any]]:
        return [row.to_dict() for row in self.rows]


@settings.pinned
def show(
    repo: RepoLike,
    name: str | None = None,
    *,
    registered_only: bool = False,
    deprecated: bool = False,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    sort: Sort | str = Sort.TIMESTAMP,
    enrich_all: bool = True,
) -> RegistryView | ArtifactView:
    """GTO's ``show``: the registry (no name) or one artifact (``NAME``, ``NAME@latest``,
    ``NAME@vX.Y.Z``, ``NAME#STAGE``)."""
    sort = Sort(sort)
    shortcut = parse_shortcut(name) if name else None
    with opened(
        repo, artifact=shortcut.name if shortcut else None, enrich_all=bool(name and enrich_all)
    ) as registry:
        if shortcut is None:
            return _registry_view(
                registry,
                deprecated=deprecated,
                registered_only=registered_only,
                assignments_per_version=assignments_per_version,
                versions_per_stage=versions_per_stage,
                sort=sort,
            )
        artifact = registry.artifact(shortcut.name)
        rows = version_rows(
            artifact,
            deprecated=deprecated,
            registered_only=registered_only,
            assignments_per_version=assignments_per_version,
            versions_per_stage=versions_per_stage,
            sort=sort,
        )
        return ArtifactView(artifact.name, artifact.is_registered, _apply(shortcut, rows))


def _registry_view(
    registry: Registry,
    *,
    deprecated: bool,
    registered_only: bool,
    assignments_per_version: int,
    versions_per_stage: int,
    sort: Sort,
) -> RegistryView:
    """Rows for every artifact (deprecated too): from the state cache, else rebuilt from
    per-artifact summaries when the registry has not been read, else from the state."""
    from gto_dulwich.statecache import ViewOptions

    options = ViewOptions(registered_only, assignments_per_version, versions_per_stage, sort)
    views = registry.views
    if assignments_per_version < -1 or versions_per_stage < -1:
        views = None  # the full read reports the error
    cached = views.view(options) if views is not None else None
    if cached is None and views is not None and registry._state is None:
        cached = views.assemble(options, cache_threshold=gto_dulwich.registry.CACHE_THRESHOLD)
    if cached is not None:
        stages, rows = cached
    else:
        stages = registry.stages() or []
        rows = options.rows(registry.state, stages)
        if views is not None:
            views.remember(options, (stages, rows), registry.state.diagnostics)
    return RegistryView(stages, rows if deprecated else [row for row in rows if row.active])


def _apply(shortcut: Shortcut, rows: list[VersionRow]) -> list[VersionRow]:
    if shortcut.latest:
        return rows[:1]
    if shortcut.version is not None:
        return [r for r in rows if r.version.version == shortcut.version]
    if shortcut.stage is not None:
        return [r for r in rows if shortcut.stage in r.stages]
    return rows


# -- history, check_ref, stages -----------------------------------------------


@settings.pinned
def history(
    repo: RepoLike, artifact: str | None = None, ascending: bool = False
) -> list[HistoryRow]:
    """Every registry event, newest first (oldest first with ``ascending``).

    ``artifact`` may also be ``NAME#STAGE``: the assignments and unassignments of
    that stage; or ``NAME@VERSION`` (``NAME@latest``): the registrations,
    deregistrations and stage events of that version (GTO issue 251).
    """
    shortcut = parse_shortcut(artifact) if artifact else None
    name = shortcut.name if shortcut else None
    with opened(repo, artifact=name) as registry:
        if name is None:
            return _registry_history(registry, ascending=ascending)
        rows = _history(registry.state, name, ascending=ascending)
        if shortcut is None or shortcut.name == artifact:
            return rows
        if shortcut.stage is not None:
            return [row for row in rows if row.event.stage == shortcut.stage]
        version = shortcut.version
        if shortcut.latest:
            found = registry.state.find(shortcut.name)
            latest = found.latest if found else None
            version = latest.version if latest else None
        return [row for row in rows if version is not None and row.event.version == version]


def _registry_history(registry: Registry, *, ascending: bool) -> list[HistoryRow]:
    """The whole registry's history, under the state cache's fingerprint as ``show``: no
    tag is read while it holds."""
    views = registry.views
    if views is None:
        return _history(registry.state, None, ascending=ascending)
    events = views.history() if registry._state is None else None
    if events is None:
        rows = _history(registry.state, None, ascending=True)
        views.remember_history([row.event for row in rows], registry.state.diagnostics)
    else:
        rows = [HistoryRow(event) for event in events]
    if not ascending:
        rows.reverse()
    return rows


@dataclass(frozen=True, slots=True)
class CommitView:
    """``show --commit REV``: the versions at one commit, each with its artifact and stages."""

    commit: str
    rows: list[VersionRow]

    def to_dict(self) -> list[dict[str, Any]]:
        return [row.to_dict() for row in self.rows]


@settings.pinned
def versions_at(
    repo: RepoLike,
    rev: str,
    name: str | None = None,
    *,
    registered_only: bool = False,
    deprecated: bool = False,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    sort: Sort | str = Sort.TIMESTAMP,
    enrich_all: bool = True,
) -> CommitView:
    """The versions registered at ``rev`` (GTO issue 312: "which version is this checkout?").

    What ``show NAME`` lists (same options), for every artifact or only ``name``,
    kept where the version's commit is ``rev``; by artifact name, highest first.
    A commit-named version counts only when a stage was assigned to it: one that
    merely lists the artifact in ``artifacts.yaml`` says nothing about a version.
    """
    sort = Sort(sort)
    shortcut = parse_shortcut(name) if name else None
    with opened(
        repo, artifact=shortcut.name if shortcut else None, enrich_all=enrich_all
    ) as registry:
        commit = registry.git.resolve(rev)
        if shortcut is not None:
            artifacts = [registry.artifact(shortcut.name)]
        else:
            artifacts = sorted(registry.state.artifacts.values(), key=lambda a: a.name)
        rows: list[VersionRow] = []
        for artifact in artifacts:
            found = version_rows(
                artifact,
                deprecated=deprecated,
                registered_only=registered_only,
                assignments_per_version=assignments_per_version,
                versions_per_stage=versions_per_stage,
                sort=sort,
            )
            if shortcut is not None:
                found = _apply(shortcut, found)
            rows.extend(
                row
                for row in found
                if row.version.commit == commit
                and not (row.version.discovered and not row.version.stage_events)
            )
        return CommitView(commit, rows)


def _tag_of(ref: str) -> str:
    return ref[len("refs/tags/") :] if ref.startswith("refs/tags/") else ref


def artifact_of_ref(ref: str) -> str | None:
    """The artifact a tag (``T`` or ``refs/tags/T``) names; None when it is not a registry tag."""
    parsed = parse_ref_name(_tag_of(ref))
    return parsed.name if parsed else None


@settings.pinned
def check_ref(repo: RepoLike, ref: str) -> list[Event]:
    """The registry events a tag created: ``[]`` when it is not an annotated GTO tag."""
    artifact = artifact_of_ref(ref)
    if artifact is None:
        _check_config(repo)
        return []
    with opened(repo, artifact=artifact) as registry:
        return find_event(registry.state, _tag_of(ref))


@settings.pinned
def tag_problem(repo: RepoLike, ref: str) -> str | None:
    """Why a tag named like a registry event gave none here, when it is a CI-checkout trap.

    ``actions/checkout`` writes the triggering tag as a lightweight tag, and
    shallow clones often have no tags at all; both look like "no event".
    None when neither applies (the tag simply is not a registry tag).
    """
    artifact = artifact_of_ref(ref)
    if artifact is None:
        return None
    tag = _tag_of(ref)
    with opened(repo, artifact=artifact) as registry:
        git = registry.git
        entries = [e for e in git.tag_refs([tag]) if e.name == tag]
        hint = "rerun with --fetch-tags to fetch the annotated tags from origin"
        if entries and git.read_tag(entries[0]).kind == "lightweight":
            return (
                f"tag '{tag}' is a lightweight tag here, so it records no registry event "
                f"(CI checkouts often make them); {hint}"
            )
        if not entries and (git.commondir / "shallow").exists():
            return f"tag '{tag}' is not in this shallow clone; {hint}"
        return None


@settings.pinned
def fetch_tags(
    repo: str | os.PathLike[str] | GitRepo, ref: str | None = None, remote: str = "origin"
) -> FetchResult:
    """Fetch annotated tags from ``remote`` into a local repository, without git.

    With ``ref`` only the tags of its artifact are fetched (what ``check-ref``
    needs); lightweight local tags are replaced by the remote's annotated ones.
    """
    from gto_dulwich.remote.push import fetch_tags as _fetch

    artifact = artifact_of_ref(ref) if ref else None
    prefixes = artifact_prefixes(artifact) if artifact else None
    git = open_git(repo, remote=False)
    try:
        _check_remote(git, remote)
        return _fetch(git, prefixes, remote=remote)
    finally:
        if not isinstance(repo, GitRepo):
            git.close()


def _check_remote(git: GitRepo, remote: str) -> None:
    """Refuse a configured remote URL that ssh would misread (a host starting with '-')."""
    from gto_dulwich.settings import check_host

    url = git.remote_url(remote)
    if url:
        check_host(url, remote=remote)


def _check_config(repo: RepoLike) -> Config:
    """The repository's config, without reading any tag (still fails on a bad ``.gto``)."""
    if isinstance(repo, Registry):
        return repo.config
    if isinstance(repo, GitRepo):
        return load_config(repo.workdir)
    with open_git(repo) as git:
        return load_config(git.workdir)


@settings.pinned
def get_stages(repo: RepoLike, allowed: bool = False, used: bool = False) -> list[str] | None:
    """Allowed stages from config, or the stages currently in use."""
    if allowed and not used:
        stages = _check_config(repo).stages
        return list(stages) if stages is not None else None
    with opened(repo) as registry:
        return registry.stages(allowed=allowed, used=used)


# -- latest, which, describe ----------------------------------------------------


@settings.pinned
def find_latest_version(
    repo: RepoLike, name: str, all: bool = False, registered: bool = True
) -> Version | list[Version] | None:
    """The highest active registered version (``all``: every active one, highest first)."""
    with opened(repo, artifact=name) as registry:
        artifact = registry.artifact(name)
        versions = artifact.active_versions(registered_only=registered)
        if all:
            return versions
        return versions[0] if versions else None


@settings.pinned
def find_versions_in_stage(
    repo: RepoLike,
    name: str,
    stage: str,
    assignments_per_version: int = -1,
    versions_per_stage: int = 1,
    registered_only: bool = False,
    sort: Sort | str = Sort.SEMVER,
) -> list[VStage] | None:
    """Versions in ``stage``, first = the one in it.  GTO's API sorts by semver here."""
    with opened(repo, artifact=name) as registry:
        registry.config.check_stage(stage)
        artifact = registry.artifact(name)
        held = versions_in_stages(
            artifact,
            registered_only=registered_only,
            assignments_per_version=assignments_per_version,
            versions_per_stage=versions_per_stage,
            sort=Sort(sort),
        )
        return held.get(stage) or None


@settings.pinned
def describe(repo: RepoLike, name: str, rev: str | None = None) -> Annotation | None:
    """The annotation of ``name`` at ``rev`` (default HEAD), or None.

    From ``artifacts.yaml``, else from the ``dvc.yaml`` that declares it
    (``Annotation.source`` names the file; a ``dvc.yaml`` path is repo-relative).
    ``name`` may be a shortcut (``NAME@latest``, ``NAME@vX.Y.Z``, ``NAME#STAGE``):
    then the entry is read at that version's commit.
    """
    return describe_artifact(repo, name, rev, outputs=False).annotation


@dataclass(frozen=True, slots=True)
class Description:
    """``describe``'s answer: the commit read, the annotation, its DVC output if it has one,
    and the problems met in DVC files on the way."""

    commit: str | None
    annotation: Annotation | None
    output: DvcOutput | None = None
    problems: tuple[Problem, ...] = ()


@settings.pinned
def describe_artifact(
    repo: RepoLike, name: str, rev: str | None = None, *, outputs: bool = True
) -> Description:
    """:func:`describe`, plus (with ``outputs``) the DVC output behind the artifact's path:
    md5, size, whether it is a directory and its address in remote storage."""
    from gto_dulwich.dvc import DvcReader, merge, with_source

    shortcut = parse_shortcut(name)
    with opened(repo, artifact=shortcut.name) as registry:
        git = registry.git
        commit: str | None
        if shortcut.name != name:
            if rev is not None:
                raise GTOError("Cannot use a version or stage shortcut together with a revision")
            view = show(registry, name, enrich_all=False)
            assert isinstance(view, ArtifactView)
            if not view.rows:
                return Description(None, None)
            commit = view.rows[0].version.commit
        else:
            commit = git.resolve(rev) if rev else git.head()
        if commit is None:
            return Description(None, None)
        index_name = registry.config.index
        data = read_index(git, commit, index_name)
        index = parse_index(data, index=index_name, commit=commit) if data else Index()
        reader = DvcReader(git, cache=not settings.current().no_cache)
        found = reader.read(commit)
        annotation = merge(index.artifacts, found.annotations()).get(shortcut.name)
        problems = [p for p in found.problems if annotation is None or p.file == annotation.source]
        output = None
        if annotation is not None:
            annotation = with_source(annotation, index_name)
            if outputs:
                workdir = None if git.is_remote else git.workdir
                output, more = reader.output(commit, annotation, workdir=workdir)
                problems.extend(more)
        reader.save()
        return Description(commit, annotation, output, tuple(problems))


@settings.pinned
def get(
    repo: RepoLike,
    name: str,
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    show_url: bool = False,
    file_urls: bool = False,
    progress: Progress | None = None,
) -> GetResult:
    """``gto get``: write the artifact at ``NAME@vX.Y.Z``, ``NAME@latest`` or ``NAME#STAGE``
    (a bare NAME is the latest) to ``out`` (default: its file name in the current directory).

    The version is the registry's answer (see :mod:`gto_dulwich.get`); ``show_url``
    only returns the storage address of a DVC-tracked artifact (``file_urls``: and,
    for a directory, each file's, read from its ``.dir`` manifest).
    """
    from gto_dulwich.get import get_artifact
    from gto_dulwich.grammar import parse_shortcut

    with opened(repo, artifact=parse_shortcut(name).name) as registry:
        return get_artifact(
            registry,
            name,
            out,
            force=force,
            show_url=show_url,
            file_urls=file_urls,
            progress=progress,
        )


@settings.pinned
def dvc_problems(registry: Registry) -> list[Diagnostic]:
    """What keeps HEAD's ``dvc.yaml`` artifacts from their data: a broken ``dvc.lock`` or
    ``.dvc`` file, a remote ``.dvc/config`` does not define (for ``doctor``)."""
    from gto_dulwich.dvc import DvcReader

    git = registry.git
    head = git.head()
    if head is None:
        return []
    reader = DvcReader(git, cache=not settings.current().no_cache)
    workdir = None if git.is_remote else git.workdir
    found: dict[tuple[str, str], Diagnostic] = {}
    for art in reader.read(head).artifacts.values():
        for problem in reader.output(head, art.annotation, workdir=workdir)[1]:
            reason = f"at commit {head[:7]}: {problem.detail} (artifact '{art.name}')"
            found.setdefault((problem.file, problem.detail), Diagnostic(problem.file, reason))
    reader.save()
    return list(found.values())


def parse_tag(name: str) -> dict[str, object]:
    """GTO's ``parse_tag``: the parsed tag as a dict (raises on a non-GTO tag)."""
    return _parse_tag(name).to_dict()


def is_gto_repo(repo: str | os.PathLike[str]) -> bool:
    path = Path(repo)
    return (path / ".gto").exists() or (path / "artifacts.yaml").exists()


# -- writes ---------------------------------------------------------------------


#: How many times a write re-plans after another writer took its tag first.
WRITE_ATTEMPTS = 16


def _run_write(
    repo: RepoLike,
    name: str,
    make_plan: Callable[[Registry], Sequence[Step]],
    *,
    push: bool,
    author: str | None,
    author_email: str | None,
    report: Reporter | None,
) -> list[Event]:
    """Read the artifact's tags, plan, then write: nothing is written if planning fails.

    When another writer takes the tag between our read and our write (an
    auto-bumped version, a counter, a tag on a remote), read again and re-plan,
    up to :data:`WRITE_ATTEMPTS` times: the new plan either picks a free name or
    fails as it would have had it seen the other write (a version given
    explicitly and now taken, a stage already held).
    """
    from gto_dulwich.errors import LostRace, TagExists
    from gto_dulwich.identity import resolve_tagger
    from gto_dulwich.plan import NewTag, check_free
    from gto_dulwich.write import execute

    with git_of(repo) as git:
        if push and not git.is_remote:
            _check_remote(git, "origin")  # before anything is written
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            with Registry.open(git, artifact=name) as registry:
                steps = make_plan(registry)
                check_free(steps, registry.tag_names)
            needs_tagger = any(isinstance(step, NewTag) for step in steps)
            tagger = (
                resolve_tagger(git.dulwich.get_config_stack(), name=author, email=author_email)
                if needs_tagger
                else None
            )
            try:
                # A registry read from a URL lives in a temporary store: the push is the write.
                return execute(
                    git,
                    steps,
                    tagger,
                    push=push or git.is_remote,
                    report=report or (lambda _change: None),
                )
            except (TagExists, LostRace):
                if attempt == WRITE_ATTEMPTS:
                    raise
                refresh = getattr(git, "refresh", None)
                if callable(refresh):
                    refresh()
        raise AssertionError("unreachable")  # pragma: no cover


def _bump(bump_major: bool, bump_minor: bool, bump_patch: bool) -> Bump | None:
    flags: dict[Bump, bool] = {"major": bump_major, "minor": bump_minor, "patch": bump_patch}
    chosen = [part for part, flag in flags.items() if flag]
    if len(chosen) > 1:
        raise GTOError("Need to specify either version or single bump argument")
    return chosen[0] if chosen else None


@settings.pinned
def register(
    repo: RepoLike,
    name: str,
    ref: str = "HEAD",
    version: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    bump_major: bool = False,
    bump_minor: bool = False,
    bump_patch: bool = False,
    push: bool = False,
    author: str | None = None,
    author_email: str | None = None,
    *,
    report: Reporter | None = None,
) -> Event:
    """Register a version of ``name`` at ``ref`` (auto-bumped unless ``version`` is given)."""
    bump = _bump(bump_major, bump_minor, bump_patch)

    def make_plan(registry: Registry) -> list[Step]:
        from gto_dulwich.plan import plan_register

        commit = registry.git.resolve(ref)
        return [
            plan_register(
                registry.state,
                name,
                commit,
                version=version,
                bump=bump,
                message=message,
                simple=simple,
                force=force,
            )
        ]

    return _run_write(
        repo, name, make_plan, push=push, author=author, author_email=author_email, report=report
    )[-1]


@settings.pinned
def assign(
    repo: RepoLike,
    name: str,
    stage: str,
    version: str | None = None,
    ref: str | None = None,
    name_version: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    push: bool = False,
    skip_registration: bool = False,
    author: str | None = None,
    author_email: str | None = None,
    *,
    report: Reporter | None = None,
) -> Event:
    """Assign ``stage`` to a version (``version``) or to the version at ``ref``, registering
    one first when that commit has none (unless ``skip_registration``)."""

    def make_plan(registry: Registry) -> list[Step]:
        from gto_dulwich.plan import plan_assign

        commit = registry.git.resolve(ref) if ref is not None else None
        if version is None and commit is None:
            commit = registry.git.resolve("HEAD")
        return list(
            plan_assign(
                registry.state,
                registry.config,
                name,
                stage,
                version=version,
                commit=commit,
                name_version=name_version,
                message=message,
                simple=simple,
                force=force,
                skip_registration=skip_registration,
            )
        )

    return _run_write(
        repo, name, make_plan, push=push, author=author, author_email=author_email, report=report
    )[-1]


@settings.pinned
def unassign(
    repo: RepoLike,
    name: str,
    ref: str | None = None,
    version: str | None = None,
    stage: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
    push: bool = False,
    author: str | None = None,
    author_email: str | None = None,
    *,
    report: Reporter | None = None,
) -> Event | None:
    """Unassign ``stage`` from a version (a ``#stage!`` tag), or delete its stage tags."""
    if stage is None:
        raise GTOError("A stage is required")

    def make_plan(registry: Registry) -> list[Step]:
        from gto_dulwich.plan import plan_unassign

        target = _version_name(registry, name, version, ref)
        return plan_unassign(
            registry.state,
            registry.config,
            name,
            target,
            stage,
            message=message,
            simple=simple,
            force=force,
            delete=delete,
        )

    events = _run_write(
        repo, name, make_plan, push=push, author=author, author_email=author_email, report=report
    )
    return events[-1] if events else None


@settings.pinned
def deregister(
    repo: RepoLike,
    name: str,
    ref: str | None = None,
    version: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
    push: bool = False,
    author: str | None = None,
    author_email: str | None = None,
    *,
    report: Reporter | None = None,
) -> Event | None:
    """Deregister a version (a ``@vX.Y.Z!`` tag), or delete all of its tags."""

    def make_plan(registry: Registry) -> list[Step]:
        from gto_dulwich.plan import plan_deregister

        target = _version_name(registry, name, version, ref)
        return plan_deregister(
            registry.state, name, target, message=message, simple=simple, force=force, delete=delete
        )

    events = _run_write(
        repo, name, make_plan, push=push, author=author, author_email=author_email, report=report
    )
    return events[-1] if events else None


@settings.pinned
def deprecate(
    repo: RepoLike,
    name: str,
    ref: str | None = None,
    message: str | None = None,
    simple: bool | None = None,
    force: bool = False,
    delete: bool = False,
    push: bool = False,
    author: str | None = None,
    author_email: str | None = None,
    *,
    report: Reporter | None = None,
) -> Event | None:
    """Deprecate the whole artifact (an ``@deprecated`` tag), or delete all of its tags."""

    def make_plan(registry: Registry) -> list[Step]:
        from gto_dulwich.plan import plan_deprecate

        try:
            commit = registry.git.resolve(ref) if ref is not None else None
        except UnknownRevision:
            raise GTOError(f"Ref '{ref}' was not found in the repository history") from None
        return plan_deprecate(
            registry.state,
            name,
            commit=commit,
            head=registry.git.head(),
            message=message,
            simple=simple,
            force=force,
            delete=delete,
        )

    events = _run_write(
        repo, name, make_plan, push=push, author=author, author_email=author_email, report=report
    )
    return events[-1] if events else None


def _version_name(registry: Registry, name: str, version: str | None, ref: str | None) -> str:
    """GTO's API takes a version or a ref; find the version name either way."""
    if (version is None) == (ref is None):
        raise GTOError("Exactly one of version and ref must be given")
    if version is not None:
        return version
    assert ref is not None
    commit = registry.git.resolve(ref)
    artifact = registry.artifact(name)
    found = [v for v in artifact.versions if v.commit == commit and not v.discovered]
    if not found:
        raise GTOError(f"No versions found for '{name}' at ref '{ref}'")
    return found[-1].version


# -- artifacts.yaml -------------------------------------------------------------


@settings.pinned
def annotate(
    repo: str | os.PathLike[str] | GitRepo,
    name: str,
    type: str | None = None,
    path: str | None = None,
    must_exist: bool = False,
    allow_same_path: bool = False,
    labels: Sequence[str] = (),
    description: str | None = None,
    custom: Any = None,
) -> Annotation:
    """Add or update ``name`` in ``artifacts.yaml`` in the work tree (not committed)."""
    from gto_dulwich import index_edit

    with open_git(repo, remote=False) as git:
        return index_edit.annotate(
            git,
            name,
            config=load_config(git.workdir),
            type=type,
            path=path,
            must_exist=must_exist,
            allow_same_path=allow_same_path,
            labels=labels,
            description=description,
            custom=custom,
        )


@settings.pinned
def remove(repo: str | os.PathLike[str] | GitRepo, name: str) -> bool:
    """Remove ``name`` from ``artifacts.yaml`` in the work tree; False if it was not there."""
    from gto_dulwich import index_edit

    with open_git(repo, remote=False) as git:
        return index_edit.remove(git, name, config=load_config(git.workdir))
