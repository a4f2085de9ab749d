"""Facts read from git, with dulwich only.

This is the only module of the read path that touches dulwich.  It turns a
repository into plain records (:class:`RefEntry`, :class:`TagFact`,
:class:`CommitInfo`) and never interprets them: what a tag *means* is the
grammar's and the reducer's business.

Speed matters here (see dulwich-notes §2): ``packed-refs`` is parsed by hand
instead of through ``refs.as_dict`` (3x slower), peeled ``^`` lines are trusted
only under a ``fully-peeled`` header, and tag objects are parsed from their raw
bytes, which also lets a broken tag become a diagnostic instead of a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from gto_dulwich import gitdir
from gto_dulwich.errors import (
    CannotWrite,
    GTOError,
    NotARepository,
    RefBusy,
    RefLocked,
    RepoError,
    UnknownRevision,
)
from gto_dulwich.facts import TAGS_PREFIX, CommitInfo, RefEntry, TagFact
from gto_dulwich.locks import patiently, try_lock
from gto_dulwich.safefile import read_regular

if TYPE_CHECKING:
    from dulwich.object_store import DiskObjectStore
    from dulwich.objects import Commit, Tag
    from dulwich.repo import Repo

    from gto_dulwich.cache import IndexCache, TagCache
    from gto_dulwich.packscan import PackScanner

T = TypeVar("T")

_HEX = frozenset(b"0123456789abcdef")
_TYPE_NAMES = {number: name.decode("ascii") for number, name in gitdir.TYPE_NAMES.items()}
# A signature that git appends to a tag message (it starts a line).
_SIGNATURE = re.compile(
    rb"^-----BEGIN (?:PGP|SSH) SIGNATURE-----$|^-----BEGIN SIGNED MESSAGE-----$", re.M
)

# What reading one damaged object raises: dulwich parses a loose object as it reads it,
# and reports a damaged pack with assertions, delta and struct errors (see _unreadable).
_READ_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    OSError,
    AssertionError,
    ValueError,
    IndexError,
    OverflowError,
    struct.error,
)


def _unreadable(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """What reading one damaged object raises, and ``more``: dulwich's own errors are
    included once dulwich is in use (an ``except`` clause builds its tuple only when an
    exception reaches it, and dulwich cannot have raised before it was imported)."""
    if "dulwich.errors" not in sys.modules:
        return (*more, *_READ_ERRORS)
    from dulwich.errors import ApplyDeltaError, ChecksumMismatch, ObjectFormatException

    return (*more, ObjectFormatException, ChecksumMismatch, ApplyDeltaError, *_READ_ERRORS)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _is_sha(raw: bytes) -> bool:
    return len(raw) == 40 and _HEX.issuperset(raw)


def parse_tz(raw: bytes) -> int:
    """Git's ``+HHMM`` / ``-HHMM`` offset as seconds east of UTC; ValueError if malformed."""
    if len(raw) != 5 or raw[:1] not in (b"+", b"-") or not raw[1:].isdigit():
        raise ValueError(f"bad timezone {_text(raw)!r}")
    hours, minutes = int(raw[1:3]), int(raw[3:5])
    if minutes >= 60:
        raise ValueError(f"bad timezone {_text(raw)!r}")
    seconds = hours * 3600 + minutes * 60
    return -seconds if raw[:1] == b"-" else seconds


def parse_identity(raw: bytes) -> tuple[str, str, int, int]:
    """``Name <email> 1700000000 +0200`` -> (name, email, time, tz seconds east)."""
    lt, gt = raw.find(b"<"), raw.rfind(b">")
    if lt < 0 or gt < lt:
        raise ValueError("identity has no <email>")
    name, email = raw[:lt].strip(), raw[lt + 1 : gt]
    rest = raw[gt + 1 :].split()
    if len(rest) != 2 or not rest[0].isdigit():
        raise ValueError("identity has no timestamp")
    return _text(name), _text(email), int(rest[0]), parse_tz(rest[1])


# A tag object's header as git writes it; anything else takes the general parse.
_TAG_HEADER = re.compile(
    rb"object ([0-9a-f]{40})\ntype ([a-z]+)\ntag ([^\n]*)\n"
    rb"tagger ([^<\n]*)<([^\n]*)> ([0-9]+) ([+-][0-9]{2}[0-5][0-9])\n(?:\n|\Z)"
)
# Parsed commits and trees a GitRepo keeps (see GitRepo._object), and the largest tree kept.
_REMEMBERED_OBJECTS = 1024
_REMEMBERED_TREE_ENTRIES = 1000
# GitRepo.head() before it is first read.
_UNREAD = object()
# Objects that read_tags found in no pack (or needs no object for): dulwich reads them.
_UNPACKED = (-1, 0)
_OFFSET_MASK = (1 << 48) - 1


_PACKED_ENTRY = re.compile(rb"^([0-9a-f]{40}) (refs/[^\r\n]+)\r?\n(?:\^([0-9a-f]{40})\r?\n)?", re.M)
_NOT_CONTENT_LINE = re.compile(rb"^(?:#[^\n]*|\r?)$\n", re.M)


def parse_packed_refs(data: bytes) -> tuple[dict[bytes, tuple[bytes, bytes | None]], bool, int]:
    """Parse a ``packed-refs`` file leniently, at regex speed.

    Returns ``({ref: (sha, peeled)}, fully_peeled, bad_lines)``.  Lines that are
    not ``<sha> <ref>`` or a ``^<sha>`` under one are counted and skipped rather
    than aborting the read: one corrupt line must not hide the whole registry.
    """
    if data and not data.endswith(b"\n"):
        data += b"\n"
    first_line = data[: data.find(b"\n")]
    fully_peeled = first_line.startswith(b"#") and b" fully-peeled" in first_line
    found = _PACKED_ENTRY.findall(data)  # (sha, name, peeled or b"") per entry
    refs = {name: (sha, peeled or None) for sha, name, peeled in found}
    consumed = len(found) + sum(1 for _sha, _name, peeled in found if peeled)
    # Content lines = all lines minus comments and empty ones (counted by C code).
    if b"\n\n" in data or b"\r" in data or data.startswith(b"\n"):
        not_content = len(_NOT_CONTENT_LINE.findall(data))
    else:  # the usual file: no empty lines, so only comments (at a line start) are not content
        not_content = data.count(b"\n#") + data.startswith(b"#")
    lines = data.count(b"\n") - not_content
    return refs, fully_peeled, lines - consumed


