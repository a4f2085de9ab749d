"""The read pipeline: open a repository (path, URL, ``Repo``), read its tag refs, fold them
into the registry state, with the caches wired in (tag objects, annotations, the state views).

:mod:`gto_dulwich.api` runs GTO's use cases over a :class:`Registry`; this module is how one
is made.  :func:`opened` is the one way a use case gets a registry from whatever it was given
(a path, a ``Repo`` or an open :class:`Registry`, which it then leaves open).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Union

from gto_dulwich import settings
from gto_dulwich.annotations import Annotation, Index, parse_index
from gto_dulwich.config import Config, load_config
from gto_dulwich.errors import AnnotationsRefused, ArtifactNotFound, GTOError
from gto_dulwich.events import Diagnostic, build_event_log, parse_ref_name
from gto_dulwich.facts import RefEntry
from gto_dulwich.grammar import TagName, artifact_prefixes, encode_name
from gto_dulwich.queries import used_stages
from gto_dulwich.reducer import Artifact, CommitSnapshot, RegistryState, reduce
from gto_dulwich.remote import is_url
from gto_dulwich.repo import GitRepo
from gto_dulwich.yamlsafe import max_bytes, too_large

if TYPE_CHECKING:
    from dulwich.repo import Repo

    from gto_dulwich.statecache import StateCache

RepoLike = Union[str, "os.PathLike[str]", "Repo", GitRepo, "Registry"]


# Below this many tags, reading the objects costs less than loading the cache file.
CACHE_THRESHOLD = 1000


class Registry:
    """A snapshot of one repository's registry: read once, queried many times.

    ``state`` may be a function that reads it: then it is read on first use, and
    until then what ``show`` prints comes from ``views`` (see :mod:`gto_dulwich.statecache`).
    """

    def __init__(
        self,
        git: GitRepo,
        state: RegistryState | Callable[[], RegistryState],
        config: Config,
        *,
        owns_git: bool = True,
        views: StateCache | None = None,
    ) -> None:
        self.git = git
        self._state = state if isinstance(state, RegistryState) else None
        self._read = None if isinstance(state, RegistryState) else state
        self.config = config
        self._owns_git = owns_git
        self.views = views

    @property
    def state(self) -> RegistryState:
        if self._state is None:
            assert self._read is not None
            self._state = self._read()
        return self._state

    @classmethod
    def open(
        cls,
        repo: str | os.PathLike[str] | Repo | GitRepo = ".",
        *,
        artifact: str | None = None,
        enrich_all: bool = False,
        config: Config | None = None,
        environ: Mapping[str, str] | None = None,
        cache: bool = True,
    ) -> Registry:
        """Read the registry.

        ``artifact`` restricts the read to that artifact's tags (fast path for
        one-artifact commands); ``enrich_all`` reads ``artifacts.yaml`` at every
        version's commit (needed only for ``show NAME --json``).  With ``cache``
        and no ``artifact`` the tags are read when ``state`` is first used:
        ``show`` with no name may answer from :mod:`gto_dulwich.statecache`.
        """
        owns_git = not isinstance(repo, GitRepo)
        git = repo if isinstance(repo, GitRepo) else open_git(repo)
        try:
            cfg = config or load_config(git.workdir, environ)
            prefixes = artifact_prefixes(artifact) if artifact else None
            cache = cache and not settings.current().no_cache
            views = None
            if cache and prefixes is None and not git.is_remote:
                from gto_dulwich.statecache import StateCache

                # Fingerprinted before anything is read (see statecache).
                views = StateCache(git, cfg, enrich_all=enrich_all)

            def read() -> RegistryState:
                return read_state(
                    git, cfg, prefixes=prefixes, enrich_all=enrich_all, cache=cache, views=views
                )

            # With the state cache, `show` may need no tag at all: read them only if asked.
            state = read if views is not None else read()
        except BaseException:
            if owns_git:
                git.close()
            raise
        return cls(git, state, cfg, owns_git=owns_git, views=views)

    def close(self) -> None:
        if self._owns_git:
            self.git.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        if self._state is None and self.views is not None:
            cached = self.views.diagnostics()
            if cached is not None:
                return cached
            # `doctor` and `-v` answer from the state cache next time.
            self.views.remember_diagnostics(self.state.diagnostics)
        return self.state.diagnostics

    @property
    def tag_names(self) -> frozenset[str]:
        """Every tag ref name that was read (all of them, or the one artifact's)."""
        return self.state.tag_names

    def artifact(self, name: str) -> Artifact:
        found = self.state.find(name)
        if found is None:
            raise ArtifactNotFound(name)
        return found

    def stages(self, *, allowed: bool = False, used: bool = False) -> list[str] | None:
        if allowed and used:
            raise GTOError('Either "allowed" or "used" can be set')
        if allowed:
            return list(self.config.stages) if self.config.stages is not None else None
        if used or self.config.stages is None:
            cached = self.views.used_stages() if self._state is None and self.views else None
            return cached if cached is not None else used_stages(self.state)
        return list(self.config.stages)


def open_git(
    repo: str | os.PathLike[str] | Repo | GitRepo, *, remote: bool = True, write: bool = False
) -> GitRepo:
    """A path, a URL (``remote``: read through a temporary store, or in place for a
    ``file://`` read; a ``write`` always goes through the store and a push), a ``Repo``
    or a ``GitRepo``."""
    if isinstance(repo, GitRepo):
        if repo.is_remote and not remote:
            raise GTOError(LOCAL_ONLY)
        # A remote's store cannot be shared: the caller keeps it and must not close it.
        return repo if repo.is_remote else repo.borrowed()
    if isinstance(repo, str) and is_url(repo):
        from gto_dulwich.settings import check_host

        check_host(repo)
        if not remote:
            raise GTOError(LOCAL_ONLY)
        from gto_dulwich.remote.reader import RemoteRepo

        if not write:
            from gto_dulwich.remote.inplace import InPlaceRepo

            in_place = InPlaceRepo.open_url(repo)
            if in_place is not None:
                return in_place
        return RemoteRepo.open_url(repo)
    if isinstance(repo, (str, os.PathLike)):
        return GitRepo.open(repo)
    return GitRepo(repo, owned=False)


LOCAL_ONLY = (
    "This command edits files in a work tree and needs a local repository, not a URL; "
    "clone the repository, run it there and commit the change"
)


def read_state(
    git: GitRepo,
    config: Config,
    *,
    prefixes: tuple[str, ...] | None,
    enrich_all: bool,
    cache: bool = True,
    views: StateCache | None = None,
) -> RegistryState:
    """Read and fold the tags; ``views`` is told when an object the read needed is missing."""
    wanted: list[tuple[RefEntry, TagName]] = []
    ignored: list[RefEntry] = []
    entries = git.tag_refs(prefixes)
    head = git.head()  # before the parsed packed-refs goes: a packed branch is found in it
    git.release_packed_refs()
    if cache and git.index_cache is None:
        git.use_index_cache()
    indexes: dict[str, Index] = {}
    extra: list[Diagnostic] = []
    if git.packed_refs_bad_lines:
        extra.append(
            Diagnostic(
                "packed-refs",
                f"{git.packed_refs_bad_lines} malformed line(s) in packed-refs skipped",
                "error",
            )
        )

    def index_at(commit: str) -> Index:
        data = read_index(git, commit, config.index)
        if data is None:
            if views is not None and not git.surely_absent(commit, config.index):
                views.incomplete()
            return Index()
        key = hashlib.sha1(data).hexdigest()
        if key not in indexes:
            store = git.index_cache
            cached = store.get(key) if store is not None else None
            if cached is not None:
                indexes[key] = Index.from_dict(cached)
            else:
                indexes[key] = parse_index(data, index=config.index, commit=commit)
                if store is not None:
                    store.put(key, indexes[key].to_dict())
        return indexes[key]

    from gto_dulwich.dvc import DvcReader, merge

    dvc_reader = DvcReader(git, cache=cache)
    reported: set[tuple[str, str]] = set()

    def annotations_at(commit: str, index: Index) -> dict[str, Annotation]:
        """``artifacts.yaml`` entries, then artifacts only declared in ``dvc.yaml`` files."""
        found = dvc_reader.read(commit)
        for problem in found.problems:
            if (problem.file, problem.detail) not in reported:
                reported.add((problem.file, problem.detail))
                extra.append(Diagnostic(problem.file, f"at commit {commit[:7]}: {problem.detail}"))
        return merge(index.artifacts, found.annotations())

    # Before the tags: what parsing it frees, the events reuse (100,000 tags: 128 MB peak).
    try:
        head_index = index_at(head) if head else Index()
    except AnnotationsRefused as exc:
        # Over the YAML bounds (a hostile push, not a typo): skip it, read the rest.
        assert head is not None
        extra.append(Diagnostic(head[:7], f"{exc}; annotations skipped", "error"))
        head_index = Index()
    head_annotations = annotations_at(head, head_index) if head else {}
    for entry in entries:
        parsed = parse_ref_name(entry.name)
        if parsed is None:
            ignored.append(entry)
        else:
            wanted.append((entry, parsed))
    loads_cache = cache and git.cache is None and len(wanted) >= CACHE_THRESHOLD
    if loads_cache:
        git.use_cache()
    tag_names = frozenset(entry.name for entry in entries)
    del entries  # `wanted` holds the refs still to read, and lets go of each once read
    log = build_event_log(git.read_tags(wanted, release=True), ignored)
    # The refs and the parsed tag objects are events now: free them before folding.
    del wanted, ignored
    if loads_cache and git.cache is not None:
        git.cache.save()
        git.cache = None

    # Every version at a commit asks for it (10,000 versions on 50 commits at 100,000 tags).
    snapshots: dict[str, CommitSnapshot] = {}

    def snapshot(commit: str) -> CommitSnapshot | None:
        known = snapshots.get(commit)
        if known is not None:
            return known
        info = git.commit_info(commit)
        if info is None:
            if views is not None:
                views.incomplete()
            return None
        if commit == head:
            known = snapshots[commit] = CommitSnapshot(info, dict(head_annotations))
            return known
        try:
            index = index_at(commit)
        except GTOError as exc:  # not kept: each version there reports it, as before
            # GTO fails every read on a corrupt file in any tagged commit; we skip it.
            extra.append(Diagnostic(commit[:7], f"{exc}; annotations skipped", "warning"))
            return CommitSnapshot(info, annotations_at(commit, Index()))
        known = snapshots[commit] = CommitSnapshot(info, annotations_at(commit, index))
        return known

    state = reduce(log, head=head, commits=snapshot, enrich_all=enrich_all)
    git.save_cache()
    dvc_reader.save()
    artifacts = state.artifacts
    if prefixes is not None:  # artifacts.yaml at HEAD may have added others
        artifacts = {n: a for n, a in artifacts.items() if encode_name(n) + "@" in prefixes}
    return replace(
        state,
        artifacts=artifacts,
        diagnostics=state.diagnostics + tuple(extra),
        tag_names=tag_names,
    )


def read_index(git: GitRepo, commit: str, index: str) -> bytes | None:
    """The bytes of ``index`` at ``commit`` (None: absent); one over the YAML size cap is
    refused from its object header, before it is inflated."""
    limit = max_bytes()
    size = git.file_size(commit, index)
    if size is not None and size > limit:
        raise AnnotationsRefused(index, commit, too_large(size, limit))
    return git.read_file(commit, index)


@contextlib.contextmanager
def opened(
    repo: RepoLike, *, artifact: str | None = None, enrich_all: bool = False
) -> Iterator[Registry]:
    """The registry of ``repo`` for the block: read here from a path or ``Repo`` (and closed
    after), or ``repo`` itself when it is an open :class:`Registry` (left open)."""
    if isinstance(repo, Registry):
        yield repo
        return
    with Registry.open(repo, artifact=artifact, enrich_all=enrich_all) as registry:
        yield registry


@contextlib.contextmanager
def git_of(repo: RepoLike) -> Iterator[GitRepo]:
    """The repository of ``repo`` for a write: a :class:`Registry`'s own (left open), or one
    opened from a path or URL (closed after) or around a ``Repo`` (the caller's)."""
    if isinstance(repo, Registry):
        yield repo.git
        return
    git = open_git(repo, write=True)
    try:
        yield git
    finally:
        if isinstance(repo, (str, os.PathLike)):
            git.close()
