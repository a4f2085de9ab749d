"""Artifacts declared in DVC's files, read from git objects with no DVC and no checkout.

Since DVC 3, artifacts live in the ``artifacts:`` section of ``dvc.yaml``.  This
module reads them at any commit the way DVC does:

* every ``dvc.yaml`` of the tree, skipping ``.git/``, ``.dvc/`` and paths that
  ``.dvcignore`` files exclude (gitignore syntax, the subset DVC's patterns use);
* a subdirectory holding its own ``.dvc/`` is a nested DVC project: the root's
  walk does not enter it (as DVC does not), and it is read as a project of its
  own, with its own ``.dvcignore`` and ``.dvc/config``;
* an artifact ``ID`` declared in ``a/b/dvc.yaml`` is named ``a/b:ID`` (tag
  ``a/b=ID@...``), the directory taken from the git root; its ``path`` is
  relative to that ``dvc.yaml`` and is returned repo-relative.

A repository whose root tree has no ``.dvc/``, ``dvc.yaml`` nor ``.dvcignore``
is not a DVC project: nothing below it is walked, so GTO-only registries pay
one tree read.  Trees are walked once per tree id and parsed files once per
blob id (both kept in ``gto_dulwich-dvc.json`` in the git directory, like the
other caches).  A bad file or entry never fails a read: it becomes a
:class:`Problem` naming the file, the commit and what is wrong, and that
artifact's enrichment is skipped.

:func:`dvc_output` answers "where does this artifact's data live": its entry in
the ``dvc.lock`` beside its ``dvc.yaml`` or in ``<path>.dvc``, and the address in
remote storage that ``dvc get --show-url`` prints.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gto_dulwich.annotations import Annotation
from gto_dulwich.cache import _Store
from gto_dulwich.grammar import is_valid_name

if TYPE_CHECKING:
    from gto_dulwich.repo import GitRepo

PROJECT_FILE = "dvc.yaml"
LOCK_FILE = "dvc.lock"
IGNORE_FILE = ".dvcignore"
DVC_DIR = ".dvc"
CACHE_FILE_NAME = "gto_dulwich-dvc.json"
#: A .dvcignore larger than this is not read (YAML files have yamlsafe's cap).
MAX_FILE_BYTES = 1 << 20
#: Folders nested deeper than this are not searched for dvc.yaml files.
MAX_DEPTH = 100
_KEYS = frozenset({"path", "desc", "type", "labels", "meta"})
_DIR_MODE = 0o040000
_FILE_MODES = (0o100644, 0o100755)


# -- records -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DvcOutput:
    """A DVC-tracked output and where its data lives (the contract with ``gto get``)."""

    path: str  # repo-relative path of the output
    md5: str  # as written in dvc.lock/.dvc, ".dir" suffix kept for directories
    size: int | None
    nfiles: int | None
    is_dir: bool
    dvc3: bool  # entry has `hash: md5` -> files/md5/ layout
    remote: str | None  # remote name used (output's own `remote:` or core.remote)
    remote_url: str | None  # that remote's url as DVC resolves it
    url: str | None  # object address exactly as `dvc get --show-url` prints; None if no remote
    source: str  # repo-relative file it came from ("a/dvc.lock", "data/x.dvc")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "md5": self.md5,
            "size": self.size,
            "nfiles": self.nfiles,
            "is_dir": self.is_dir,
            "dvc3": self.dvc3,
            "remote": self.remote,
            "remote_url": self.remote_url,
            "url": self.url,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in a DVC file we could not use: one line naming file, commit and problem."""

    file: str
    commit: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file} at commit {self.commit[:7]}: {self.detail}"


@dataclass(frozen=True, slots=True)
class DvcArtifact:
    """One artifact of a ``dvc.yaml``: its full name and the annotation it gives."""

    name: str
    annotation: Annotation  # path repo-relative, source = the dvc.yaml
    project: str  # the DVC project's directory ("" for the root), for .dvc/config