def scan_packed_refs(
    data: bytes, wanted: tuple[bytes, ...]
) -> tuple[dict[bytes, tuple[bytes, bytes | None]], bool, int]:
    """:func:`parse_packed_refs` for the refs starting with one of ``wanted`` only.

    It finds the lines naming those refs with ``bytes.find`` instead of parsing all of
    them (a twentieth of the time at 25,000 tags).  ``bad_lines`` counts the malformed
    lines among those that mention a wanted name: a line that mentions none of them
    cannot be one of the wanted refs, so its damage is for a whole read to report.
    """
    if data and not data.endswith(b"\n"):
        data += b"\n"
    first_line = data[: data.find(b"\n")]
    fully_peeled = first_line.startswith(b"#") and b" fully-peeled" in first_line
    starts: set[int] = set()  # the lines that mention a wanted name
    for prefix in wanted:
        at = data.find(prefix)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            starts.add(start)
            end = data.find(b"\n", at)
            at = data.find(prefix, end)
    refs: dict[bytes, tuple[bytes, bytes | None]] = {}
    bad = 0
    for start in sorted(starts):  # in file order: the last line naming a ref wins
        match = _PACKED_ENTRY.match(data, start)
        if match is None:
            if _NOT_CONTENT_LINE.match(data, start) is None:
                bad += 1
            continue
        sha, name, peeled = match.groups()
        if name.startswith(wanted):
            refs[name] = (sha, peeled or None)
    return refs, fully_peeled, bad


# The most a file in .git may hold for us to read it: a loose ref or HEAD is tens of bytes
# (more is not a ref), packed-refs ~100 bytes a tag (10 million tags).
_MAX_REF_FILE = 4096
_MAX_PACKED_REFS = 1 << 30


def _read_git_file(path: Path | str, limit: int = _MAX_REF_FILE) -> bytes:
    """A file of the git directory, following links as git does, if it is a regular file
    (:func:`~gto_dulwich.safefile.read_regular`): a FIFO planted in ``.git`` would block a
    plain read forever, a link to ``/dev/zero`` never let it end."""
    return read_regular(path, limit, follow_links=True)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return _read_git_file(path, _MAX_PACKED_REFS)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError:  # not a regular file, or too large: unreadable, and not absent either
        return b"<unreadable>"


def _loose_tag_refs(common: Path) -> list[tuple[str, bytes]]:
    """Every file under ``refs/tags`` with the bytes ``GitRepo.tag_refs`` reads of it."""
    found = []
    for root, _dirs, files in os.walk(common / "refs" / "tags"):
        for file_name in files:
            full = os.path.join(root, file_name)
            if file_name.endswith(".lock"):
                continue
            try:
                content = _read_git_file(full)[:100]
            except OSError:
                content = b"<unreadable>"
            found.append((os.path.relpath(full, common).replace(os.sep, "/"), content))
    found.sort()
    return found


