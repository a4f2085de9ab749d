"""Build real git repositories on disk from compact YAML descriptions.

The conformance fixtures under ``fixtures/`` describe registries (commits, files,
annotated and lightweight tags with explicit tagger times) in a small YAML format
documented in ``fixtures/README.md``.  :func:`build_repo` turns such a description
into a repository using dulwich only -- no git binary -- and is deterministic:
the same description always yields the same commit and tag SHAs, because every
identity, timestamp and time zone comes from the description.

Typical use::

    spec = load_spec("fixtures/showcase.yaml")
    built = build_repo(spec, tmp_path / "repo")
    built.commits["c2"]      # 40-hex sha of the commit with id c2
    built.tags["rf@v1.2.3"]  # sha the ref points to (the tag object)
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.index import build_index_from_tree
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from ruamel.yaml import YAML

__all__ = [
    "DEFAULT_BRANCH",
    "DEFAULT_IDENTITY",
    "PACKED_REFS_HEADER",
    "BuiltRepo",
    "SpecError",
    "TagData",
    "build_repo",
    "default_tag_message",
    "diff_tags",
    "load_spec",
    "tag_snapshot",
]

DEFAULT_IDENTITY: Mapping[str, str] = {"name": "GTO Tester", "email": "gtotester@example.com"}
DEFAULT_BRANCH = "main"
# Exactly what `git pack-refs --all` writes as the first line (note the trailing space).
PACKED_REFS_HEADER = b"# pack-refs with: peeled fully-peeled sorted \n"

_FILE_MODE = 0o100644
_DIR_MODE = 0o040000

# Our own reading of GTO's tag grammar, used only to pick default tag messages.
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_DIRNAME = r"[a-zA-Z0-9\-_./]+"
_NUM = r"(?:0|[1-9][0-9]*)"
_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z\-][0-9a-zA-Z\-]*)"
_SEMVER = (
    rf"v{_NUM}\.{_NUM}\.{_NUM}"
    rf"(?:-{_IDENT}(?:\.{_IDENT})*)?"
    r"(?:\+[0-9a-zA-Z\-]+(?:\.[0-9a-zA-Z\-]+)*)?"
)
_ARTIFACT = rf"(?P<artifact>(?:{_DIRNAME}=)?{_NAME})"
_COUNTER = r"(?:#(?P<counter>[0-9]+))?"
_VERSION_TAG = re.compile(rf"{_ARTIFACT}@(?P<version>{_SEMVER})(?P<cancel>!)?{_COUNTER}")
_STAGE_TAG = re.compile(rf"{_ARTIFACT}#(?P<stage>{_NAME})(?P<cancel>!)?{_COUNTER}")
_DEPRECATE_TAG = re.compile(rf"{_ARTIFACT}@deprecated{_COUNTER}")


class SpecError(ValueError):
    """The registry description is malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class BuiltRepo:
    """What :func:`build_repo` produced."""

    path: Path
    commits: dict[str, str]
    """Spec commit id -> 40-hex commit sha."""
    tags: dict[str, str]
    """Tag name -> sha the ref points to (tag object if annotated, commit if lightweight)."""


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a registry description (YAML, safe loader)."""
    yaml = YAML(typ="safe", pure=True)  # libyaml (ruamel.yaml.clib) refuses some flow scalars
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh)
    if not isinstance(data, dict):
        raise SpecError(f"{os.fspath(path)}: the description must be a YAML mapping")
    return data


# --------------------------------------------------------------------------- helpers


def _parse_time(value: object, where: str) -> tuple[int, int]:
    """ISO-8601 with an explicit UTC offset -> (unix seconds, offset seconds east of UTC)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise SpecError(f"{where}: invalid time {value!r}") from exc
    else:
        raise SpecError(f"{where}: time must be an ISO-8601 string, got {value!r}")
    offset = moment.utcoffset()
    if offset is None:
        raise SpecError(f"{where}: time {value!r} needs an explicit UTC offset")
    if moment.microsecond:
        raise SpecError(f"{where}: git timestamps have one-second resolution: {value!r}")
    return int(moment.timestamp()), int(offset.total_seconds())


