"""``gto report``: the registry of one or many repositories as records for a web page.

Reading is here; drawing is in :mod:`gto_dulwich.timeline` and writing the site
in :mod:`gto_dulwich.site`.  Each repository is read once (a URL without a clone,
as ``show -r URL`` does), several at a time, and one that cannot be read becomes
a :class:`RepoReport` with an ``error`` instead of sinking the others.

Records hold plain values (strings, ints, lists) so ``registry.json`` is their
``to_dict()`` and the templates need no knowledge of the reducer.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gto_dulwich.annotations import Annotation
from gto_dulwich.errors import GTOError
from gto_dulwich.events import Event, EventKind
from gto_dulwich.queries import Sort, versions_in_stages
from gto_dulwich.reducer import Artifact, RegistryState, semver_desc
from gto_dulwich.remote import is_url
from gto_dulwich.remote.connection import redact_url

if TYPE_CHECKING:
    from gto_dulwich.api import Registry
    from gto_dulwich.dvc import DvcReader

#: Repositories read at once: enough to overlap network waits, few enough for a small runner.
MAX_WORKERS = 4

SCHEMA = "gto_dulwich.report/1"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One registry tag, as the history table and the timeline show it."""

    kind: str
    tag: str
    version: str | None
    stage: str | None
    commit: str
    time: str
    epoch: int
    author: str
    author_email: str
    message: str


@dataclass(frozen=True, slots=True)
class VersionRecord:
    version: str
    commit: str
    status: str  # "registered", "deregistered" or "unregistered" (a commit-named version)
    tagger: str
    tagger_email: str
    time: str
    epoch: int
    message: str
    tag: str
    stages: list[str]


@dataclass(frozen=True, slots=True)
class Period:
    """A span during which ``version`` held ``stage``; ``end`` None: it still does."""

    stage: str
    version: str
    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class ArtifactReport:
    name: str
    repo: int  # index into Report.repos
    page: str  # file name of the artifact page, relative to the site root
    type: str | None
    path: str | None
    description: str
    labels: list[str]
    latest: str | None
    stages: dict[str, str]  # stage -> the version in it (only stages held)
    deprecated: bool
    registered: bool
    last_event: EventRecord | None
    versions: list[VersionRecord]
    events: list[EventRecord]  # newest first
    periods: list[Period]
    # Where the artifact's data is stored (a DVC remote URL, …): filled by enrichments
    # that know about it; the page shows it when set.
    storage: str | None = None


@dataclass(frozen=True, slots=True)
class RepoReport:
    source: str  # as shown: credentials removed
    web: str | None  # https://github.com/OWNER/REPO or a GitLab equivalent
    error: str | None
    stages: list[str] = field(default_factory=list)
    skipped_tags: int = 0
    name: str = ""  # short: the folder or the URL's last part (the source if that is ambiguous)


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    generated_at: str
    repos: list[RepoReport]
    artifacts: list[ArtifactReport]

    @property
    def stages(self) -> list[str]:
        """Every repository's stages, in first-seen order."""
        seen: dict[str, None] = {}
        for repo in self.repos:
            seen.update(dict.fromkeys(repo.stages))
        return list(seen)

    @property
    def failed(self) -> list[RepoReport]:
        return [repo for repo in self.repos if repo.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "title": self.title,
            "generated_at": self.generated_at,
            "stages": self.stages,
            "repositories": [plain(repo) for repo in self.repos],
            "artifacts": [plain(artifact) for artifact in self.artifacts],
        }


def plain(value: Any) -> Any:
    """A record as JSON values; ``dataclasses.asdict`` deep-copies every leaf, 10× slower."""
    slots = getattr(type(value), "__slots__", None)
    if slots is not None and not isinstance(value, (str, int)):
        return {name: plain(getattr(value, name)) for name in slots}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


# -- hosting links --------------------------------------------------------------

_WEB = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/]*@)?(?P<host1>[^/:]+)(?::\d+)?/"
    r"|(?:[^@/:]+@)?(?P<host2>[^/:]+):)"
    r"(?P<path>[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)+)/?$"
)


def web_base(url: str | None) -> str | None:
    """``https://HOST/OWNER/REPO`` for a GitHub or GitLab remote URL, else None."""
    if not url:
        return None
    match = _WEB.match(url.strip())
    if match is None:
        return None
    host = (match["host1"] or match["host2"]).lower()
    if host != "github.com" and not (host == "gitlab.com" or host.startswith("gitlab.")):
        return None
    path = match["path"].removesuffix(".git")
    if any(part in (".", "..", "") for part in path.split("/")):
        return None
    return f"https://{host}/{path}"