@dataclass(frozen=True, slots=True)
class DvcCommit:
    """Everything the ``dvc.yaml`` files of one commit declare, in DVC's reading order."""

    artifacts: Mapping[str, DvcArtifact] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    projects: tuple[str, ...] = ()  # DVC project directories, "" for the root

    def annotations(self) -> dict[str, Annotation]:
        return {name: art.annotation for name, art in self.artifacts.items()}


def merge(
    index: Mapping[str, Annotation], declared: Mapping[str, Annotation]
) -> dict[str, Annotation]:
    """``artifacts.yaml`` entries (file order), then ``dvc.yaml`` artifacts it does not name.

    When both declare a name, the ``artifacts.yaml`` entry wins whole: no field
    mixing, so every answer comes from one file (``Annotation.source``), and a
    registry GTO reads answers exactly as in GTO.
    """
    if not declared:
        return dict(index)
    merged = dict(index)
    for name, annotation in declared.items():
        merged.setdefault(name, annotation)
    return merged


def object_url(remote_url: str, md5: str, dvc3: bool) -> str:
    """The address of object ``md5`` in a remote, DVC 3 (``files/md5/``) or DVC 2 layout."""
    base = remote_url.rstrip("/")
    if dvc3:
        base += "/files/md5"
    return f"{base}/{md5[:2]}/{md5[2:]}"


# -- .dvcignore ----------------------------------------------------------------------


class _Rule(NamedTuple):  # private records are named tuples: cheap to define at start-up
    base: str  # directory of the .dvcignore, "" or "a/b/"
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """A gitignore glob (already stripped of ``!`` and a trailing ``/``) as a regex body."""
    anchored = "/" in pattern
    pattern = pattern.lstrip("/") if pattern.startswith("/") else pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    if not anchored:
        out.append("(?:.*/)?")
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif char == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def parse_ignore(text: str, base: str = "") -> list[_Rule]:
    """The rules of one ``.dvcignore`` in directory ``base`` (``""`` or ``"a/b/"``).

    The subset of gitignore DVC's patterns use (checked against DVC's own matcher,
    ``fixtures/dvc/dvcignore.json``): comments, ``\\#``/``\\!`` escapes,
    ``!`` negation, a trailing ``/`` for directories only, a ``/`` anywhere but at
    the end anchoring to the file's directory, ``*``, ``?``, ``[...]`` and ``**``.
    """
    rules: list[_Rule] = []
    for raw in text.splitlines():
        # DVC strips every line whole (leading spaces and escaped trailing ones too).
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        try:
            regex = re.compile(_translate(line), re.S)
        except re.error:
            continue  # git ignores a pattern it cannot read; so do we
        rules.append(_Rule(base, regex, negate, dir_only))
    return rules


def is_ignored(rules: Iterable[_Rule], path: str, is_dir: bool) -> bool:
    """Whether the last rule matching ``path`` (repo-relative) excludes it."""
    ignored = False
    for rule in rules:
        if not path.startswith(rule.base):
            continue
        if rule.dir_only and not is_dir:
            continue
        if rule.regex.fullmatch(path[len(rule.base) :]):
            ignored = not rule.negate
    return ignored


# -- YAML, bounded -----------------------------------------------------------------------


class _Bad(Exception):
    """A DVC file or entry we cannot use (internal: becomes a :class:`Problem`)."""


def load_yaml(data: bytes, where: str) -> Any:
    """Safe-load a DVC file within :mod:`gto_dulwich.yamlsafe`'s bounds (size, depth, aliases)."""
    from gto_dulwich.errors import YAMLError, YAMLRefused
    from gto_dulwich.yamlsafe import load_yaml_bounded

    try:
        return load_yaml_bounded(data, where=where)
    except YAMLRefused as exc:
        raise _Bad(exc.reason) from None
    except YAMLError as exc:
        # ruamel's own error (kept as the context) says where and what; yamlsafe's line does not.
        cause = exc.__context__
        problem = getattr(cause, "problem", None)
        found = re.search(r'found duplicate key "([^"]*)"', str(problem or ""))
        if found:
            raise _Bad(f"duplicate key '{found.group(1)}' (invalid YAML)") from None
        mark = getattr(cause, "problem_mark", None)
        if problem and mark is not None:
            where_in = f"line {mark.line + 1}, column {mark.column + 1}"
            raise _Bad(f"invalid YAML at {where_in}: {' '.join(str(problem).split())}") from None
        raise _Bad(exc.reason) from None


