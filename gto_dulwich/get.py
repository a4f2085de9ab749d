"""``gto get``: the artifact itself at a version or stage, written atomically.

Three steps, each its own function:

1. :func:`resolve` picks the version from the registry's state, the same answer
   ``gto show NAME#STAGE`` and ``gto latest NAME`` give; a stage nobody holds, a
   deregistered version and a deprecated artifact are refused with the reason
   (``dvc artifacts get`` resolves from raw tags and can land on them).
2. :func:`artifact_path` reads the artifact's ``path`` at the resolved
   version's commit, not at HEAD.
3. :func:`write_git` copies the committed file or directory tree (bytes and
   modes); :mod:`gto_dulwich.storage` downloads DVC-tracked objects.

Every output is built under a temporary name in the destination's directory
and renamed into place at the end, so OUT appears whole or not at all; any
failure (including Ctrl-C) removes the temporary file or tree.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from gto_dulwich.errors import GetError
from gto_dulwich.events import ORDER, EventKind
from gto_dulwich.grammar import Shortcut
from gto_dulwich.queries import Sort, versions_in_stages
from gto_dulwich.reducer import Artifact, Version, semver_desc

if TYPE_CHECKING:
    from gto_dulwich.annotations import Annotation
    from gto_dulwich.config import Config
    from gto_dulwich.dvc import DvcOutput
    from gto_dulwich.repo import GitRepo

#: Bytes read and written at a time: big enough for speed, small enough to keep memory flat.
CHUNK = 1 << 20

#: ``(done, total)`` after each chunk written; ``total`` is None when unknown.
Progress = Callable[[int, int | None], None]


# -- 1. which version -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    """The version ``get`` fetches; ``warnings`` say what ``--force`` let through."""

    artifact: str
    version: str
    commit: str
    ref: str
    warnings: tuple[str, ...] = ()


def resolve(
    artifact: Artifact, shortcut: Shortcut, *, force: bool = False, config: Config | None = None
) -> Resolved:
    """The version ``shortcut`` names by the registry's state (pure).

    A bare NAME means ``NAME@latest``.  ``force`` lets a deregistered version,
    or a version of a deprecated artifact, through (named explicitly only).
    """
    name = artifact.name
    warnings: list[str] = []
    deprecated = not artifact.is_active and artifact.is_registered
    if deprecated:
        tag = artifact.deprecations[-1].tag if artifact.deprecations else f"{name}@deprecated"
        reason = f"artifact '{name}' is deprecated (tag {tag})"
        if shortcut.version is None or not force:
            hint = "; name a version and add --force to get it anyway" if not force else ""
            raise GetError(reason + hint)
        warnings.append(reason + "; --force gets it anyway")
    if shortcut.version is not None:
        version = _named_version(artifact, shortcut.version, force=force, warnings=warnings)
    elif shortcut.stage is not None:
        if config is not None:
            config.check_stage(shortcut.stage)
        version = _stage_holder(artifact, shortcut.stage)
    else:
        version = _latest(artifact)
    return Resolved(name, version.version, version.commit, version.ref, tuple(warnings))


def _named_version(artifact: Artifact, wanted: str, *, force: bool, warnings: list[str]) -> Version:
    name = artifact.name
    found = [v for v in artifact.versions if v.version == wanted and not v.discovered]
    if not found:
        raise GetError(f"'{name}' has no version {wanted}")
    active = [v for v in found if v.is_active]
    if active:
        return active[-1]
    version = found[-1]
    tag = version.deregistrations[-1].tag if version.deregistrations else f"{name}@{wanted}!"
    reason = f"version {name}@{wanted} is deregistered (tag {tag})"
    if not force:
        raise GetError(reason + "; add --force to get it anyway")
    warnings.append(reason + "; --force gets it anyway")
    return version


def _stage_holder(artifact: Artifact, stage: str) -> Version:
    """The version ``show NAME#STAGE`` lists first: the last one assigned and still active."""
    name = artifact.name
    held = versions_in_stages(artifact, sort=Sort.TIMESTAMP).get(stage)
    if held:
        vstage = held[0]
        for version in artifact.versions:
            if version.version == vstage.version and version.commit == vstage.commit:
                return version
    events = [
        event
        for version in artifact.versions
        for event in version.stage_events
        if event.stage == stage
    ]
    if not events:
        raise GetError(f"no version of '{name}' was ever assigned to stage '{stage}'")
    last = max(events, key=ORDER)
    if last.kind is EventKind.UNASSIGNMENT:
        raise GetError(
            f"no version of '{name}' is in stage '{stage}': the last stage tag, {last.tag}, "
            "unassigned it"
        )
    raise GetError(
        f"no version of '{name}' is in stage '{stage}': the versions assigned to it "
        "are deregistered"
    )