def commit_url(web: str, commit: str) -> str:
    middle = "/commit/" if web.startswith("https://github.com/") else "/-/commit/"
    return web + middle + commit


def tag_url(web: str, tag: str) -> str:
    middle = "/releases/tag/" if web.startswith("https://github.com/") else "/-/tags/"
    return web + middle + quote(tag, safe="")


# -- reading ------------------------------------------------------------------------


def event_record(event: Event) -> EventRecord:
    """The record the history table and the timeline draw for ``event``."""
    return EventRecord(
        event.kind.value,
        event.tag,
        event.version,
        event.stage,
        event.commit,
        event.created_at.isoformat(),
        int(event.created_at.timestamp()),
        event.author,
        event.author_email,
        event.message,
    )


def page_name(repo: int, name: str) -> str:
    """A file name for an artifact page: readable, unique, safe on every file system."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:60]
    digest = hashlib.sha1(f"{repo}\0{name}".encode()).hexdigest()[:8]
    return f"a/{repo}-{readable}-{digest}.html"


def periods(events: Iterable[Event]) -> list[Period]:
    """Who held each stage when, from the events in time order.

    A stage is held by the version with the most recent live assignment to it
    (GTO's ``show`` with one version per stage); unassigning it hands the stage
    back to the previous live one, deregistering a version ends its stages and
    deprecating the artifact ends them all.  One pass, O(events).
    """
    live: dict[str, OrderedDict[str, int]] = {}  # stage -> version -> assigned at
    open_: dict[str, tuple[str, int]] = {}  # stage -> (holder, since)
    done: list[Period] = []

    def settle(stage: str, at: int) -> None:
        versions = live.get(stage)
        holder = next(reversed(versions)) if versions else None
        current = open_.get(stage)
        if current is not None and current[0] == holder:
            return
        if current is not None:
            done.append(Period(stage, current[0], current[1], at))
            del open_[stage]
        if holder is not None:
            open_[stage] = (holder, at)

    for event in sorted(events, key=lambda e: (e.created_at, e.priority)):
        at = int(event.created_at.timestamp())
        if event.kind is EventKind.ASSIGNMENT and event.stage and event.version:
            versions = live.setdefault(event.stage, OrderedDict())
            versions.pop(event.version, None)
            versions[event.version] = at
            settle(event.stage, at)
        elif event.kind is EventKind.UNASSIGNMENT and event.stage and event.version:
            live.get(event.stage, OrderedDict()).pop(event.version, None)
            settle(event.stage, at)
        elif event.kind is EventKind.DEREGISTRATION and event.version:
            for stage, versions in live.items():
                if versions.pop(event.version, None) is not None:
                    settle(stage, at)
        elif event.kind is EventKind.DEPRECATION:
            for stage, versions in live.items():
                versions.clear()
                settle(stage, at)
    done.extend(Period(stage, holder, since, None) for stage, (holder, since) in open_.items())
    done.sort(key=lambda p: (p.stage, p.start))
    return done


def artifact_report(artifact: Artifact, annotation: Annotation | None, repo: int) -> ArtifactReport:
    """One artifact's records: every version, every event, who held which stage when."""
    held = versions_in_stages(artifact, sort=Sort.TIMESTAMP)
    stages = {stage: holders[0].version for stage, holders in held.items() if holders}
    stages_of: dict[tuple[str, str], list[str]] = {}
    for stage, holders in held.items():
        for vstage in holders:
            stages_of.setdefault((vstage.version, vstage.commit), []).append(stage)
    versions = []
    for version in semver_desc(artifact.versions):
        if version.discovered:
            status = "unregistered"
        else:
            status = "registered" if version.is_active else "deregistered"
        author = version.authoring_event
        versions.append(
            VersionRecord(
                version.version,
                version.commit,
                status,
                author.author,
                author.author_email,
                author.created_at.isoformat(),
                int(author.created_at.timestamp()),
                author.message,
                author.tag if isinstance(author, Event) else "",
                stages_of.get((version.version, version.commit), []),
            )
        )
    tag_events = artifact.tag_events
    events = sorted(tag_events, key=lambda e: (e.created_at, e.priority), reverse=True)
    latest = artifact.latest
    note = annotation or Annotation()
    return ArtifactReport(
        name=artifact.name,
        repo=repo,
        page=page_name(repo, artifact.name),
        type=note.type,
        path=note.path,
        description=note.description,
        labels=list(note.labels),
        latest=latest.version if latest else None,
        stages=stages,
        deprecated=not artifact.is_active,
        registered=artifact.is_registered,
        last_event=event_record(events[0]) if events else None,
        versions=versions,
        events=[event_record(e) for e in events],
        periods=periods(tag_events),
    )


def head_annotations(state: RegistryState) -> dict[str, Annotation]:
    """``artifacts.yaml`` at HEAD, from the state: the reducer enriched every artifact
    with HEAD's entry already, so the file is not read and parsed a second time."""
    found: dict[str, Annotation] = {}
    if state.head is None:
        return found
    for name, artifact in state.artifacts.items():
        for version in artifact.versions:
            for enrichment in version.enrichments:
                if enrichment.commit == state.head and enrichment.annotation is not None:
                    found[name] = enrichment.annotation
    return found


def with_storage(
    registry: Registry, record: ArtifactReport, annotation: Annotation | None, reader: DvcReader
) -> ArtifactReport:
    """The record with where its data is stored: the remote address of a DVC-tracked path at
    HEAD (an output of a ``dvc.lock`` or a ``.dvc`` file), the string ``dvc get --show-url``
    prints; unchanged for a path committed in git or not annotated."""
    head = registry.state.head
    if head is None or annotation is None or not annotation.path or not reader.is_project(head):
        return record
    git = registry.git
    output, _problems = reader.output(
        head, annotation, workdir=None if git.is_remote else git.workdir
    )
    if output is None or output.url is None:
        return record  # why is `doctor`'s to say
    return replace(record, storage=output.url)


def _shown(source: str) -> str:
    return redact_url(source) if is_url(source) else source


def read_repo(source: str, repo: int) -> tuple[RepoReport, list[ArtifactReport]]:
    """Read one repository (a path or a URL); a failure is the report's ``error``."""
    from gto_dulwich.api import Registry
    from gto_dulwich.dvc import DvcReader

    shown = _shown(source)
    try:
        with Registry.open(source) as registry:
            state = registry.state
            annotations = head_annotations(state)
            stages = registry.stages() or []
            web = web_base(registry.git.remote_url() or (source if is_url(source) else None))
            reader = DvcReader(registry.git, cache=False)
            artifacts = [
                with_storage(
                    registry,
                    artifact_report(artifact, annotations.get(name), repo),
                    annotations.get(name),
                    reader,
                )
                for name, artifact in state.artifacts.items()
            ]
            skipped = len(registry.diagnostics)
    except GTOError as exc:
        return RepoReport(shown, None, str(exc)), []
    except OSError as exc:  # a folder that vanished or cannot be read mid-way
        return RepoReport(shown, None, f"{exc.strerror or exc}"), []
    return RepoReport(shown, web, None, stages, skipped), artifacts


def short_name(source: str) -> str:
    """``/srv/git/models.git`` or ``https://host/org/models.git`` -> ``models``."""
    tail = re.split(r"[/:\\]", source.rstrip("/\\"))[-1]
    return tail.removesuffix(".git") or source


def _named(repos: list[RepoReport]) -> list[RepoReport]:
    names = [short_name(repo.source) for repo in repos]
    return [
        replace(repo, name=name if names.count(name) == 1 else repo.source)
        for repo, name in zip(repos, names, strict=True)
    ]


def build_report(
    sources: Sequence[str],
    *,
    title: str,
    generated_at: str,
    workers: int = MAX_WORKERS,
    reader: Callable[[str, int], tuple[RepoReport, list[ArtifactReport]]] = read_repo,
) -> Report:
    """Read every repository, ``workers`` at a time, keeping the order they were given in.
    Each worker thread reads with this command's settings (``--no-cache`` included)."""
    from gto_dulwich import settings

    record = settings.current()

    def read(source: str, number: int) -> tuple[RepoReport, list[ArtifactReport]]:
        with settings.using(record):
            return reader(source, number)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources)))) as pool:
        results = list(pool.map(read, sources, range(len(sources))))
    repos = _named([repo for repo, _ in results])
    artifacts = [artifact for _, found in results for artifact in found]
    artifacts.sort(key=lambda a: (a.name.lower(), a.repo))
    return Report(title, generated_at, repos, artifacts)