def _identity(value: object, default: Mapping[str, str], where: str) -> bytes:
    if value is None:
        value = default
    if not isinstance(value, Mapping) or set(value) != {"name", "email"}:
        raise SpecError(f"{where}: identity must be a mapping with exactly 'name' and 'email'")
    name, email = value["name"], value["email"]
    if not isinstance(name, str) or not isinstance(email, str):
        raise SpecError(f"{where}: identity name and email must be strings")
    return f"{name} <{email}>".encode()


def _with_newline(text: str) -> bytes:
    return (text if text.endswith("\n") else text + "\n").encode()


def _check_keys(item: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(item) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _check_path(path: object, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise SpecError(f"{where}: file path must be a non-empty string, got {path!r}")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
        raise SpecError(f"{where}: invalid file path {path!r}")
    return path


def _apply_files(snapshot: dict[str, bytes], files: object, where: str) -> None:
    if files is None:
        return
    if not isinstance(files, Mapping):
        raise SpecError(f"{where}: 'files' must be a mapping path -> content|null")
    for raw_path, content in files.items():
        path = _check_path(raw_path, where)
        if content is None:
            if path not in snapshot:
                raise SpecError(f"{where}: cannot delete {path!r}: not in the parent tree")
            snapshot.pop(path, None)
        elif isinstance(content, str):
            snapshot[path] = content.encode()
        else:
            raise SpecError(f"{where}: content of {path!r} must be a string or null")


def _write_tree(objects: list[ShaFile], snapshot: Mapping[str, bytes]) -> ObjectID:
    """Store blobs and trees for a flat {path: content} snapshot; return the root tree id."""
    root: dict[str, Any] = {}
    for path, content in snapshot.items():
        node = root
        *dirs, leaf = path.split("/")
        for part in dirs:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"{path!r} needs {part!r} to be a directory, but it is a file")
            node = child
        if isinstance(node.get(leaf), dict):
            raise SpecError(f"{path!r} is a file but also a directory")
        node[leaf] = content

    def build(node: Mapping[str, Any]) -> ObjectID:
        tree = Tree()
        for name, value in node.items():
            if isinstance(value, dict):
                tree.add(name.encode(), _DIR_MODE, build(value))
            else:
                blob = Blob.from_string(value)
                objects.append(blob)
                tree.add(name.encode(), _FILE_MODE, blob.id)
        objects.append(tree)
        return tree.id

    return build(root)


def default_tag_message(tag_name: str, version: str = "None") -> str | None:
    """The message GTO 1.10.1 would write for ``tag_name`` (None if not a GTO event tag).

    ``version`` is the version named in assignment/unassignment messages: the
    version registered at the tag's target commit, or the commit hexsha.
    """
    if m := _VERSION_TAG.fullmatch(tag_name):
        name = m["artifact"].replace("=", ":")
        verb = "Deregistering" if m["cancel"] else "Registering"
        return f"{verb} artifact {name} version {m['version']}"
    if m := _STAGE_TAG.fullmatch(tag_name):
        name, stage = m["artifact"].replace("=", ":"), m["stage"]
        if m["cancel"]:
            return f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
        return f"Assigning stage {stage} to artifact {name} version {version}"
    if m := _DEPRECATE_TAG.fullmatch(tag_name):
        return f"Deprecating artifact '{m['artifact'].replace('=', ':')}'"
    return None


# --------------------------------------------------------------------------- commits


@dataclass(slots=True)
class _CommitPlan:
    sha: ObjectID
    snapshot: dict[str, bytes]


def _build_commits(
    spec_commits: object, identity: Mapping[str, str], default_branch: str, objects: list[ShaFile]
) -> tuple[dict[str, _CommitPlan], dict[str, ObjectID]]:
    if spec_commits is None:
        spec_commits = []
    if not isinstance(spec_commits, Sequence) or isinstance(spec_commits, str):
        raise SpecError("'commits' must be a list")
    plans: dict[str, _CommitPlan] = {}
    tips: dict[str, ObjectID] = {}
    tip_ids: dict[str, str] = {}
    allowed = {"id", "message", "time", "files", "branch", "parents", "author", "committer"}
    for index, item in enumerate(spec_commits):
        where = f"commits[{index}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{where}: must be a mapping")
        _check_keys(item, allowed, where)
        cid = item.get("id")
        if not isinstance(cid, str) or not cid:
            raise SpecError(f"{where}: 'id' must be a non-empty string")
        if cid in plans:
            raise SpecError(f"{where}: duplicate commit id {cid!r}")
        where = f"commit {cid!r}"
        branch = item.get("branch", default_branch)
        if not isinstance(branch, str) or not branch:
            raise SpecError(f"{where}: 'branch' must be a non-empty string")
        if "parents" in item:
            parent_ids = item["parents"]
            if not isinstance(parent_ids, list) or not all(isinstance(p, str) for p in parent_ids):
                raise SpecError(f"{where}: 'parents' must be a list of commit ids")
            for pid in parent_ids:
                if pid not in plans:
                    raise SpecError(f"{where}: unknown parent {pid!r} (define it earlier)")
        elif branch in tip_ids:
            parent_ids = [tip_ids[branch]]
        elif default_branch in tip_ids:  # a new branch forks from the default branch tip
            parent_ids = [tip_ids[default_branch]]
        else:
            parent_ids = []
        snapshot = dict(plans[parent_ids[0]].snapshot) if parent_ids else {}
        _apply_files(snapshot, item.get("files"), where)
        message = item.get("message")
        if not isinstance(message, str):
            raise SpecError(f"{where}: 'message' must be a string")
        if "time" not in item:
            raise SpecError(f"{where}: 'time' is required")
        when, tz = _parse_time(item["time"], where)

        commit = Commit()
        commit.tree = _write_tree(objects, snapshot)
        commit.parents = [plans[p].sha for p in parent_ids]
        commit.author = _identity(item.get("author"), identity, f"{where} author")
        commit.committer = _identity(item.get("committer"), identity, f"{where} committer")
        commit.author_time = commit.commit_time = when
        commit.author_timezone = commit.commit_timezone = tz
        commit.message = _with_newline(message)
        objects.append(commit)
        plans[cid] = _CommitPlan(sha=commit.id, snapshot=snapshot)
        tips[branch] = commit.id
        tip_ids[branch] = cid
    return plans, tips


