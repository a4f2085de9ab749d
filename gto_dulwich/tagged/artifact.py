"""The :class:`Artifact` decorator and :func:`resolve`: read the repository when called, tag
the output path (names from :mod:`gto_dulwich.tagged.naming`), write the provenance sidecar.

Nothing here imports dulwich until a repository is actually read.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, Generic, Literal, ParamSpec, TypeVar, cast, overload

from gto_dulwich.errors import (
    ArtifactArgumentError,
    DirtyWorkTreeError,
    NoCommitsError,
    NotARepository,
    TaggedArtifactError,
    TaggedFileNotFoundError,
    list_files,
)
from gto_dulwich.tagged.naming import (
    COMMIT_LENGTH,
    HASH_LENGTH,
    PROVENANCE_SCHEMA,
    _rename,
    canonical_config,
    provenance_path,
    tagged_name,
)

# The logger keeps the name it had as one module (users configure it by that name).
logger = logging.getLogger("gto_dulwich.tagged")

P = ParamSpec("P")
R = TypeVar("R")
_PurePathT = TypeVar("_PurePathT", bound=PurePath)
_CacheT = TypeVar("_CacheT", bound=bool)

Mode = Literal["write", "read"]
RepoArg = str | os.PathLike[str] | None


# --------------------------------------------------------------------------- errors


class DirtyArtifactWarning(UserWarning):
    """An artifact is being tagged from a dirty work tree (``allow_dirty=True``)."""


# --------------------------------------------------------------------------- repository


@dataclasses.dataclass(frozen=True, slots=True)
class RepoState:
    """What the repository says at one moment: root, HEAD commit, changed files."""

    root: str
    commit: str
    changed: tuple[str, ...]

    @property
    def dirty(self) -> bool:
        return bool(self.changed)


def read_repo_state(repo: RepoArg = None, *, include_untracked: bool = False) -> RepoState:
    """Read HEAD and the changed files of the repository holding ``repo`` (default: cwd).

    The repository is found by walking upward (``Repo.discover``).  Changed
    files are the staged ones (HEAD tree vs index) and the unstaged ones
    (index vs work tree); untracked, not ignored files count only with
    ``include_untracked``.  The index is never written.
    """
    from dulwich import porcelain
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    start = os.fspath(repo) if repo is not None else os.getcwd()
    try:
        found = Repo.discover(start)
    except (NotGitRepository, FileNotFoundError, NotADirectoryError):
        raise NotARepository(start) from None
    with found as r:
        root = os.path.realpath(r.path)
        if r.bare:
            raise TaggedArtifactError(f"Repository '{root}' is bare; tagging needs a work tree")
        try:
            head = r.head()
        except KeyError:
            raise NoCommitsError(root) from None
        status = porcelain.status(
            r, untracked_files="all" if include_untracked else "no", optional_locks=False
        )
    changed: set[str] = set()
    for paths in status.staged.values():
        changed.update(_posix(p) for p in paths)
    changed.update(_posix(p) for p in status.unstaged)
    if include_untracked:
        changed.update(_posix(p) for p in status.untracked)
    return RepoState(root=root, commit=head.decode("ascii"), changed=tuple(sorted(changed)))


def _posix(path: bytes | str) -> str:
    text = os.fsdecode(path)
    return text.replace(os.sep, "/") if os.sep != "/" else text


# --------------------------------------------------------------------------- resolving


@dataclasses.dataclass(frozen=True, slots=True)
class TaggedPath:
    """A resolved artifact path and everything that went into its name."""

    original: str | PurePath
    path: str | PurePath
    commit: str
    changed: tuple[str, ...]
    config: object
    config_hash: str
    canonical_config: str

    @property
    def dirty(self) -> bool:
        return bool(self.changed)


def resolve(
    path: str | os.PathLike[str],
    config: object = None,
    *,
    allow_dirty: bool = False,
    include_untracked: bool = False,
    repo: RepoArg = None,
) -> TaggedPath:
    """Tag ``path`` with the current commit and the hash of ``config`` (``None`` means ``{}``).

    Raises :class:`DirtyWorkTreeError` for a dirty tree unless ``allow_dirty``,
    in which case a :class:`DirtyArtifactWarning` is issued instead.
    """
    return _resolve(path, config, allow_dirty, include_untracked, repo, stacklevel=3)


@overload
def tagged_path(
    path: str,
    config: object = None,
    *,
    allow_dirty: bool = False,
    include_untracked: bool = False,
    repo: RepoArg = None,
) -> str: ...
@overload
def tagged_path(
    path: _PurePathT,
    config: object = None,
    *,
    allow_dirty: bool = False,
    include_untracked: bool = False,
    repo: RepoArg = None,
) -> _PurePathT: ...
def tagged_path(
    path: str | PurePath,
    config: object = None,
    *,
    allow_dirty: bool = False,
    include_untracked: bool = False,
    repo: RepoArg = None,
) -> str | PurePath:
    """:func:`resolve` and return only the tagged path (``str`` in, ``str`` out)."""
    return _resolve(path, config, allow_dirty, include_untracked, repo, stacklevel=3).path


def _resolve(
    path: object,
    config: object,
    allow_dirty: bool,
    include_untracked: bool,
    repo: RepoArg,
    *,
    stacklevel: int,
) -> TaggedPath:
    # The config first: a bad value is reported even outside a repository.
    if config is None:
        config = {}
    canonical = canonical_config(config)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    _rename(path, lambda name: name)  # reject unusable paths before touching git
    state = read_repo_state(repo, include_untracked=include_untracked)
    if state.dirty and not allow_dirty:
        raise DirtyWorkTreeError(state.root, state.changed)
    tagged = _rename(
        path,
        lambda name: tagged_name(name, commit=state.commit, config_hash=digest, dirty=state.dirty),
    )
    if state.dirty:
        warnings.warn(
            DirtyArtifactWarning(
                f"Working tree of '{state.root}' has uncommitted changes "
                f"({list_files(state.changed)}); tagging as '{os.fspath(tagged)}'"
            ),
            stacklevel=stacklevel,
        )
    logger.debug(
        "%s -> %s (commit %s%s, config %s)",
        os.fspath(cast("str | PurePath", path)),
        os.fspath(tagged),
        state.commit,
        ", dirty" if state.dirty else "",
        digest,
    )
    return TaggedPath(
        original=cast("str | PurePath", path),
        path=tagged,
        commit=state.commit,
        changed=state.changed,
        config=config,
        config_hash=digest,
        canonical_config=canonical,
    )


# --------------------------------------------------------------------------- decorator


class Artifact(Generic[_CacheT]):
    """Decorator: rewrite a function's output path to its tagged name at call time.

    ``keyword`` names the parameter that holds the path; it may be passed by
    keyword or by position (or come from the parameter's default).
    ``config`` (usually a mapping; any value :func:`canonical_config` accepts,
    such as a dataclass) is hashed into the name (``None`` means ``{}``).  A dirty work
    tree is an error unless ``allow_dirty``; untracked files count only with
    ``include_untracked``.  ``repo`` is where to look for the repository
    (default: the current directory at call time).

    ``mode="read"`` resolves the same name and raises
    :class:`TaggedFileNotFoundError` when it does not exist.  ``cache=True``
    does not call the function when the tagged output already exists for a
    clean tree (and then returns ``None``).  ``record=True`` writes the
    provenance sidecar ``<tagged name>.provenance.json`` after the function
    returns; with both, the cache also needs the sidecar, so an output left
    half-written by a crash is not reused.
    """

    @overload
    def __init__(
        self: Artifact[Literal[False]],
        keyword: str = "outpath",
        config: object = None,
        allow_dirty: bool = False,
        *,
        mode: Mode = "write",
        include_untracked: bool = False,
        cache: Literal[False] = False,
        record: bool = False,
        repo: RepoArg = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Artifact[Literal[True]],
        keyword: str = "outpath",
        config: object = None,
        allow_dirty: bool = False,
        *,
        mode: Mode = "write",
        include_untracked: bool = False,
        cache: Literal[True],
        record: bool = False,
        repo: RepoArg = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Artifact[bool],
        keyword: str = "outpath",
        config: object = None,
        allow_dirty: bool = False,
        *,
        mode: Mode = "write",
        include_untracked: bool = False,
        cache: bool,
        record: bool = False,
        repo: RepoArg = None,
    ) -> None: ...
    def __init__(
        self,
        keyword: str = "outpath",
        config: object = None,
        allow_dirty: bool = False,
        *,
        mode: Mode = "write",
        include_untracked: bool = False,
        cache: bool = False,
        record: bool = False,
        repo: RepoArg = None,
    ) -> None:
        if mode not in ("write", "read"):
            raise ValueError(f"mode must be 'write' or 'read', not {mode!r}")
        if mode == "read" and (cache or record):
            raise ValueError("cache and record apply to mode='write' only")
        self.keyword = keyword
        self.config: object = {} if config is None else config
        self.allow_dirty = allow_dirty
        self.mode: Mode = mode
        self.include_untracked = include_untracked
        self.cache = cache
        self.record = record
        self.repo = repo
        # Fail now, not at the first call, for a config that cannot be hashed.
        canonical_config(self.config)

    def __repr__(self) -> str:
        return (
            f"Artifact(keyword={self.keyword!r}, config={self.config!r}, "
            f"allow_dirty={self.allow_dirty!r}, mode={self.mode!r}, "
            f"include_untracked={self.include_untracked!r}, cache={self.cache!r}, "
            f"record={self.record!r}, repo={self.repo!r})"
        )

    @overload
    def __call__(self: Artifact[Literal[False]], func: Callable[P, R]) -> Callable[P, R]: ...
    @overload
    def __call__(self: Artifact[Literal[True]], func: Callable[P, R]) -> Callable[P, R | None]: ...
    @overload
    def __call__(self: Artifact[bool], func: Callable[P, R]) -> Callable[P, R | None]: ...
    def __call__(self, func: Callable[P, R]) -> Callable[P, R | None]:
        signature = inspect.signature(func)
        where = _locate(func, signature, self.keyword)
        if (self.cache or self.record) and (
            inspect.iscoroutinefunction(func)
            or inspect.isgeneratorfunction(func)
            or inspect.isasyncgenfunction(func)
        ):
            raise ArtifactArgumentError(
                f"{_describe(func)}: cache and record need a function that has written "
                "its output when it returns (not a coroutine or generator function)"
            )

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            original = _get_argument(func, bound, where, self.keyword)
            resolved = _resolve(
                original,
                self.config,
                self.allow_dirty,
                self.include_untracked,
                self.repo,
                stacklevel=3,
            )
            _set_argument(bound, where, self.keyword, resolved.path)
            if self.mode == "read":
                if not os.path.exists(resolved.path):
                    raise TaggedFileNotFoundError(
                        os.fspath(resolved.original), os.fspath(resolved.path)
                    )
            elif self.cache and _cache_hit(resolved, self.record, func):
                return None
            result = func(*bound.args, **bound.kwargs)
            if self.record:
                _write_provenance(resolved, func)
            return result

        wrapper.artifact = self  # type: ignore[attr-defined]
        return wrapper


def _describe(func: Callable[..., object]) -> str:
    return f"{getattr(func, '__qualname__', repr(func))}()"


def _locate(func: Callable[..., object], signature: inspect.Signature, keyword: str) -> str | None:
    """Where the path argument lives: ``None`` for a named parameter, else the ``**kwargs`` name."""
    parameter = signature.parameters.get(keyword)
    if parameter is not None:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ArtifactArgumentError(
                f"{_describe(func)}: Artifact(keyword={keyword!r}) must name a parameter, "
                "not *args or **kwargs"
            )
        return None
    for candidate in signature.parameters.values():
        if candidate.kind is candidate.VAR_KEYWORD:
            return candidate.name
    raise ArtifactArgumentError(
        f"{_describe(func)} has no parameter {keyword!r} (Artifact(keyword={keyword!r}))"
    )


def _get_argument(
    func: Callable[..., object], bound: inspect.BoundArguments, where: str | None, keyword: str
) -> object:
    if where is None:
        value = bound.arguments.get(keyword)
    else:
        value = bound.arguments.get(where, {}).get(keyword)
    if value is None:
        raise ArtifactArgumentError(
            f"{_describe(func)} was called without its artifact path {keyword!r} "
            f"(Artifact(keyword={keyword!r})); pass it by keyword or by position"
        )
    return value


def _set_argument(
    bound: inspect.BoundArguments, where: str | None, keyword: str, value: object
) -> None:
    if where is None:
        bound.arguments[keyword] = value
    else:
        bound.arguments[where] = {**bound.arguments[where], keyword: value}


def _cache_hit(resolved: TaggedPath, record: bool, func: Callable[..., object]) -> bool:
    name = _describe(func)
    if resolved.dirty:
        logger.info("cache not used for %s: the working tree is dirty; calling %s", name, name)
        return False
    if not os.path.exists(resolved.path):
        logger.info("cache miss: %s does not exist; calling %s", os.fspath(resolved.path), name)
        return False
    if record and not os.path.exists(provenance_path(resolved.path)):
        logger.info(
            "cache miss: %s exists but has no provenance sidecar; calling %s again",
            os.fspath(resolved.path),
            name,
        )
        return False
    logger.info(
        "cache hit: %s already exists for commit %s and config %s; not calling %s",
        os.fspath(resolved.path),
        resolved.commit[:COMMIT_LENGTH],
        resolved.config_hash[:HASH_LENGTH],
        name,
    )
    return True


# --------------------------------------------------------------------------- provenance


def _plain(value: object) -> Any:
    """A readable JSON rendering of a config (lossy; the canonical form is stored too)."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, PurePath):
        return value.as_posix()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str) else json.dumps(_plain(key)): _plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return repr(value)  # unreachable for hashable configs


def _write_provenance(resolved: TaggedPath, func: Callable[..., object]) -> None:
    from gto_dulwich import __version__

    target = provenance_path(resolved.path)
    record = {
        "schema": PROVENANCE_SCHEMA,
        "path": os.fspath(resolved.original),
        "tagged_path": os.fspath(resolved.path),
        "commit": resolved.commit,
        "dirty": resolved.dirty,
        "changed_files": list(resolved.changed),
        "config": _plain(resolved.config),
        "config_canonical": resolved.canonical_config,
        "config_hash": resolved.config_hash,
        "function": f"{getattr(func, '__module__', '?')}.{_describe(func)[:-2]}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "generator": f"gto_dulwich {__version__}",
    }
    text = json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    from gto_dulwich.locks import replace_file

    replace_file(Path(os.fspath(target)), text.encode("utf-8"))
    logger.debug("wrote provenance %s", os.fspath(target))