def _latest(artifact: Artifact) -> Version:
    versions = artifact.active_versions(registered_only=True)
    if versions:
        return versions[0]
    registered = semver_desc(v for v in artifact.versions if not v.discovered)
    if registered:
        raise GetError(
            f"'{artifact.name}' has no active version: every registered version is deregistered"
        )
    raise GetError(f"'{artifact.name}' has no registered version")


# -- 2. which path --------------------------------------------------------------------


def artifact_annotation(git: GitRepo, index: str, resolved: Resolved) -> Annotation:
    """The artifact's annotation at the resolved version's commit: its ``artifacts.yaml``
    entry, else its ``dvc.yaml`` declaration (the registry's rule: the index wins)."""
    from gto_dulwich.annotations import parse_index
    from gto_dulwich.dvc import DvcReader, with_source

    commit, name = resolved.commit, resolved.artifact
    data = git.read_file(commit, index)
    annotation = None
    if data is not None:
        annotation = parse_index(data, index=index, commit=commit).artifacts.get(name)
    if annotation is not None:
        annotation = with_source(annotation, index)
    else:
        declared = DvcReader(git, cache=False).read(commit).artifacts.get(name)
        annotation = declared.annotation if declared is not None else None
    if annotation is None or not annotation.path:
        where = annotation.source if annotation is not None else f"{index} nor dvc.yaml"
        found = "has no entry in" if annotation is None else "has no 'path' in"
        raise GetError(
            f"'{name}' {found} {where} at {commit[:7]} ({name}@{resolved.version}): "
            f"annotate it with 'gto annotate {name} --path PATH' (or declare it in dvc.yaml) "
            "and commit"
        )
    return replace(annotation, path=_clean_path(annotation.path, annotation.source or index))


def _clean_path(path: str, source: str) -> str:
    """A repository-relative path, refused when it would leave the repository."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts or path.startswith("/"):
        raise GetError(f"path '{path}' in {source} is not inside the repository")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a YAML escape) names no file git or a file system can hold.
        raise GetError(f"path {path!a} in {source} is not valid UTF-8") from None
    return "/".join(parts)


# -- 3. writing ---------------------------------------------------------------------


@dataclass(slots=True)
class Written:
    """What was written: the total size, the md5 of a single file, how many files."""

    size: int = 0
    md5: str | None = None
    nfiles: int = 0
    files: list[str] = field(default_factory=list)


def default_output(path: str) -> Path:
    return Path(path.rstrip("/").rsplit("/", 1)[-1])


def check_output(out: Path, *, force: bool) -> None:
    """Refuse an existing OUT before any byte is fetched."""
    if os.path.lexists(out) and not force:
        raise GetError(f"'{out}' already exists; add --force to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GetError(f"cannot write '{out}': {parent} is not a directory")


def cannot_write(out: Path, exc: OSError) -> GetError:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        reason = "file too large for this file system or limit"
    return GetError(f"cannot write '{out}': {reason}")


@contextlib.contextmanager
def staged(out: Path, *, directory: bool, force: bool) -> Iterator[Path]:
    """A temporary file or directory beside ``out``, renamed to ``out`` when the block ends.

    Any exception (Ctrl-C too) removes it; ``out`` is then untouched.
    """
    parent = out.parent if str(out.parent) else Path(".")
    prefix = f".{out.name}.gto-get-"
    try:
        if directory:
            temp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        else:
            handle, name = tempfile.mkstemp(prefix=prefix, dir=parent)
            os.close(handle)
            temp = Path(name)
    except OSError as exc:
        raise cannot_write(out, exc) from None
    try:
        yield temp
        _replace(temp, out, force=force)
    except BaseException:
        _remove(temp)
        raise


def _replace(temp: Path, out: Path, *, force: bool) -> None:
    try:
        if os.path.lexists(out):
            if not force:
                raise GetError(f"'{out}' already exists; add --force to replace it")
            if out.is_dir() and not out.is_symlink():
                # rename() cannot replace a non-empty directory: swap, then drop the old one.
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.gto-old-", dir=out.parent))
                os.replace(out, old / "x")
                try:
                    os.replace(temp, out)
                except BaseException:
                    os.replace(old / "x", out)  # put the previous version back
                    raise
                finally:
                    shutil.rmtree(old, ignore_errors=True)
                return
        os.replace(temp, out)
    except OSError as exc:
        raise cannot_write(out, exc) from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _mode(git_mode: int) -> int:
    """Git keeps only "executable or not"; checkouts apply the umask, as git does."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if git_mode & 0o111 else 0o666) & ~umask