def _has_interpolation(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "${" in value
    if depth > 50:
        return False
    if isinstance(value, dict):
        return any(
            _has_interpolation(k, depth + 1) or _has_interpolation(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_interpolation(v, depth + 1) for v in value)
    return False


def _join(directory: str, path: str) -> str | None:
    """``path`` relative to ``directory`` as a normalised repo-relative path (None: outside)."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return None
    joined = posixpath.normpath(posixpath.join(directory, path))
    if joined in (".", "..") or joined.startswith("../"):
        return None
    return joined


# -- dvc.yaml ------------------------------------------------------------------------------


def parse_dvcyaml(data: bytes, dvcfile: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The artifacts of one ``dvc.yaml`` as ``(full name, fields)`` and its problems.

    ``fields`` hold ``path`` (repo-relative), ``type``, ``description``, ``labels``,
    ``custom`` (DVC's ``meta``) and ``remotes`` (``{output path: remote}`` from the
    file's stages, for :func:`dvc_output`).  Plain data, so it can be cached.
    """
    directory = posixpath.dirname(dvcfile)
    try:
        raw = load_yaml(data, dvcfile)
    except _Bad as exc:
        return [], [str(exc)]
    if raw is None:
        return [], []
    if not isinstance(raw, dict):
        return [], ["the top level must be a mapping"]
    problems: list[str] = []
    section = raw.get("artifacts")
    found: list[tuple[str, dict[str, Any]]] = []
    if section is not None and not isinstance(section, dict):
        return [], ["'artifacts' must be a mapping of artifact IDs"]
    for ident, entry in (section or {}).items():
        try:
            name, fields = _artifact(directory, ident, entry)
        except _Bad as exc:
            problems.append(f"artifact '{ident}': {exc}; skipped")
            continue
        found.append((name, fields))
    remotes = _output_remotes(raw.get("stages"), directory)
    if remotes:
        for _name, fields in found:
            fields["remotes"] = remotes
    return found, problems


def _artifact(directory: str, ident: Any, entry: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(ident, str):
        raise _Bad("the ID must be a string")
    if "${" in ident:
        raise _Bad("uses ${...} interpolation, which is not resolved here")
    if not is_valid_name(ident):
        raise _Bad("not a valid artifact ID (letters, digits, '-', '_', '/')")
    if not isinstance(entry, dict):
        raise _Bad("the entry must be a mapping")
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        raise _Bad(f"unknown field(s) {', '.join(unknown)}")
    if _has_interpolation(entry):
        raise _Bad("uses ${...} interpolation, which is not resolved here")
    path = entry.get("path")
    if path is None:
        raise _Bad("'path' is required")
    if not isinstance(path, str):
        raise _Bad("'path' must be a string")
    joined = _join(directory, path)
    if joined is None:
        raise _Bad(f"path '{path}' is outside the repository")
    for key in ("desc", "type"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise _Bad(f"'{key}' must be a string")
    labels = entry.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise _Bad("'labels' must be a list of strings")
    name = f"{directory}:{ident}" if directory else ident
    return name, {
        "path": joined,
        "type": entry.get("type"),
        "description": entry.get("desc") or "",
        "labels": list(labels),
        "custom": entry.get("meta"),
    }


def _output_remotes(stages: Any, directory: str) -> dict[str, str]:
    """``{repo-relative output: remote}`` for stage outputs declared with ``remote:``."""
    remotes: dict[str, str] = {}
    if not isinstance(stages, dict):
        return remotes
    for stage in stages.values():
        outs = stage.get("outs") if isinstance(stage, dict) else None
        for out in outs if isinstance(outs, list) else []:
            if not isinstance(out, dict):
                continue
            for out_path, options in out.items():
                if isinstance(out_path, str) and isinstance(options, dict):
                    remote = options.get("remote")
                    joined = _join(directory, out_path)
                    if isinstance(remote, str) and joined is not None:
                        remotes[joined] = remote
    return remotes


# -- reading a commit -------------------------------------------------------------------


class _Cache(_Store):
    """Walked trees and parsed DVC files, by object id (objects never change)."""

    section = "dvc"
    # Bumped whenever what a parse returns changes: old entries are then ignored.
    version = 4


class _Walk(NamedTuple):
    files: tuple[tuple[str, str], ...]  # (repo-relative dvc.yaml, blob id)
    nested: tuple[tuple[str, str], ...]  # (project directory, tree id)


class DvcReader:
    """Reads DVC files from one repository; memoises per tree and blob id."""

    def __init__(self, git: GitRepo, *, cache: bool = True) -> None:
        self.git = git
        self._subtrees: dict[
            tuple[str, str, tuple[_Rule, ...], bool],
            tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]],
        ] = {}
        self._parsed: dict[tuple[str, str], tuple[list[tuple[str, dict[str, Any]]], list[str]]] = {}
        self._commits: dict[str, DvcCommit] = {}
        self.too_deep: set[str] = set()
        self._built: dict[Any, tuple[dict[str, DvcArtifact], list[tuple[str, str]]]] = {}
        self._store: _Cache | None = None
        if cache and not git.is_remote:
            self._store = _Cache(git.commondir / CACHE_FILE_NAME)

    def save(self) -> None:
        if self._store is not None:
            self._store.save()

    # -- the walk -------------------------------------------------------------------

    def read(self, commit: str) -> DvcCommit:
        """Every artifact the ``dvc.yaml`` files of ``commit`` declare, and the problems."""
        if commit in self._commits:
            return self._commits[commit]
        tree = self.git.commit_tree(commit)
        result = DvcCommit()
        if tree is not None and self._is_project(tree):
            result = self._read_projects(commit, tree)
        self._commits[commit] = result
        return result

    def is_project(self, commit: str) -> bool:
        """Whether ``commit``'s root holds a DVC project (``.dvc/``, ``dvc.yaml`` or
        ``.dvcignore``): one tree read, so a repository without DVC costs nothing more."""
        tree = self.git.commit_tree(commit)
        return tree is not None and self._is_project(tree)

    def _is_project(self, tree: str) -> bool:
        entries = self.git.tree_entries(tree) or []
        return any(name in (DVC_DIR, PROJECT_FILE, IGNORE_FILE) for name, _m, _s in entries)

    def _read_projects(self, commit: str, root: str) -> DvcCommit:
        files: list[tuple[str, str]] = []
        projects = [("", root)]
        seen = 0
        while seen < len(projects):
            project, tree = projects[seen]
            seen += 1
            walk = self._walk_project(project, tree)
            files.extend(walk.files)
            # Each nested project is deeper than the one holding it, so this ends; the
            # check keeps a damaged cache entry from looping.
            projects.extend((p, t) for p, t in walk.nested if len(p) > len(project))
        # DVC reads the top-level file first; then by path.
        files.sort(key=lambda item: (posixpath.dirname(item[0]) != "", item[0]))
        dirs = tuple(p for p, _t in projects)
        # Commits that differ elsewhere (the usual case) share the same DVC files.
        key = (tuple(files), dirs, frozenset(self.too_deep))
        if key not in self._built:
            self._built[key] = self._annotate(files, dirs)
        artifacts, faults = self._built[key]
        problems = tuple(Problem(file, commit, detail) for file, detail in faults)
        return DvcCommit(artifacts, problems, dirs)

    def _annotate(
        self, files: list[tuple[str, str]], dirs: tuple[str, ...]
    ) -> tuple[dict[str, DvcArtifact], list[tuple[str, str]]]:
        project_dirs = sorted(dirs, key=len, reverse=True)
        artifacts: dict[str, DvcArtifact] = {}
        problems: list[tuple[str, str]] = [
            (path, f"nested more than {MAX_DEPTH} folders deep; not searched")
            for path in sorted(self.too_deep)
        ]
        for dvcfile, blob in files:
            found, bad = self._parse(dvcfile, blob)
            problems.extend((dvcfile, detail) for detail in bad)
            project = next(
                (p for p in project_dirs if not p or dvcfile.startswith(p + "/")),
                "",
            )
            for name, fields in found:
                if name in artifacts:
                    problems.append((dvcfile, f"artifact '{name}' is declared twice; skipped"))
                    continue
                annotation = Annotation(
                    type=fields["type"],
                    path=fields["path"],
                    labels=tuple(fields["labels"]),
                    description=fields["description"],
                    custom=fields["custom"],
                    source=dvcfile,
                )
                artifacts[name] = DvcArtifact(name, annotation, project)
        return artifacts, problems

    def _walk_project(self, project: str, tree: str) -> _Walk:
        key = f"t {tree} {project}"
        if self._store is not None:
            hit: Any = self._store.data.get(key)
            if _valid_walk(hit):
                return _Walk(
                    tuple((f, b) for f, b in hit["files"]),
                    tuple((d, t) for d, t in hit["nested"]),
                )
        files: list[tuple[str, str]] = []
        nested: list[tuple[str, str]] = []
        prefix = project + "/" if project else ""
        self._walk(tree, prefix, (), files, nested, top=True)
        walk = _Walk(tuple(files), tuple(nested))
        if self._store is not None:
            self._store.data[key] = {"files": files, "nested": nested}
            self._store.added += 1
        return walk

    def _walk(
        self,
        tree: str,
        prefix: str,
        rules: tuple[_Rule, ...],
        files: list[tuple[str, str]],
        nested: list[tuple[str, str]],
        *,
        top: bool = False,
    ) -> None:
        # Consecutive commits share most subtrees: walk each (tree, place, rules) once.
        # ``top`` is in the key: seen from above, a nested project is a leaf; from itself, not.
        key = (tree, prefix, rules, top)
        known = self._subtrees.get(key)
        if known is None:
            here_files: list[tuple[str, str]] = []
            here_nested: list[tuple[str, str]] = []
            self._walk_tree(tree, prefix, rules, here_files, here_nested, top=top)
            known = (tuple(here_files), tuple(here_nested))
            self._subtrees[key] = known
        files.extend(known[0])
        nested.extend(known[1])

    def _walk_tree(
        self,
        tree: str,
        prefix: str,
        rules: tuple[_Rule, ...],
        files: list[tuple[str, str]],
        nested: list[tuple[str, str]],
        *,
        top: bool,
    ) -> None:
        entries = self.git.tree_entries(tree)
        if entries is None:
            return
        if not top and any(n == DVC_DIR and m == _DIR_MODE for n, m, _s in entries):
            nested.append((prefix.rstrip("/"), tree))
            return
        for name, mode, sha in entries:
            if name == IGNORE_FILE and mode in _FILE_MODES:
                data = self.git.read_blob(sha)
                if data is not None and len(data) <= MAX_FILE_BYTES:
                    text = data.decode("utf-8", errors="replace")
                    rules = (*rules, *parse_ignore(text, prefix))
        for name, mode, sha in entries:
            path = prefix + name
            if mode == _DIR_MODE:
                if name in (".git", DVC_DIR) or is_ignored(rules, path, True):
                    continue
                if path.count("/") >= MAX_DEPTH:  # a hostile tree must not exhaust the stack
                    self.too_deep.add(path)
                    continue
                self._walk(sha, path + "/", rules, files, nested)
            elif (
                name == PROJECT_FILE and mode in _FILE_MODES and not is_ignored(rules, path, False)
            ):
                files.append((path, sha))

    def _parse(self, dvcfile: str, blob: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        key = (blob, dvcfile)
        if key in self._parsed:
            return self._parsed[key]
        store_key = f"y {blob} {dvcfile}"
        hit: Any = self._store.data.get(store_key) if self._store is not None else None
        result: tuple[list[tuple[str, dict[str, Any]]], list[str]]
        if _valid_parsed(hit):
            result = ([(n, f) for n, f in hit[0]], list(hit[1]))
        else:
            too_big = _too_big(self.git.blob_size(blob))
            data = None if too_big else self.git.read_blob(blob)
            if too_big:
                result = ([], [too_big])
            elif data is None:
                result = ([], ["cannot be read"])
            else:
                result = parse_dvcyaml(data, dvcfile)
            if self._store is not None:
                try:
                    json.dumps(result)
                except (TypeError, ValueError):
                    pass  # YAML dates and the like: parse again next time
                else:
                    self._store.data[store_key] = [[list(x) for x in result[0]], result[1]]
                    self._store.added += 1
        self._parsed[key] = result
        return result

    # -- outputs and remotes -------------------------------------------------------------

    def output(
        self, commit: str, annotation: Annotation, *, workdir: Path | None = None
    ) -> tuple[DvcOutput | None, list[Problem]]:
        """The DVC output at ``annotation.path`` in ``commit``, and what was wrong on the way."""
        path = annotation.path
        if not path or not _encodable(path):  # a lone surrogate names no file in git
            return None, []
        found = self.read(commit)
        art = next(
            (a for a in found.artifacts.values() if a.annotation.source == annotation.source),
            None,
        )
        project = art.project if art is not None else _project_of(found, path)
        if annotation.source and annotation.source.endswith(PROJECT_FILE):
            lock_dirs = [posixpath.dirname(annotation.source)]
        else:
            # artifacts.yaml names no dvc.yaml: try the dvc.lock of each folder above the
            # path, up to its project's root, where a stage producing it usually lives.
            lock_dirs = []
            folder = posixpath.dirname(path)
            while True:
                lock_dirs.append(folder)
                if folder == project or not folder:
                    break
                folder = posixpath.dirname(folder)
        problems: list[Problem] = []
        entry: dict[str, Any] | None = None
        source = ""
        remote: str | None = None
        for directory in lock_dirs:
            lock = posixpath.join(directory, LOCK_FILE) if directory else LOCK_FILE
            entry = self._lock_entry(commit, lock, directory, path, problems)
            if entry is not None:
                source = lock
                dvcyaml = posixpath.join(directory, PROJECT_FILE) if directory else PROJECT_FILE
                remote = self._stage_remote(commit, dvcyaml, path)
                break
        if entry is None:
            dotdvc = path + ".dvc"
            entry = self._dotdvc_entry(commit, dotdvc, path, problems)
            if entry is None:
                return None, problems
            source = dotdvc
            remote = entry.get("remote") if isinstance(entry.get("remote"), str) else None
        md5 = entry.get("md5")
        if not isinstance(md5, str) or not re.fullmatch(r"[0-9a-f]{32}(\.dir)?", md5):
            problems.append(Problem(source, commit, f"output '{path}' has no valid md5"))
            return None, problems
        dvc3 = entry.get("hash") == "md5"
        config = self._config(commit, project, workdir)
        remote = remote or config.get(("core", "remote"))
        remote_url: str | None = None
        url: str | None = None
        config_file = posixpath.join(project, DVC_DIR, "config") if project else ".dvc/config"
        if remote is not None:
            remote_url, detail = _remote_url(config, remote, project, workdir)
            if detail is not None:
                problems.append(Problem(config_file, commit, detail))
            elif remote_url is not None:
                url = object_url(remote_url, md5, dvc3)
        size, nfiles = entry.get("size"), entry.get("nfiles")
        return (
            DvcOutput(
                path=path,
                md5=md5,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                nfiles=nfiles if isinstance(nfiles, int) and not isinstance(nfiles, bool) else None,
                is_dir=md5.endswith(".dir"),
                dvc3=dvc3,
                remote=remote,
                remote_url=remote_url,
                url=url,
                source=source,
            ),
            problems,
        )

    def _yaml_at(self, commit: str, path: str, problems: list[Problem]) -> Any:
        too_big = _too_big(self.git.file_size(commit, path))
        if too_big:
            problems.append(Problem(path, commit, too_big))
            return None
        data = self.git.read_file(commit, path)
        if data is None:
            return None
        try:
            return load_yaml(data, path)
        except _Bad as exc:
            problems.append(Problem(path, commit, str(exc)))
            return None

    def _lock_entry(
        self, commit: str, lock: str, directory: str, path: str, problems: list[Problem]
    ) -> dict[str, Any] | None:
        raw = self._yaml_at(commit, lock, problems)
        stages = raw.get("stages") if isinstance(raw, dict) else None
        if not isinstance(stages, dict):
            return None
        for stage in stages.values():
            outs = stage.get("outs") if isinstance(stage, dict) else None
            for out in outs if isinstance(outs, list) else []:
                if _out_path(out, directory) == path:
                    return dict(out)
        return None

    def _dotdvc_entry(
        self, commit: str, dotdvc: str, path: str, problems: list[Problem]
    ) -> dict[str, Any] | None:
        raw = self._yaml_at(commit, dotdvc, problems)
        outs = raw.get("outs") if isinstance(raw, dict) else None
        directory = posixpath.dirname(dotdvc)
        for out in outs if isinstance(outs, list) else []:
            if _out_path(out, directory) == path:
                return dict(out)
        return None

    def _stage_remote(self, commit: str, dvcyaml: str, path: str) -> str | None:
        data = self.git.read_file(commit, dvcyaml)
        if data is None:
            return None
        blob = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
        found, _bad = self._parse(dvcyaml, blob)
        for _name, fields in found:
            remote = fields.get("remotes", {}).get(path)
            if remote is not None:
                return str(remote)
        return None

    def _config(self, commit: str, project: str, workdir: Path | None) -> dict[Any, str]:
        """``.dvc/config`` at ``commit`` with ``.dvc/config.local`` of the work tree over it."""
        name = posixpath.join(project, DVC_DIR, "config") if project else ".dvc/config"
        data = self.git.read_file(commit, name)
        config = parse_config(data.decode("utf-8", errors="replace")) if data else {}
        if workdir is not None:
            local = workdir / name.replace("/config", "/config.local")
            try:
                text = local.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            config.update(parse_config(text))
        return config


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_big(size: int | None) -> str | None:
    """Why a file of ``size`` bytes is not inflated (a compressed bomb costs nothing)."""
    from gto_dulwich.yamlsafe import max_bytes

    limit = max_bytes()
    if size is not None and size > limit:
        return f"{size:,} bytes, more than the {limit:,} allowed (GTO_DULWICH_YAML_MAX_BYTES)"
    return None


def _out_path(out: Any, directory: str) -> str | None:
    if isinstance(out, dict) and isinstance(out.get("path"), str):
        return _join(directory, out["path"])
    return None


def _project_of(found: DvcCommit, path: str) -> str:
    """The innermost DVC project holding ``path`` (the root when none does)."""
    inside = (p for p in found.projects if not p or path.startswith(p + "/"))
    return max(inside, key=len, default="")


def _valid_walk(hit: Any) -> bool:
    return (
        isinstance(hit, dict)
        and isinstance(hit.get("files"), list)
        and isinstance(hit.get("nested"), list)
        and all(
            isinstance(x, list) and len(x) == 2 and all(isinstance(s, str) for s in x)
            for x in (*hit["files"], *hit["nested"])
        )
    )


def _valid_parsed(hit: Any) -> bool:
    return (
        isinstance(hit, list)
        and len(hit) == 2
        and isinstance(hit[0], list)
        and isinstance(hit[1], list)
        and all(
            isinstance(x, list) and len(x) == 2 and isinstance(x[0], str) and _valid_fields(x[1])
            for x in hit[0]
        )
        and all(isinstance(x, str) for x in hit[1])
    )


def _valid_fields(fields: Any) -> bool:
    return (
        isinstance(fields, dict)
        and isinstance(fields.get("path"), str)
        and (fields.get("type") is None or isinstance(fields.get("type"), str))
        and isinstance(fields.get("description"), str)
        and isinstance(fields.get("labels"), list)
        and "custom" in fields
    )


# -- .dvc/config ------------------------------------------------------------------------------

_SECTION = re.compile(r"""^\s*\[\s*(['"]?)(.*?)\1\s*\]\s*$""")
_REMOTE_SECTION = re.compile(r"""^remote\s+"(.*)"$""")


def parse_config(text: str) -> dict[Any, str]:
    """DVC's INI-like config as ``{(section, key): value}``; remotes as ``("remote", name)``.

    ``[core]`` gives ``("core", key)``; ``['remote "s"']`` gives ``(("remote", "s"), key)``.
    """
    config: dict[Any, str] = {}
    section: Any = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            name = match.group(2).strip()
            remote = _REMOTE_SECTION.match(name)
            section = ("remote", remote.group(1)) if remote else name
            continue
        if section is None or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        config[(section, key.lower())] = value
    return config


def _remote_url(
    config: Mapping[Any, str], remote: str, project: str, workdir: Path | None, depth: int = 0
) -> tuple[str | None, str | None]:
    """The remote's url as DVC resolves it, or ``(None, problem)``."""
    section = ("remote", remote)
    url = config.get((section, "url"))
    if url is None:
        return None, f"remote '{remote}' is not defined"
    for flag in ("version_aware", "worktree"):
        if config.get((section, flag), "").lower() in ("true", "1", "yes"):
            return None, f"remote '{remote}' is {flag}: it stores files by path, not by md5"
    if url.startswith("remote://"):
        if depth > 5:
            return None, f"remote '{remote}' refers to remotes in a loop"
        other, _sep, rest = url[len("remote://") :].partition("/")
        base, problem = _remote_url(config, other, project, workdir, depth + 1)
        if base is None:
            return None, problem
        return (base.rstrip("/") + "/" + rest if rest else base), None
    if "://" in url or re.match(r"^[A-Za-z0-9.-]+@[^:/]+:", url):
        return url, None
    if url.startswith("/"):
        return posixpath.normpath(url), None
    # A relative local remote is relative to the .dvc/ folder of the work tree.
    if workdir is None:
        return None, f"remote '{remote}' is a relative path and there is no work tree"
    folder = workdir / project / DVC_DIR if project else workdir / DVC_DIR
    return posixpath.normpath(str(folder / url)), None


# -- the contract for `gto get` ----------------------------------------------------------------


def dvc_output(git: GitRepo, commit: str, annotation: Annotation) -> DvcOutput | None:
    """The DVC output behind ``annotation.path`` at ``commit``, or None when it is not one.

    ``annotation`` comes from :func:`gto_dulwich.api.describe` (or
    :meth:`DvcReader.read`); its ``source`` decides which ``dvc.lock`` is read.
    """
    reader = DvcReader(git, cache=False)
    workdir = None if git.is_remote else git.workdir
    found, _problems = reader.output(commit, annotation, workdir=workdir)
    return found


def with_source(annotation: Annotation, index: str) -> Annotation:
    """The annotation with ``source`` filled in (``index`` for ``artifacts.yaml``)."""
    return annotation if annotation.source else replace(annotation, source=index)


def names_after(git: GitRepo, commit: str, index_names: list[str], *, cache: bool) -> list[str]:
    """``index_names`` followed by the ``dvc.yaml`` artifacts of ``commit`` they do not name."""
    reader = DvcReader(git, cache=cache)
    found = reader.read(commit)
    reader.save()
    known = set(index_names)
    return index_names + [name for name in found.artifacts if name not in known]
