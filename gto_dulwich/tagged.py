"""Tagged artifacts: write ``plot.png``, get ``plot-<commit>-<config hash>.png``.

A function decorated with :class:`Artifact` receives, instead of the output
path it was called with, a path whose file name also carries the current
commit and a hash of a configuration::

    plot.png  ->  plot-1a2b3c4-5d6e7f8a9b.png            (clean tree)
    plot.png  ->  plot-1a2b3c4-dirty-5d6e7f8a9b.png      (dirty tree, allow_dirty=True)

Everything is read when the function is *called*, never when it is decorated
or imported: the repository holding the current directory (or ``repo=``), its
HEAD commit and whether the work tree is dirty, all with dulwich (no git
binary).  The configuration hash is a SHA-256 of a canonical serialisation
(:func:`canonical_config`), so it is the same in every process, on every
machine and with every Python version; an unsupported value is an error, never
a silent ``repr``.  The exact scheme is written down in
``docs/tagged-artifacts.md`` (the README's "Tagged artifacts" section) so
that other tools can rebuild a name.

Nothing here imports dulwich until a repository is actually read.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import itertools
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
    UnsupportedConfigValue,
    list_files,
)

__all__ = [
    "COMMIT_LENGTH",
    "COMPRESSION_SUFFIXES",
    "DIRTY_MARKER",
    "HASH_LENGTH",
    "PROVENANCE_SCHEMA",
    "PROVENANCE_SUFFIX",
    "Artifact",
    "ArtifactArgumentError",
    "DirtyArtifactWarning",
    "DirtyWorkTreeError",
    "NoCommitsError",
    "RepoState",
    "TaggedArtifactError",
    "TaggedFileNotFoundError",
    "TaggedPath",
    "UnsupportedConfigValue",
    "canonical_config",
    "config_hash",
    "provenance_path",
    "read_repo_state",
    "resolve",
    "split_suffix",
    "tagged_name",
    "tagged_path",
]

logger = logging.getLogger(__name__)

#: Characters of the commit id that go into a name (always exactly this many).
COMMIT_LENGTH = 7
#: Hex characters of the SHA-256 config hash that go into a name.
HASH_LENGTH = 10
#: Marker placed right after the commit when the work tree is dirty.
DIRTY_MARKER = "dirty"
#: A last suffix in this set (compared in lower case) keeps the suffix before it:
#: ``model.tar.gz`` -> ``.tar.gz``, ``data.csv.zst`` -> ``.csv.zst``.
COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".br", ".z"})
#: Appended to the tagged file name to name its provenance sidecar.
PROVENANCE_SUFFIX = ".provenance.json"
#: The ``schema`` field of a provenance sidecar.
PROVENANCE_SCHEMA = "gto_dulwich.tagged/1"

P = ParamSpec("P")
R = TypeVar("R")
_PurePathT = TypeVar("_PurePathT", bound=PurePath)
_CacheT = TypeVar("_CacheT", bound=bool)

Mode = Literal["write", "read"]
RepoArg = str | os.PathLike[str] | None


# --------------------------------------------------------------------------- errors


class DirtyArtifactWarning(UserWarning):
    """An artifact is being tagged from a dirty work tree (``allow_dirty=True``)."""


# --------------------------------------------------------------------------- config hash


def canonical_config(value: object) -> str:
    """The canonical serialisation of ``value`` (scheme 1), as text.

    Every value becomes a two-element JSON array ``[type, payload]``:

    ============================  ==================================================
    ``None``                      ``["none",null]``
    ``bool``                      ``["bool",true]`` / ``["bool",false]``
    ``int``                       ``["int","<decimal>"]``
    ``float``                     ``["float","<repr>"]`` (``nan``, ``inf``, ``-inf``)
    ``str``                       ``["str","<text>"]``
    ``bytes``/``bytearray``       ``["bytes","<lower-case hex>"]``
    ``PurePath``                  ``["path","<as_posix()>"]``
    ``list``                      ``["list",[<item>,...]]``
    ``tuple``                     ``["tuple",[<item>,...]]``
    ``Mapping``                   ``["dict",[[<key>,<value>],...]]`` sorted by key
    ``Enum`` member               ``["enum",["<class qualname>",<value>]]``
    dataclass instance            ``["dataclass",["<qualname>",[["<field>",<value>],...]]]``
    ============================  ==================================================

    Mapping entries are sorted by the UTF-8 bytes of their serialised key;
    dataclass fields by name.  The JSON text has no whitespace and no ASCII
    escaping (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``).
    Anything else raises :class:`UnsupportedConfigValue` naming where it is.
    """
    return _dump(_encode(value, "config", frozenset()))


def config_hash(value: object) -> str:
    """SHA-256 (64 hex digits) of the UTF-8 bytes of :func:`canonical_config`."""
    return hashlib.sha256(canonical_config(value).encode("utf-8")).hexdigest()


def _dump(encoded: object) -> str:
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedConfigValue(
            where, "string is not valid Unicode (lone surrogate)"
        ) from None
    return str.__str__(value)


def _encode(value: object, where: str, active: frozenset[int]) -> list[Any]:
    # Order matters: enums before their mixed-in types, bool before int.
    if value is None:
        return ["none", None]
    if isinstance(value, enum.Enum):
        inner = _encode(value.value, f"{where}.value", active)
        return ["enum", [type(value).__qualname__, inner]]
    if isinstance(value, bool):
        return ["bool", bool(value)]
    if isinstance(value, int):
        return ["int", int.__repr__(value)]
    if isinstance(value, float):
        return ["float", float.__repr__(value)]
    if isinstance(value, str):
        return ["str", _text(value, where)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, PurePath):
        return ["path", _text(value.as_posix(), where)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner_active = _enter(value, where, active)
        fields = sorted(dataclasses.fields(value), key=lambda f: f.name)
        items = [
            [f.name, _encode(getattr(value, f.name), f"{where}.{f.name}", inner_active)]
            for f in fields
        ]
        return ["dataclass", [type(value).__qualname__, items]]
    if isinstance(value, Mapping):
        inner_active = _enter(value, where, active)
        entries: list[tuple[bytes, list[Any], list[Any]]] = []
        for key, item in value.items():
            key_where = f"a key of {where}"
            encoded_key = _encode(key, key_where, inner_active)
            encoded_item = _encode(item, f"{where}[{key!r}]", inner_active)
            entries.append((_dump(encoded_key).encode("utf-8"), encoded_key, encoded_item))
        entries.sort(key=lambda entry: entry[0])
        for before, after in itertools.pairwise(entries):
            if before[0] == after[0]:
                raise UnsupportedConfigValue(where, "two keys serialise identically")
        return ["dict", [[key, item] for _, key, item in entries]]
    if isinstance(value, list | tuple):
        inner_active = _enter(value, where, active)
        items = [_encode(item, f"{where}[{i}]", inner_active) for i, item in enumerate(value)]
        return ["list" if isinstance(value, list) else "tuple", items]
    kind = type(value)
    hint = ""
    if isinstance(value, set | frozenset):
        hint = " (use a sorted list)"
    elif hasattr(value, "item") and hasattr(value, "dtype"):
        hint = " (convert it with .item() or .tolist())"
    raise UnsupportedConfigValue(
        where, f"unsupported type '{kind.__module__}.{kind.__qualname__}'{hint}"
    )


# Deeper configs are refused rather than risking a RecursionError (``--set`` takes JSON).
_MAX_DEPTH = 100


def _enter(container: object, where: str, active: frozenset[int]) -> frozenset[int]:
    if id(container) in active:
        raise UnsupportedConfigValue(where, "the value contains itself")
    if len(active) >= _MAX_DEPTH:
        raise UnsupportedConfigValue(where, f"nested more than {_MAX_DEPTH} levels deep")
    return active | {id(container)}


# --------------------------------------------------------------------------- names


def split_suffix(name: str) -> tuple[str, str]:
    """Split a file name into the stem and the suffix the tags go in front of.

    The suffix is the last ``.xxx`` (as :attr:`pathlib.PurePath.suffix`:
    leading dots belong to the stem, a trailing dot is no suffix); when that
    last suffix is a compression suffix (:data:`COMPRESSION_SUFFIXES`), the
    one before it is kept too.  ``plot.png`` -> ``("plot", ".png")``,
    ``model.tar.gz`` -> ``("model", ".tar.gz")``, ``Makefile`` ->
    ``("Makefile", "")``, ``run.2024.01.csv`` -> ``("run.2024.01", ".csv")``,
    ``.env`` -> ``(".env", "")``.
    """
    if name in ("", ".", "..") or "/" in name or (os.sep != "/" and os.sep in name):
        raise ValueError(f"Cannot tag the file name {name!r}")
    body_start = len(name) - len(name.lstrip("."))
    body = name[body_start:]
    last = body.rfind(".")
    if last <= 0 or last == len(body) - 1:
        return name, ""
    start = last
    if body[last:].lower() in COMPRESSION_SUFFIXES:
        previous = body.rfind(".", 0, last)
        if previous > 0 and previous < last - 1:
            start = previous
    return name[: body_start + start], name[body_start + start :]


def tagged_name(name: str, *, commit: str, config_hash: str, dirty: bool = False) -> str:
    """The tagged form of one file name: ``<stem>-<commit7>[-dirty]-<hash10><suffix>``.

    ``commit`` is a full (or at least 7-character) hex commit id and
    ``config_hash`` the 64-digit :func:`config_hash`; both are cut to
    :data:`COMMIT_LENGTH` and :data:`HASH_LENGTH` characters.
    """
    if len(commit) < COMMIT_LENGTH or len(config_hash) < HASH_LENGTH:
        raise ValueError("commit and config_hash are too short to build a tagged name")
    stem, suffix = split_suffix(name)
    marker = f"-{DIRTY_MARKER}" if dirty else ""
    return f"{stem}-{commit[:COMMIT_LENGTH]}{marker}-{config_hash[:HASH_LENGTH]}{suffix}"


def _rename(path: object, new_name: Callable[[str], str]) -> str | PurePath:
    """Apply ``new_name`` to the last component of ``path``, keeping its type and parent."""
    if isinstance(path, str):
        separators = os.sep + (os.altsep or "")
        trimmed = path.rstrip(separators)
        trailing = path[len(trimmed) :]
        head, tail = os.path.split(trimmed)
        if not tail:
            raise ValueError(f"Cannot tag the path {path!r}: it has no file name")
        return os.path.join(head, new_name(tail)) + trailing
    if isinstance(path, PurePath):
        if not path.name:
            raise ValueError(f"Cannot tag the path {str(path)!r}: it has no file name")
        return path.with_name(new_name(path.name))
    if isinstance(path, os.PathLike):
        text = os.fspath(path)
        if isinstance(text, str):
            return _rename(Path(text), new_name)
    raise TypeError(f"Expected a str or os.PathLike[str] path, got {type(path).__name__}")


@overload
def provenance_path(path: str) -> str: ...
@overload
def provenance_path(path: _PurePathT) -> _PurePathT: ...
def provenance_path(path: str | PurePath) -> str | PurePath:
    """The provenance sidecar of a *tagged* path: ``<tagged name>.provenance.json``."""
    return _rename(path, lambda name: name + PROVENANCE_SUFFIX)


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