def write_chunks(target: Path, chunks: Iterator[bytes] | Sequence[bytes], out: Path) -> str:
    """Write ``chunks`` to ``target`` (already created); return their md5."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(target, "wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise cannot_write(out, exc) from None
    return digest.hexdigest()


# -- git-committed artifacts ----------------------------------------------------------


_TREE = 0o040000
_LINK = 0o120000
_GITLINK = 0o160000


@dataclass(frozen=True, slots=True)
class GitEntry:
    relpath: str  # "" for the path itself when it is a file
    mode: int
    sha: bytes


def git_entries(git: GitRepo, commit: str, path: str) -> list[GitEntry] | None:
    """Every file under ``path`` at ``commit`` (one entry for a file), or None when absent.

    A remote repository fetches the commit's trees first (``blob:none``); the
    blobs themselves are fetched later, by id.
    """
    from gto_dulwich.remote.reader import RemoteRepo

    if isinstance(git, RemoteRepo):
        git.commit_tree(commit)
    entry = git._tree_entry(commit, path)
    if entry is None:
        return None
    mode, sha = entry
    if mode == _GITLINK:
        raise GetError(
            f"'{path}' is a git submodule at {commit[:7]}: fetch it from its own repository"
        )
    if not mode & _TREE or mode == _LINK:
        return [GitEntry("", mode, sha)]
    entries: list[GitEntry] = []
    _walk(git, sha, "", entries, path)
    return entries


def _walk(git: GitRepo, tree_sha: bytes, prefix: str, out: list[GitEntry], path: str) -> None:
    from dulwich.objects import ObjectID, Tree

    tree = git.dulwich.object_store[ObjectID(tree_sha)]
    if not isinstance(tree, Tree):
        raise GetError(f"'{path}' has an unreadable tree in the repository")
    for item in tree.iteritems():
        raw = bytes(item.path)
        name = raw.decode("utf-8", "surrogateescape")
        if name in ("", ".", "..", ".git") or "/" in name or "\0" in name:
            raise GetError(f"'{path}' holds an entry named {name!r} that cannot be written safely")
        relpath = f"{prefix}{name}"
        if item.mode == _GITLINK:
            raise GetError(f"'{path}/{relpath}' is a git submodule: it cannot be written")
        if item.mode & _TREE and item.mode != _LINK:
            _walk(git, bytes(item.sha), relpath + "/", out, path)
        else:
            out.append(GitEntry(relpath, item.mode, bytes(item.sha)))


def write_git(
    git: GitRepo,
    entries: list[GitEntry],
    out: Path,
    *,
    force: bool,
    progress: Progress | None = None,
) -> Written:
    """Write the blobs of ``entries`` to ``out``: a file, or a whole directory tree."""
    from gto_dulwich.remote.reader import RemoteRepo

    if isinstance(git, RemoteRepo):
        git.fetch_blobs([entry.sha for entry in entries])
    written = Written()
    total = None
    is_file = len(entries) == 1 and entries[0].relpath == ""
    with staged(out, directory=not is_file, force=force) as temp:
        for entry in entries:
            target = temp / entry.relpath if entry.relpath else temp
            if entry.relpath:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise cannot_write(out, exc) from None
            if entry.mode == _LINK:
                link = _blob(git, entry.sha)
                if is_file:
                    target.unlink()
                try:
                    os.symlink(link, target)
                except OSError as exc:
                    raise cannot_write(out, exc) from None
                written.size += len(link)
            else:

                def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
                    for chunk in chunks:
                        written.size += len(chunk)
                        if progress is not None:
                            progress(written.size, total)
                        yield chunk

                md5 = write_chunks(target, counted(blob_chunks(git, entry.sha)), out)
                try:
                    target.chmod(_mode(entry.mode))
                except OSError as exc:
                    raise cannot_write(out, exc) from None
                if is_file:
                    written.md5 = md5
            written.nfiles += 1
            written.files.append(entry.relpath)
        if not is_file:
            _chmod_dirs(temp)
    return written


def _chmod_dirs(root: Path) -> None:
    mode = _mode(0o111)
    for folder, _dirs, _files in os.walk(root):
        os.chmod(folder, mode)


# An open object file, its inflater, the object header, the content size, content inflated so far.
_Stream = tuple[BinaryIO, Any, bytes, int, bytes]


def blob_chunks(git: GitRepo, sha: bytes) -> Iterator[bytes]:
    """The blob's bytes in pieces: inflated straight from its loose file or pack entry,
    so a large file never sits whole in memory; checked against its id at the end.

    A delta-compressed entry (and any store we cannot read this way) is read whole.
    """
    streamed = _stream_loose(git, sha) or _stream_packed(git, sha)
    if streamed is None:
        yield _blob(git, sha)
        return
    import zlib

    handle, inflate, header, size, first = streamed
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(header + first)
    done = len(first)
    if first:
        yield first
    with handle:
        pending = inflate.unconsumed_tail
        while done < size:
            raw = pending or handle.read(CHUNK)
            if not raw:
                break
            try:
                chunk = inflate.decompress(raw, CHUNK)
            except zlib.error:
                break  # reported as damaged below
            pending = inflate.unconsumed_tail
            if chunk:
                digest.update(chunk)
                done += len(chunk)
                yield chunk
    if done != size or digest.hexdigest().encode("ascii") != sha:
        raise GetError(f"object {sha.decode('ascii')[:7]} is damaged in the repository")


def _stream_loose(git: GitRepo, sha: bytes) -> _Stream | None:
    import zlib

    from dulwich.objects import ObjectID

    store = git.dulwich.object_store
    try:
        path = store._get_shafile_path(ObjectID(sha))
        handle = open(path, "rb")  # noqa: SIM115 -- handed to the caller, which closes it
    except (AttributeError, ValueError, OSError):
        return None
    inflate = zlib.decompressobj()
    head = b""
    while b"\0" not in head and len(head) < 64:
        raw = inflate.unconsumed_tail or handle.read(64)
        if not raw:
            break
        head += inflate.decompress(raw, 64 - len(head))
    kind, _, rest = head.partition(b" ")
    size_text, nul, first = rest.partition(b"\0")
    if kind != b"blob" or not nul or not size_text.isdigit():
        handle.close()
        return None
    return handle, inflate, b"blob " + size_text + b"\0", int(size_text), first


def _stream_packed(git: GitRepo, sha: bytes) -> _Stream | None:
    import zlib

    for pack in getattr(git.dulwich.object_store, "packs", []):
        try:
            offset = pack.index.object_offset(sha)
        except (KeyError, ValueError):
            continue
        if offset is None:
            continue
        try:
            handle = open(pack.data.path, "rb")  # noqa: SIM115 -- closed by the caller
        except (OSError, AttributeError):
            return None
        handle.seek(offset)
        byte = handle.read(1)[0]
        kind, size, shift = (byte >> 4) & 7, byte & 15, 4
        while byte & 0x80:
            byte = handle.read(1)[0]
            size |= (byte & 0x7F) << shift
            shift += 7
        if kind != 3:  # a delta: dulwich resolves it, whole
            handle.close()
            return None
        return handle, zlib.decompressobj(), b"blob %d\0" % size, size, b""
    return None


def _blob(git: GitRepo, sha: bytes) -> bytes:
    from dulwich.objects import Blob, ObjectID

    try:
        blob = git.dulwich.object_store[ObjectID(sha)]
    except KeyError:
        raise GetError(f"object {sha.decode('ascii')[:7]} is missing from the repository") from None
    if not isinstance(blob, Blob):
        raise GetError(f"object {sha.decode('ascii')[:7]} is not a file")
    return blob.data


# -- the result -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetResult:
    """What ``get`` did: the resolved version, the annotated path, what was written."""

    artifact: str
    version: str
    commit: str
    ref: str
    path: str
    source: str  # "git" or "dvc"
    output: str | None = None
    size: int | None = None
    md5: str | None = None
    nfiles: int | None = None
    urls: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # a directory's (relpath, url), if asked for
    fetched_bytes: int | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "artifact": self.artifact,
            "version": self.version,
            "commit": self.commit,
            "ref": self.ref,
            "path": self.path,
            "source": self.source,
        }
        if self.output is not None:
            data.update(output=self.output, size=self.size, md5=self.md5, nfiles=self.nfiles)
        from gto_dulwich.remote.connection import redact_url

        # A remote URL may carry user:password@: never print it.
        if self.urls:
            data["url"] = redact_url(self.urls[0])
        if self.files:
            data["files"] = [{"relpath": rel, "url": redact_url(url)} for rel, url in self.files]
        return data


# -- the use case ---------------------------------------------------------------------


def get_artifact(
    registry: Any,
    spec: str,
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    show_url: bool = False,
    progress: Progress | None = None,
    environ: Mapping[str, str] | None = None,
    file_urls: bool = False,
) -> GetResult:
    """Resolve ``spec`` (``NAME``, ``NAME@vX.Y.Z``, ``NAME@latest``, ``NAME#STAGE``) in
    ``registry`` (an open :class:`~gto_dulwich.api.Registry`) and write the artifact."""
    from gto_dulwich.grammar import parse_shortcut
    from gto_dulwich.remote.reader import RemoteRepo

    shortcut = parse_shortcut(spec)
    artifact = registry.artifact(shortcut.name)
    resolved = resolve(artifact, shortcut, force=force, config=registry.config)
    git: GitRepo = registry.git
    annotation = artifact_annotation(git, registry.config.index, resolved)
    path = annotation.path
    assert path is not None
    found = GetResult(
        artifact=resolved.artifact,
        version=resolved.version,
        commit=resolved.commit,
        ref=resolved.ref,
        path=path,
        source="git",
        warnings=resolved.warnings,
    )
    output, problem = _dvc_output(git, resolved, annotation)
    target = Path(out) if out is not None else default_output(path)
    if output is not None:
        got = _get_dvc(
            output,
            found,
            target,
            force=force,
            show_url=show_url,
            progress=progress,
            environ=environ,
            file_urls=file_urls,
        )
        return (
            replace(got, fetched_bytes=git.bytes_received) if isinstance(git, RemoteRepo) else got
        )
    entries = git_entries(git, resolved.commit, path)
    if entries is None:
        if problem is not None:
            raise GetError(f"cannot read the DVC output of '{path}': {problem}")
        raise GetError(
            f"'{path}' is not committed at {resolved.commit[:7]} "
            f"({resolved.artifact}@{resolved.version}) and no DVC output tracks it"
        )
    if show_url:
        raise GetError(
            f"'{path}' is committed in git, not tracked by DVC: it has no storage address"
        )
    check_output(target, force=force)
    written = write_git(git, entries, target, force=force, progress=progress)
    # Everything this command fetched: servers that ignore filters send blobs with the tags.
    fetched = git.bytes_received if isinstance(git, RemoteRepo) else None
    return replace(
        found,
        output=str(target),
        size=written.size,
        md5=written.md5,
        nfiles=written.nfiles,
        fetched_bytes=fetched,
    )


# -- DVC-tracked artifacts ------------------------------------------------------------


def _dvc_output(
    git: GitRepo, resolved: Resolved, annotation: Annotation
) -> tuple[DvcOutput | None, str | None]:
    """The DVC output behind the path, or None and what went wrong reading DVC's files
    (an error only if git has no such path either)."""
    from gto_dulwich.dvc import DvcReader

    workdir = None if git.is_remote else git.workdir
    output, problems = DvcReader(git, cache=False).output(
        resolved.commit, annotation, workdir=workdir
    )
    if output is None:
        return None, "; ".join(map(str, problems)) or None
    if output is not None and output.url is None:
        why = f": {problems[0]}" if problems else "; set core.remote in .dvc/config"
        raise GetError(
            f"'{output.path}' is tracked by DVC ({output.source}) but has no remote storage "
            f"at {resolved.commit[:7]}{why}"
        )
    return output, None


def _get_dvc(
    output: DvcOutput,
    found: GetResult,
    target: Path,
    *,
    force: bool,
    show_url: bool,
    progress: Progress | None,
    environ: Mapping[str, str] | None,
    file_urls: bool,
) -> GetResult:
    from gto_dulwich.dvc import object_url
    from gto_dulwich.storage import fetch_output, read_manifest

    assert output.url is not None
    assert output.remote_url is not None
    remote_url, dvc3 = output.remote_url, output.dvc3

    def address(md5: str) -> str:
        return object_url(remote_url, md5, dvc3)

    found = replace(found, source="dvc", md5=output.md5)
    if show_url:
        # Like `dvc get --show-url`: a directory's address is its .dir manifest's.
        files: tuple[tuple[str, str], ...] = ()
        if output.is_dir and file_urls:
            entries = read_manifest(output.url, output.md5, environ)
            files = tuple((entry.relpath, address(entry.md5)) for entry in entries)
        return replace(found, urls=(output.url,), files=files)
    check_output(target, force=force)
    written = fetch_output(
        output.url,
        output.md5,
        target,
        address=address,
        force=force,
        size=output.size,
        environ=environ,
        progress=progress,
        legacy=not output.dvc3,
    )
    return replace(
        found,
        output=str(target),
        size=written.size,
        md5=output.md5,
        nfiles=written.nfiles,
        urls=(output.url,),
    )