class GitRepo:
    """An open repository with the few reads the registry needs.

    Use as a context manager.  It is made from a dulwich ``Repo`` (which it owns
    unless told otherwise) or from the :class:`~gto_dulwich.gitdir.Layout` of a
    plain repository, for which dulwich is opened only when a read needs it.
    """

    #: True for a remote read through a temporary store (see :mod:`gto_dulwich.remote.reader`).
    is_remote = False
    #: Read packed tag objects straight from the packs (:mod:`gto_dulwich.packscan`).
    scan_packs = True

    def __init__(self, repo: Repo | gitdir.Layout, *, owned: bool = True) -> None:
        if isinstance(repo, gitdir.Layout):
            self._layout: gitdir.Layout | None = repo
            self._dulwich: Repo | None = None
            owned = True  # a Repo opened from a layout is ours to close
        else:
            self._layout = None
            self._dulwich = repo
        self._owned = owned
        self.packed_refs_bad_lines = 0
        self._packed: tuple[dict[bytes, tuple[bytes, bytes | None]], bool] | None = None
        self.cache: TagCache | None = None
        self.index_cache: IndexCache | None = None
        self._scanner: PackScanner | None = None
        self._shared: dict[str, str] = {}
        self._messages: dict[bytes, str] = {}
        # (name, email, zone) as a tag object's header has them -> decoded and parsed
        self._taggers: dict[tuple[bytes, bytes, bytes], tuple[str, str, int]] = {}
        self._head: str | object | None = _UNREAD
        self._parsed: dict[bytes, gitdir.CommitFields | gitdir.TreeEntries] = {}
        # packed-refs as a one-artifact listing read it, until release_packed_refs().
        self._packed_data: bytes | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".") -> GitRepo:
        """Open a work tree (from any subdirectory), a bare repo or a linked worktree."""
        location = os.fspath(path)
        if not os.path.isdir(location):
            raise NotARepository(location)
        layout = gitdir.discover(location)
        if layout is not None:
            return cls(layout)
        from dulwich.errors import NotGitRepository
        from dulwich.repo import Repo

        try:
            return cls(Repo.discover(location))
        except NotGitRepository:
            raise NotARepository(location) from None
        except Exception as exc:  # dulwich raises plain errors for unsupported formats
            raise RepoError(f"Cannot open git repository at '{location}': {exc}") from None

    @property
    def dulwich(self) -> Repo:
        """dulwich's ``Repo`` of this repository, opened on first use."""
        if self._dulwich is None:
            from dulwich.repo import Repo

            assert self._layout is not None
            self._dulwich = Repo(self._layout.path)
        return self._dulwich

    def borrowed(self) -> GitRepo:
        """Another reader of the same repository, which leaves this one's ``Repo`` open."""
        if self._dulwich is None:
            assert self._layout is not None
            return GitRepo(self._layout)
        return GitRepo(self._dulwich, owned=False)

    def close(self) -> None:
        if self._scanner is not None:
            self._scanner.close()
            self._scanner = None
        if self._owned and self._dulwich is not None:
            # dulwich keeps a view of a pack whose object header claimed an absurd size, so
            # its map cannot be closed (BufferError); it is freed with the object.
            with contextlib.suppress(BufferError):
                self._dulwich.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def workdir(self) -> Path | None:
        """The work tree root, or None for a bare repository."""
        if self._layout is not None:
            return None if self._layout.bare else Path(self._layout.path)
        if self.dulwich.bare:
            return None
        return Path(os.path.realpath(self.dulwich.path))

    def remote_url(self, name: str = "origin") -> str | None:
        """The configured URL of remote ``name`` (it may hold credentials), or None."""
        try:
            raw = self.dulwich.get_config_stack().get((b"remote", name.encode("utf-8")), b"url")
        except KeyError:
            return None
        return raw.decode("utf-8", errors="surrogateescape") if raw else None

    @property
    def commondir(self) -> Path:
        if self._layout is not None:
            return Path(self._layout.controldir)
        return Path(self.dulwich.commondir())

    @property
    def controldir(self) -> Path:
        if self._layout is not None:
            return Path(self._layout.controldir)
        return Path(self.dulwich.controldir())

    # -- refs -------------------------------------------------------------

    def packed_refs(self) -> tuple[dict[bytes, tuple[bytes, bytes | None]], bool]:
        """``packed-refs`` as ``({ref: (sha, peeled)}, fully_peeled)``, parsed once."""
        if self._packed is None:
            data = self._packed_refs_bytes() or b""
            refs, fully_peeled, self.packed_refs_bad_lines = parse_packed_refs(data)
            self._packed = (refs, fully_peeled)
        return self._packed

    def _packed_refs_bytes(self) -> bytes | None:
        """``packed-refs`` as it is on disk (None: there is none); a RepoError if it is not
        a regular file of a sane size (a FIFO there must not hang every read)."""
        path = self.commondir / "packed-refs"
        try:
            return _read_git_file(path, _MAX_PACKED_REFS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RepoError(f"Cannot read packed-refs: {exc}") from None

    def _scan_packed_refs(
        self, wanted: tuple[bytes, ...]
    ) -> tuple[dict[bytes, tuple[bytes, bytes | None]], bool]:
        """``packed-refs`` as :meth:`packed_refs` gives it, for the ``wanted`` refs only."""
        data = self._packed_refs_bytes() or b""
        refs, fully_peeled, self.packed_refs_bad_lines = scan_packed_refs(data, wanted)
        self._packed_data = data  # HEAD's branch is looked up in it next (see head())
        return refs, fully_peeled

    def state_files(self) -> Iterator[tuple[str, bytes | None]]:
        """The files a read of the tag refs and HEAD depends on, as ``(label, bytes)``
        (None: absent), for a cache's fingerprint: ``packed-refs``, every loose tag ref
        (the bytes :meth:`tag_refs` reads of it), HEAD and the refs it points to, as
        :meth:`head` follows them, ``shallow`` and the alternates."""
        common = self.commondir
        yield "packed-refs", _read_or_none(common / "packed-refs")
        for ref, content in _loose_tag_refs(common):
            yield "ref " + ref, content
        value = _read_or_none(self.controldir / "HEAD")
        yield "HEAD", value
        for _ in range(5):  # symbolic refs, as head() follows them
            if value is None or not value.startswith(b"ref: "):
                break
            name = value[5:].strip()
            value = _read_or_none(common / os.fsdecode(name))
            yield "HEAD ref " + os.fsdecode(name), value
        yield "shallow", _read_or_none(common / "shallow")
        yield "alternates", _read_or_none(common / "objects" / "info" / "alternates")

    def tag_refs(self, prefixes: Sequence[str] | None = None) -> list[RefEntry]:
        """Every ``refs/tags/*`` ref, sorted by name, loose refs winning over packed.

        With ``prefixes`` only tags whose short names start with one of them are
        listed, decided before anything else is read: commands that need one
        artifact never touch (or even decode) the others.
        """
        found = self.tag_ref_map(prefixes)
        entries = []
        commits: dict[bytes, str] = {}  # peeled ids repeat (many tags per commit): one string each
        for name in sorted(found):
            sha, peeled = found[name]
            text = None
            if peeled:
                text = commits.get(peeled)
                if text is None:
                    text = commits[peeled] = peeled.decode("ascii")
            entries.append(RefEntry(_text(name[len(TAGS_PREFIX) :]), sha.decode("ascii"), text))
        return entries

    def tag_ref_map(
        self, prefixes: Sequence[str] | None = None
    ) -> dict[bytes, tuple[bytes, bytes | None]]:
        """What :meth:`tag_refs` lists, unsorted and undecoded: ``{ref: (sha, peeled)}``.

        ``peeled`` equals ``sha`` when a ``fully-peeled`` packed-refs says the ref
        names a non-tag object, and is None when nothing is known.
        """
        # surrogateescape: a command-line name in no valid UTF-8 names the same bytes as a ref
        wanted = tuple(
            TAGS_PREFIX + p.encode("utf-8", "surrogateescape") for p in prefixes or ("",)
        )
        common = self.commondir
        if prefixes and self._packed is None:  # one artifact's refs: find just those lines
            packed, fully_peeled = self._scan_packed_refs(wanted)
        else:
            packed, fully_peeled = self.packed_refs()
        if not fully_peeled:  # the values as they are
            found = {name: value for name, value in packed.items() if name.startswith(wanted)}
        else:
            found = {
                name: value if value[1] else (value[0], value[0])  # only lightweight ones copied
                for name, value in packed.items()
                if name.startswith(wanted)
            }
        for directory in sorted({os.path.dirname(p) for p in wanted}):
            for root, _dirs, files in os.walk(common / os.fsdecode(directory)):
                for file_name in files:
                    full = os.path.join(root, file_name)
                    ref = os.fsencode(os.path.relpath(full, common).replace(os.sep, "/"))
                    if ref.endswith(b".lock") or not ref.startswith(wanted):
                        continue
                    try:
                        content = _read_git_file(full)[:100].strip()
                    except OSError:
                        continue
                    if _is_sha(content):
                        found[ref] = (content, None)
        return found

    def use_cache(self) -> None:
        """Keep parsed tag objects in the git directory (see :mod:`gto_dulwich.cache`)."""
        from gto_dulwich.cache import FILE_NAME, TagCache

        self.cache = TagCache(self.commondir / FILE_NAME)

    def use_index_cache(self) -> None:
        """Keep parsed ``artifacts.yaml`` files in the git directory."""
        from gto_dulwich.cache import INDEX_FILE_NAME, IndexCache

        self.index_cache = IndexCache(self.commondir / INDEX_FILE_NAME)

    def save_cache(self) -> None:
        for cache in (self.cache, self.index_cache):
            if cache is not None:
                cache.save()

    def read_tags(
        self, entries: list[tuple[RefEntry, T]], *, release: bool = False
    ) -> Iterator[tuple[TagFact, T]]:
        """:meth:`read_tag` of each ``(entry, anything)``, yielding ``(fact, anything)``, in
        the order the objects lie in their packs.

        Reading in pack order is what makes delta chains cheap: a delta's base was
        usually just read (and kept).  Cached and unpacked objects come first.  With
        ``release`` the caller hands the list over and each item is dropped from it
        once read: 100,000 refs and parsed names need not outlive their facts.
        """
        done = cast("tuple[RefEntry, T]", None)
        if len(entries) < 2 or not self._scanner_ready():
            for index, (entry, other) in enumerate(entries):
                if release:
                    entries[index] = done
                yield self.read_tag(entry), other
            return
        scanner = self._scanner
        assert scanner is not None
        cache = self.cache
        # One int per entry (pack number and offset), not a tuple: 100,000 tags.
        places: list[int] = []
        scanner.expect(len(entries))
        for entry, _other in entries:
            found = None
            if entry.peeled != entry.sha and not (cache is not None and cache.has(entry.sha)):
                found = scanner.locate(entry.sha.encode("ascii"))
            places.append(-1 if found is None else (found[0] << 48) | found[1])
        for index in sorted(range(len(entries)), key=places.__getitem__):
            entry, other = entries[index]
            if release:
                entries[index] = done
            place = places[index]
            location = _UNPACKED if place < 0 else (place >> 48, place & _OFFSET_MASK)
            yield self.read_tag(entry, location), other

    def read_tag(self, entry: RefEntry, location: tuple[int, int] | None = None) -> TagFact:
        """Read the object behind one tag ref; never raises for a broken repository.

        ``location`` is where :meth:`read_tags` found the object in the packs.
        """
        if self.cache is not None:
            hit = self.cache.get(entry.sha)
            if hit is not None:
                tag_name, name, email, when, tz, target, target_type, message = hit
                return TagFact(
                    entry.name,
                    entry.sha,
                    "annotated",
                    target,
                    target_type,
                    entry.name if tag_name == entry.name else tag_name,  # one string, not two
                    name,
                    email,
                    when,
                    tz,
                    message,
                )
        fact = self._read_tag(entry, location)
        if self.cache is not None and fact.kind == "annotated":
            assert fact.time is not None
            assert fact.tz_offset is not None
            self.cache.put(
                entry.sha,
                (
                    fact.tag_name or "",
                    fact.tagger_name or "",
                    fact.tagger_email or "",
                    fact.time,
                    fact.tz_offset,
                    fact.target or "",
                    fact.target_type or "",
                    fact.message or "",
                ),
            )
        return fact

    def _scanner_ready(self) -> bool:
        """Open the pack reader on first use; False when it cannot serve this store."""
        if self._scanner is None:
            if not self.scan_packs:
                return False
            objects = self._own_objects_dir()
            if objects is None:
                self.scan_packs = False
                return False
            from gto_dulwich.packscan import PackScanner

            self._scanner = PackScanner(objects)
        return True

    def _own_objects_dir(self) -> str | None:
        """The object directory read here rather than by dulwich, or None (dulwich's)."""
        if self._layout is not None:  # a plain repository: SHA-1, no object directory moved
            return os.path.join(self._layout.controldir, "objects")
        from dulwich.object_store import DiskObjectStore

        store = self.dulwich.object_store
        if not isinstance(store, DiskObjectStore) or _object_id_length(store) != 20:
            return None
        return str(store.path)

    def _raw(self, sha: bytes, location: tuple[int, int] | None) -> tuple[int, bytes]:
        """An object's type and content: from its pack or its loose file when we can, else
        from dulwich (which raises KeyError for an absent object)."""
        if location is None and self._scanner_ready():
            assert self._scanner is not None
            location = self._scanner.locate(sha)
        if location is not None and location[0] >= 0:
            assert self._scanner is not None
            found = self._scanner.read(*location)
            if found is not None:
                return found
        elif self._scanner is not None and self._scanner.complete:
            # In no pack (and no pack left to dulwich, which may see it as damaged): loose?
            found = gitdir.read_loose(self._scanner.objects_dir, sha.decode("ascii"))
            if found is not None:
                return found
        from dulwich.objects import ObjectID

        return self.dulwich.object_store.get_raw(ObjectID(sha))

    def _checked(self, sha: bytes) -> tuple[int, bytes]:
        """:meth:`_raw`, with the content checked against its id, as dulwich's object store
        checks every object it hands out (a tampered commit or file is not read)."""
        type_num, raw = self._raw(sha, None)
        name = gitdir.TYPE_NAMES.get(type_num, b"")
        if hashlib.sha1(b"%s %d\0%s" % (name, len(raw), raw)).hexdigest().encode() != sha:
            raise ValueError(f"object {_text(sha[:7])} does not match its id")
        return type_num, raw

    def _read_tag(self, entry: RefEntry, location: tuple[int, int] | None = None) -> TagFact:
        if entry.peeled == entry.sha:
            # fully-peeled packed-refs says this ref names a non-tag object.
            return TagFact(entry.name, entry.sha, "lightweight", target=entry.sha)
        try:
            type_num, raw = self._raw(entry.sha.encode("ascii"), location)
        except KeyError:
            return TagFact(entry.name, entry.sha, "missing", problem="object is missing")
        except _unreadable() as exc:
            return TagFact(
                entry.name, entry.sha, "broken", problem=f"object cannot be read ({exc})"
            )
        if type_num != gitdir.TYPE_NUMBERS[b"tag"]:
            type_name = _TYPE_NAMES.get(type_num, str(type_num))
            return TagFact(
                entry.name, entry.sha, "lightweight", target=entry.sha, target_type=type_name
            )
        try:
            return self._parse_tag(entry, raw)
        except ValueError as exc:
            return TagFact(entry.name, entry.sha, "broken", problem=str(exc))

    def _parse_tag(self, entry: RefEntry, raw: bytes) -> TagFact:
        share = self._shared.setdefault
        match = _TAG_HEADER.match(raw)
        if match is not None:  # the usual shape, in one regex (the general parse below agrees)
            obj, obj_type, tag, name_raw, email_raw, when_raw, tz_raw = match.groups()
            tag_name = tag.decode("utf-8", "replace")
            body = raw[match.end() :]
            tagger = self._taggers.get((name_raw, email_raw, tz_raw))
            if tagger is None:  # a few people tag a registry: decode each of them once
                name = name_raw.strip().decode("utf-8", "replace")
                email = email_raw.decode("utf-8", "replace")
                tagger = (share(name, name), share(email, email), parse_tz(tz_raw))
                if len(self._taggers) < 65536:
                    self._taggers[name_raw, email_raw, tz_raw] = tagger
            name, email, tz = tagger
            when = int(when_raw)
        else:
            header, _, body = raw.partition(b"\n\n")
            fields: dict[bytes, bytes] = {}
            for line in header.split(b"\n"):
                key, _, value = line.partition(b" ")
                fields.setdefault(key, value)
            obj, obj_type = fields.get(b"object", b""), fields.get(b"type", b"")
            if not _is_sha(obj):
                raise ValueError("tag object has no valid 'object' line")
            if b"tagger" not in fields:
                raise ValueError("tag object has no tagger")
            name, email, when, tz = parse_identity(fields[b"tagger"])
            name, email = share(name, name), share(email, email)
            tag_name = _text(fields.get(b"tag", b""))
        signature = _SIGNATURE.search(body) if b"-----BEGIN " in body else None
        message = body[: signature.start()] if signature else body
        target, target_type = obj.decode("ascii"), _text(obj_type)
        if target_type == "tag":
            target, target_type = self._peel(target)
        # Taggers, commits and types repeat across tags: keep one string of each.
        return TagFact(
            entry.name,
            entry.sha,
            "annotated",
            share(target, target),
            share(target_type, target_type),
            entry.name if tag_name == entry.name else tag_name,
            name,
            email,
            when,
            tz,
            self._message(message),
        )

    def _message(self, raw: bytes) -> str:
        """A tag message as text; registry messages repeat ("Stage prod"), so keep one of each."""
        text = self._messages.get(raw)
        if text is None:
            text = raw.decode("utf-8", "replace").strip()
            if len(self._messages) < 65536:
                self._messages[raw] = text
        return text

    def _peel(self, sha: str, depth: int = 0) -> tuple[str, str]:
        """Follow a chain of tag objects to the object it finally names."""
        if depth > 50:
            raise ValueError("tag chain too long")
        from dulwich.objects import ObjectID, Tag

        try:
            obj = self.dulwich.object_store[ObjectID(sha.encode("ascii"))]
        except KeyError:
            raise ValueError(f"tagged object {sha[:7]} is missing") from None
        except _unreadable() as exc:
            raise ValueError(f"tagged object {sha[:7]} cannot be read ({exc})") from None
        if isinstance(obj, Tag):
            return self._peel(obj.object[1].decode("ascii"), depth + 1)
        return sha, obj.type_name.decode("ascii")

    # -- commits and files ---------------------------------------------------

    def head(self) -> str | None:
        """The checked-out commit, or None in an empty repository; read once, as the rest
        of an open repository is a snapshot (a command asks several times, and each ask
        of a packed branch would search all of ``packed-refs`` again: 10 MB at 100,000 tags).

        Resolved by hand: dulwich's ``head()`` parses the whole ``packed-refs``
        again when the branch is packed (0.7 s at 25,000 tags).
        """
        if self._head is _UNREAD:
            self._head = self._read_head()
        return cast("str | None", self._head)

    def _read_head(self) -> str | None:
        try:
            value = _read_git_file(self.controldir / "HEAD").strip()
        except OSError:
            return None
        for _ in range(5):
            if not value.startswith(b"ref: "):
                return value.decode("ascii") if _is_sha(value) else None
            name = value[5:].strip()
            try:
                value = _read_git_file(self.commondir / os.fsdecode(name)).strip()
            except OSError:
                packed = self._packed_value(name)
                return packed.decode("ascii") if packed else None
        return None

    def release_packed_refs(self) -> None:
        """Drop the parsed ``packed-refs`` (32 MB at 100,000 tags) once the tags are listed;
        a later lookup of one ref searches the file instead."""
        self._packed = None
        self._packed_data = None

    def _packed_value(self, ref: bytes) -> bytes | None:
        """What ``packed-refs`` says ``ref`` points to: the parsed file's answer, or the same
        answer found by searching the bytes for that one line."""
        if self._packed is not None:
            entry = self._packed[0].get(ref)
            return entry[0] if entry else None
        data = self._packed_data if self._packed_data is not None else self._packed_refs_bytes()
        if data is None:
            return None
        entry = scan_packed_refs(data, (ref,))[0].get(ref)
        return entry[0] if entry else None

    def commit_info(self, sha: str) -> CommitInfo | None:
        """Metadata of a commit, or None when it is absent (e.g. a shallow clone)."""
        try:
            obj = self._object(sha.encode("ascii"))
        except _unreadable(KeyError, ValueError):
            return None
        if not isinstance(obj, gitdir.CommitFields):
            return None
        author_name, author_email = _split_person(obj.author)
        committer_name, committer_email = _split_person(obj.committer)
        return CommitInfo(
            sha=sha,
            time=obj.commit_time,
            tz_offset=obj.commit_timezone,
            author_name=author_name,
            author_email=author_email,
            committer_name=committer_name,
            committer_email=committer_email,
            message=_text(obj.message),
        )

    def _object(self, sha: bytes) -> gitdir.CommitFields | gitdir.TreeEntries | None:
        """A commit's fields or a tree's entries (None: an object of another type).

        A commit or a small tree is remembered (a read asks for a commit's tree several
        times: the file's size, then its bytes, then the ``dvc.yaml`` walk), as an id
        names one content forever.  Raises what the object store raises (a missing
        object is not remembered: a remote read fetches it later).
        """
        found = self._parsed.get(sha)
        if found is not None:
            return found
        type_num, raw = self._checked(sha)
        if type_num == 1:
            found = gitdir.parse_commit(raw) or _dulwich_commit(type_num, raw)
        elif type_num == 2:
            found = gitdir.parse_tree(raw)
            if found is None:
                found = _dulwich_tree(type_num, raw)
        else:
            return None
        small = isinstance(found, gitdir.CommitFields) or len(found) <= _REMEMBERED_TREE_ENTRIES
        if small and len(self._parsed) < _REMEMBERED_OBJECTS:
            self._parsed[sha] = found
        return found

    def _tree_entry(self, commit: str, path: str) -> tuple[int, bytes] | None:
        """``(mode, sha)`` of ``path`` in ``commit``'s tree, or None when absent (a second
        walk, as when a file is sized and then read, finds the commit and trees parsed
        already: see :meth:`_object`)."""
        try:
            obj = self._object(commit.encode("ascii"))
            if not isinstance(obj, gitdir.CommitFields):
                return None
            mode, sha = 0o040000, obj.tree
            for part in path.strip("/").split("/"):
                if not mode & 0o040000:  # a file where the path wants a directory
                    return None
                tree = self._object(sha)
                if not isinstance(tree, dict):
                    return None
                mode, sha = tree[part.encode("utf-8", "surrogateescape")]
        except _unreadable(KeyError):
            return None
        return mode, sha

    def read_file(self, commit: str, path: str) -> bytes | None:
        """The bytes of ``path`` in ``commit``'s tree, or None when absent."""
        entry = self._tree_entry(commit, path)
        return None if entry is None else self._blob(entry[1])

    def _blob(self, sha: bytes) -> bytes | None:
        try:
            type_num, raw = self._checked(sha)
        except _unreadable(KeyError):
            return None
        return raw if type_num == 3 else None

    def surely_absent(self, commit: str, path: str) -> bool:
        """Whether ``path`` is surely not a file in ``commit`` (False: an object on the way is
        missing or unreadable, so the answer may change once it is fetched)."""
        try:
            obj = self._object(commit.encode("ascii"))
            if not isinstance(obj, gitdir.CommitFields):
                return True
            tree = self._object(obj.tree)
            parts = path.strip("/").split("/")
            for number, part in enumerate(parts):
                if not isinstance(tree, dict):
                    return True
                entry = tree.get(part.encode("utf-8"))
                if entry is None:
                    return True
                if number == len(parts) - 1:
                    return self._checked(entry[1])[0] != 3
                tree = self._object(entry[1])
        except Exception:  # missing or unreadable: not sure
            return False
        return True

    def commit_tree(self, commit: str) -> str | None:
        """The root tree id of ``commit``, or None when the commit cannot be read."""
        try:
            obj = self._object(commit.encode("ascii"))
        except _unreadable(KeyError, ValueError):
            return None
        return obj.tree.decode("ascii") if isinstance(obj, gitdir.CommitFields) else None

    def tree_entries(self, tree: str) -> list[tuple[str, int, str]] | None:
        """``(name, mode, sha)`` of each entry of a tree object, or None when unreadable."""
        try:
            obj = self._object(tree.encode("ascii"))
        except _unreadable(KeyError, ValueError):
            return None
        if not isinstance(obj, dict):
            return None
        return [(_text(name), mode, sha.decode("ascii")) for name, (mode, sha) in obj.items()]

    def blob_size(self, sha: str) -> int | None:
        """A blob's size from its object header, without inflating it (None: not known)."""
        return self._object_size(sha.encode("ascii"))

    def read_blob(self, sha: str) -> bytes | None:
        """The bytes of a blob by id, or None when it is absent or not a blob."""
        try:
            return self._blob(sha.encode("ascii"))
        except ValueError:  # not an id
            return None

    def file_size(self, commit: str, path: str) -> int | None:
        """The size of ``path`` in ``commit`` from its object header, without inflating
        it: a compressed "zip bomb" of a blob is refused for free (None: not known)."""
        entry = self._tree_entry(commit, path)
        return None if entry is None else self._object_size(entry[1])

    def _object_size(self, sha: bytes) -> int | None:
        """An object's size from its header alone (None: not known that way)."""
        try:
            if self._scanner_ready():
                assert self._scanner is not None
                found = self._scanner.locate(sha)
                if found is None:
                    return gitdir.loose_size(self._scanner.objects_dir, sha.decode("ascii"))
                return self._scanner.size(*found)
            from dulwich.objects import ObjectID

            from gto_dulwich.packscan import entry_size

            store = self.dulwich.object_store
            for pack in store.packs:
                try:
                    offset = pack.index.object_offset(ObjectID(sha))
                except KeyError:
                    continue
                with open(pack.data._filename, "rb") as handle:
                    handle.seek(offset)
                    return entry_size(handle.read(512))
            with open(store._get_shafile_path(ObjectID(sha)), "rb") as handle:  # type: ignore[attr-defined, unused-ignore]
                head = zlib.decompressobj().decompress(handle.read(512), 64)
            return int(head.split(b"\0", 1)[0].split(b" ", 1)[1])
        except Exception:  # an unusual store: the caller reads the object instead
            return None

    def path_exists(self, commit: str, path: str) -> bool:
        """Whether ``path`` (a file or a directory) is committed in ``commit``'s tree."""
        return self._tree_entry(commit, path) is not None

    # -- writes -----------------------------------------------------------

    def tag_ref_names(self, prefixes: Sequence[str] | None = None) -> list[str]:
        """Names of tag refs (no object reads): what a counter scan needs."""
        return [entry.name for entry in self.tag_refs(prefixes)]

    def create_tag(
        self, name: str, target: str, message: str, tagger: bytes, time: int, tz_offset: int
    ) -> str | None:
        """Write an annotated tag object, then claim ``refs/tags/<name>`` atomically.

        Returns the tag object's sha, or None when the ref already exists (the
        object then stays unreferenced, which is harmless; the ref is the
        commit point, so no tag is ever half-written).  Raises ``FileLocked``
        from dulwich when another writer holds the ref's lock right now.
        """
        from dulwich.objects import ObjectID, Tag
        from dulwich.refs import Ref, check_ref_format

        ref = TAGS_PREFIX + name.encode("utf-8")
        if not check_ref_format(Ref(ref[len(b"refs/") :])):
            raise GTOError(f"'{name}' is not a valid git tag name")
        try:
            target_obj = self.dulwich.object_store[ObjectID(target.encode("ascii"))]
        except _unreadable(KeyError):
            raise GTOError(
                f"Cannot tag commit {target[:7]}: it is not in this repository (a shallow clone?)"
            ) from None
        tag = Tag()
        tag.name = name.encode("utf-8")
        tag.object = (type(target_obj), target_obj.id)
        tag.tagger = tagger
        tag.tag_time = time
        tag.tag_timezone = tz_offset
        tag.message = message.encode("utf-8", "surrogateescape") + b"\n"
        self._store(tag)
        if self._claim_ref(ref, tag.id):
            return tag.id.decode("ascii")
        return None

    def _store(self, obj: Tag) -> None:
        """Add an object unless it is there; objects are content-addressed, so two
        writers can make the very same one (same tagger, time and message)."""
        from dulwich.file import FileLocked

        store = self.dulwich.object_store
        if obj.id in store:
            return
        try:
            store.add_object(obj)
        except FileLocked as exc:
            # The other writer is storing these same bytes right now: retry shortly.
            raise RefBusy(_lock_name(exc)) from None
        except OSError as exc:  # a read-only repository, a full disk
            raise CannotWrite(exc) from None

    def _claim_ref(self, ref: bytes, sha: bytes) -> bool:
        """Create ``ref`` only if it does not exist, with git's own lock protocol.

        What dulwich's ``add_if_new`` does, without re-parsing all of
        ``packed-refs`` (0.5 s at 25,000 tags): take ``<ref>.lock`` with
        ``O_EXCL``, check under the lock that neither a loose nor a packed ref
        exists, write the lock file and rename it into place.  Raises
        :class:`RefBusy` while another writer (git included) holds the lock.
        """
        path = self.commondir / os.fsdecode(ref)
        lock = path.with_name(path.name + ".lock")
        conflict = GTOError(f"'{_text(ref)}' conflicts with an existing tag name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise conflict from None
        except OSError as exc:
            raise CannotWrite(exc) from None
        fd = try_lock(lock, 0o666, on_error=lambda exc: _conflict_or_cannot_write(exc, conflict))
        done = False
        try:
            if path.is_dir():
                raise conflict
            if path.exists() or self._packed_has(ref):
                return False
            try:
                os.write(fd, sha + b"\n")
                os.fsync(fd)
                os.close(fd)
                fd = -1
                os.rename(lock, path)
            except IsADirectoryError:
                raise conflict from None
            except OSError as exc:
                raise CannotWrite(exc) from None
            done = True
            return True
        finally:
            if fd >= 0:
                os.close(fd)
            if not done:
                lock.unlink(missing_ok=True)

    def _packed_has(self, ref: bytes) -> bool:
        """Whether ``packed-refs`` (read fresh) lists ``ref``: one byte search, no parse."""
        data = self._packed_refs_bytes()
        if data is None:
            return False
        line = b" " + ref
        at = data.find(line)
        while at >= 0:
            end = at + len(line)
            if end == len(data) or data[end : end + 1] in (b"\n", b"\r"):
                return True
            at = data.find(line, end)
        return False

    def add_tag_ref(self, ref: bytes, sha: bytes) -> bool:
        """Create ``ref`` (a full ``refs/tags/...`` name) at ``sha`` unless it exists."""
        return patiently(lambda: self._claim_ref(ref, sha), lambda busy: RefLocked(str(busy)))

    def move_tag_ref(self, ref: bytes, old: bytes, new: bytes) -> bool:
        """Point ``ref`` at ``new`` only if it still points at ``old``."""
        from dulwich.objects import ObjectID
        from dulwich.refs import Ref

        return bool(self.dulwich.refs.set_if_equals(Ref(ref), ObjectID(old), ObjectID(new)))

    def delete_tag(self, name: str, expected_sha: str) -> bool:
        """Remove ``refs/tags/<name>`` only if it still points at ``expected_sha``.

        Raises :class:`RefBusy` while another writer holds the ref's (or
        ``packed-refs``') lock.
        """
        from dulwich.file import FileLocked
        from dulwich.objects import ObjectID
        from dulwich.refs import Ref

        ref = Ref(TAGS_PREFIX + name.encode("utf-8"))
        try:
            removed = self.dulwich.refs.remove_if_equals(
                ref, ObjectID(expected_sha.encode("ascii"))
            )
        except FileLocked as exc:
            raise RefBusy(_lock_name(exc)) from None
        except OSError as exc:
            raise CannotWrite(exc) from None
        return bool(removed)

    def resolve(self, rev: str) -> str:
        """A revision to a commit sha: a branch, tag or (short) sha, then any chain of
        ``~N``, ``^N`` and ``^{commit}`` suffixes, as git reads them."""
        from dulwich.objectspec import parse_commit

        match = _REV_SUFFIXES.match(rev)
        base, suffixes = (match.group(1), match.group(2)) if match else (rev, "")
        try:
            known = self._lookup(base)
            if known is None and base == "HEAD":
                raise KeyError(base)  # no commit checked out, or a HEAD we cannot read
            commit = self._peel_commit(known) if known else parse_commit(self.dulwich, base)
            for op, number in _REV_STEP.findall(suffixes):
                if op == "^{commit}":
                    continue
                steps = int(number) if number else 1
                if op == "^":
                    if steps == 0:
                        continue
                    commit = self._commit(commit.parents[steps - 1])
                else:
                    for _ in range(steps):
                        commit = self._commit(commit.parents[0])
        except _unreadable(KeyError, ValueError, IndexError, NotImplementedError):
            raise UnknownRevision(rev) from None
        return commit.id.decode("ascii")

    def _lookup(self, name: str) -> bytes | None:
        """HEAD, a full sha, or a ref name git would try (refs/, tags, heads, remotes).

        Answered from our own reads; dulwich's lookup would parse all of
        ``packed-refs`` again (0.5 s at 100,000 tags).  None: let dulwich try
        (short shas and the like).
        """
        if name == "HEAD":
            head = self.head()
            return head.encode("ascii") if head else None
        raw = name.encode("utf-8")
        if _is_sha(raw):
            return raw
        packed = self.packed_refs()[0]
        for ref in (
            raw,
            b"refs/" + raw,
            b"refs/tags/" + raw,
            b"refs/heads/" + raw,
            b"refs/remotes/" + raw,
        ):
            if not ref.startswith(b"refs/"):
                continue
            try:
                value = _read_git_file(self.commondir / os.fsdecode(ref)).strip()
            except OSError:
                entry = packed.get(ref)
                value = entry[0] if entry else b""
            if _is_sha(value):
                return value
        return None

    def _peel_commit(self, sha: bytes) -> Commit:
        from dulwich.objects import Commit, ObjectID, Tag

        obj = self.dulwich.object_store[ObjectID(sha)]
        for _ in range(50):
            if not isinstance(obj, Tag):
                break
            obj = self.dulwich.object_store[obj.object[1]]
        if not isinstance(obj, Commit):
            raise KeyError(sha)
        return obj

    def _commit(self, sha: bytes) -> Commit:
        from dulwich.objects import Commit, ObjectID

        obj = self.dulwich.object_store[ObjectID(sha)]
        if not isinstance(obj, Commit):
            raise KeyError(sha)
        return obj


_REV_SUFFIXES = re.compile(r"^(.+?)((?:~\d*|\^\{commit\}|\^\d*)*)$")
_REV_STEP = re.compile(r"(~|\^\{commit\}|\^)(\d*)")


def _conflict_or_cannot_write(exc: OSError, conflict: GTOError) -> GTOError:
    """A lock that cannot be made because a tag's name runs into another's is a name
    conflict; any other refusal (read-only, a name too long) is the file system's."""
    if isinstance(exc, (NotADirectoryError, IsADirectoryError)):
        return conflict
    return CannotWrite(exc)


def _lock_name(exc: Exception) -> str:
    """The lock file named by dulwich's ``FileLocked(filename, lockfilename)``."""
    name = exc.args[-1] if exc.args else "lock"
    return os.fsdecode(name) if isinstance(name, (str, bytes)) else str(name)


def _object_id_length(store: DiskObjectStore) -> int:
    """Bytes per object id (20 for SHA-1; dulwich also reads SHA-256 repositories)."""
    object_format = getattr(store, "object_format", None)
    return int(getattr(object_format, "oid_length", 20))


def _dulwich_commit(type_num: int, raw: bytes) -> gitdir.CommitFields:
    """A commit of an unusual shape, as dulwich parses it (or the error it raises)."""
    from dulwich.objects import Commit, ShaFile

    obj = ShaFile.from_raw_string(type_num, raw)
    assert isinstance(obj, Commit)
    return gitdir.CommitFields(
        obj.tree, obj.author, obj.committer, obj.commit_time, obj.commit_timezone, obj.message
    )


def _dulwich_tree(type_num: int, raw: bytes) -> gitdir.TreeEntries:
    """A tree of an unusual shape, as dulwich parses and orders it (or the error it raises)."""
    from dulwich.objects import ShaFile, Tree

    obj = ShaFile.from_raw_string(type_num, raw)
    assert isinstance(obj, Tree)
    return {entry.path: (entry.mode, entry.sha) for entry in obj.iteritems()}


def _split_person(raw: bytes) -> tuple[str, str]:
    lt, gt = raw.find(b"<"), raw.rfind(b">")
    if lt < 0 or gt < lt:
        return _text(raw.strip()), ""
    return _text(raw[:lt].strip()), _text(raw[lt + 1 : gt])