# --------------------------------------------------------------------------- tags


def _build_tags(
    spec_tags: object,
    plans: Mapping[str, _CommitPlan],
    identity: Mapping[str, str],
    objects: list[ShaFile],
) -> dict[str, tuple[ObjectID, ObjectID]]:
    """Return {tag name: (sha the ref points to, fully peeled commit sha)}."""
    if spec_tags is None:
        spec_tags = []
    if not isinstance(spec_tags, Sequence) or isinstance(spec_tags, str):
        raise SpecError("'tags' must be a list")
    built: dict[str, tuple[ObjectID, ObjectID]] = {}
    kinds: dict[str, type[ShaFile]] = {}
    # (artifact, commit id) -> version of the latest registration seen so far
    registered: dict[tuple[str, str], str] = {}
    allowed = {"name", "target", "target_tag", "lightweight", "time", "message", "tagger"}
    for index, item in enumerate(spec_tags):
        where = f"tags[{index}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{where}: must be a mapping")
        _check_keys(item, allowed, where)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}: 'name' must be a non-empty string")
        where = f"tag {name!r}"
        if name in built:
            raise SpecError(f"{where}: defined twice")
        has_target, has_target_tag = "target" in item, "target_tag" in item
        if has_target == has_target_tag:
            raise SpecError(f"{where}: give exactly one of 'target' (commit id) or 'target_tag'")
        target_commit_id: str | None = None
        if has_target:
            target_commit_id = item["target"]
            if target_commit_id not in plans:
                raise SpecError(f"{where}: unknown target commit {target_commit_id!r}")
            target_sha = peeled = plans[target_commit_id].sha
            target_type: type[ShaFile] = Commit
        else:
            other = item["target_tag"]
            if other not in built:
                raise SpecError(f"{where}: unknown target_tag {other!r} (define it earlier)")
            target_sha, peeled = built[other]
            target_type = kinds[other]

        if item.get("lightweight", False):
            extra = set(item) & {"time", "message", "tagger"}
            if extra:
                raise SpecError(f"{where}: a lightweight tag takes no {sorted(extra)}")
            built[name] = (target_sha, peeled)
            kinds[name] = target_type
            continue

        if "time" not in item:
            raise SpecError(f"{where}: 'time' is required for an annotated tag")
        when, tz = _parse_time(item["time"], where)
        message = item.get("message")
        if message is None:
            version = "None"
            if (m := _STAGE_TAG.fullmatch(name)) and target_commit_id is not None:
                key = (m["artifact"], target_commit_id)
                version = registered.get(key, plans[target_commit_id].sha.decode())
            message = default_tag_message(name, version)
            if message is None:
                raise SpecError(f"{where}: not a GTO event tag, so 'message' is required")
        if not isinstance(message, str):
            raise SpecError(f"{where}: 'message' must be a string")
        if (m := _VERSION_TAG.fullmatch(name)) and not m["cancel"] and target_commit_id:
            registered[(m["artifact"], target_commit_id)] = m["version"]

        tag = Tag()
        tag.name = name.encode()
        tag.object = (target_type, target_sha)
        tag.tagger = _identity(item.get("tagger"), identity, f"{where} tagger")
        tag.tag_time = when
        tag.tag_timezone = tz
        tag.message = _with_newline(message)
        objects.append(tag)
        built[name] = (tag.id, peeled)
        kinds[name] = Tag
    return built


# --------------------------------------------------------------------------- refs


def _write_packed_refs(
    repo: Repo, branches: Mapping[str, ObjectID], tags: Mapping[str, tuple[ObjectID, ObjectID]]
) -> None:
    entries: list[tuple[bytes, bytes, bytes | None]] = []
    for branch, branch_sha in branches.items():
        entries.append((f"refs/heads/{branch}".encode(), branch_sha, None))
    for name, (tag_sha, peeled) in tags.items():
        entries.append(
            (f"refs/tags/{name}".encode(), tag_sha, peeled if peeled != tag_sha else None)
        )
    lines = [PACKED_REFS_HEADER]
    for ref, sha, peeled_sha in sorted(entries):
        lines.append(sha + b" " + ref + b"\n")
        if peeled_sha is not None:
            lines.append(b"^" + peeled_sha + b"\n")
    Path(repo.commondir(), "packed-refs").write_bytes(b"".join(lines))


def _parse_worktree(files: object) -> dict[str, bytes | None]:
    """Validate ``worktree:`` -> {path: content, or None to delete the checked-out file}."""
    if files is None:
        return {}
    if not isinstance(files, Mapping):
        raise SpecError("'worktree' must be a mapping path -> content|null")
    parsed: dict[str, bytes | None] = {}
    for raw_path, content in files.items():
        path = _check_path(raw_path, "worktree")
        if content is not None and not isinstance(content, str):
            raise SpecError(f"worktree: content of {path!r} must be a string or null")
        parsed[path] = None if content is None else content.encode()
    return parsed


def build_repo(
    spec: Mapping[str, Any], dest: str | os.PathLike[str], *, bare: bool = False
) -> BuiltRepo:
    """Create the repository described by ``spec`` at ``dest`` (must not exist or be empty).

    A non-bare repository gets HEAD's tree checked out with a matching index (so
    a status is clean) plus the spec's ``worktree`` files.  ``bare=True`` writes
    objects and refs only (``worktree`` is then ignored).
    """
    _check_keys(
        spec,
        {
            "name",
            "description",
            "identity",
            "branch",
            "commits",
            "head",
            "worktree",
            "tags",
            "packed_refs",
            "commands",
        },
        "description",
    )
    identity = spec.get("identity") or DEFAULT_IDENTITY
    _identity(identity, DEFAULT_IDENTITY, "identity")  # validate
    default_branch = spec.get("branch", DEFAULT_BRANCH)
    if not isinstance(default_branch, str) or not default_branch:
        raise SpecError("'branch' must be a non-empty string")

    objects: list[ShaFile] = []
    plans, tips = _build_commits(spec.get("commits"), identity, default_branch, objects)
    tags = _build_tags(spec.get("tags"), plans, identity, objects)

    worktree = _parse_worktree(spec.get("worktree"))
    packed = spec.get("packed_refs", False)
    if not isinstance(packed, bool):
        raise SpecError("'packed_refs' must be true or false")

    head = spec.get("head")
    detached: ObjectID | None = None
    head_branch = default_branch
    if head is not None:
        if head in plans:
            detached = plans[head].sha
        elif head in tips:
            head_branch = head
        else:
            raise SpecError(f"'head': {head!r} is neither a commit id nor a branch")

    path = Path(dest)
    if path.exists() and any(path.iterdir()):
        raise SpecError(f"destination {path} is not empty")
    path.mkdir(parents=True, exist_ok=True)
    init = Repo.init_bare if bare else Repo.init
    with init(path, default_branch=default_branch.encode()) as repo:
        config = repo.get_config()
        config.set((b"user",), b"name", identity["name"].encode())
        config.set((b"user",), b"email", identity["email"].encode())
        config.write_to_path()

        store = repo.object_store
        unique: dict[bytes, ShaFile] = {}
        for obj in objects:
            unique.setdefault(obj.id, obj)
        store.add_objects([(obj, None) for obj in unique.values()])

        if packed:
            _write_packed_refs(repo, tips, tags)
        else:
            for branch, sha in tips.items():
                repo.refs.set_if_equals(Ref(f"refs/heads/{branch}".encode()), None, sha)
            for name, (sha, _peeled) in tags.items():
                repo.refs.set_if_equals(Ref(f"refs/tags/{name}".encode()), None, sha)
        if detached is not None:  # write HEAD itself (set_if_equals would follow the symref)
            Path(repo.controldir(), "HEAD").write_bytes(detached + b"\n")
        else:
            repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(f"refs/heads/{head_branch}".encode()))

        if not bare:
            head_sha = detached if detached is not None else tips.get(head_branch)
            if head_sha is not None:
                commit = repo[head_sha]
                assert isinstance(commit, Commit)
                build_index_from_tree(repo.path, repo.index_path(), store, commit.tree)
            for rel, content in worktree.items():
                target = path / rel
                if content is None:
                    target.unlink(missing_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)

    return BuiltRepo(
        path=path,
        commits={cid: plan.sha.decode() for cid, plan in plans.items()},
        tags={name: sha.decode() for name, (sha, _peeled) in tags.items()},
    )


TagData = dict[str, str | None]


def tag_snapshot(path: str | os.PathLike[str]) -> dict[str, TagData]:
    """Every tag ref of a repository: name -> peeled commit, stripped message, tagger.

    What a write changed is the difference of two snapshots (:func:`diff_tags`);
    the write-command goldens and their test compare exactly this.
    """
    from dulwich.object_store import peel_sha

    tags: dict[str, TagData] = {}
    with Repo(os.fspath(path)) as repo:
        for ref, sha in sorted(repo.refs.as_dict(Ref(b"refs/tags")).items()):
            obj = repo[sha]
            target = peel_sha(repo.object_store, sha)[1].id.decode("ascii")
            if isinstance(obj, Tag):
                message: str | None = obj.message.decode("utf-8").strip()
                tagger: str | None = obj.tagger.decode("utf-8")
            else:  # a lightweight tag
                message = tagger = None
            tags[ref.decode("utf-8")] = {"target": target, "message": message, "tagger": tagger}
    return tags


def diff_tags(
    before: Mapping[str, TagData], after: Mapping[str, TagData]
) -> tuple[dict[str, TagData], dict[str, TagData]]:
    """(added, removed); a tag whose data changed counts as removed and added."""
    added = {k: dict(v) for k, v in after.items() if before.get(k) != v}
    removed = {k: dict(v) for k, v in before.items() if after.get(k) != v}
    return added, removed
