"""Index a received pack in one sequential pass, the way ``git index-pack`` does.

dulwich's ``add_thin_pack`` copies the stream through a Python reader, walks
every delta chain object by object and then parses every object into a
``ShaFile`` again before moving the pack in: at 25,000 tags that is most of a
remote read's time.  A registry's fetch is a pack of tag objects and commits:
this module inflates each entry once (one ``zlib`` call each), hashes it, resolves
``OFS_DELTA`` / in-pack ``REF_DELTA`` entries against bases it already holds,
and writes the pack and a version-2 ``.idx`` next to the store's other packs.

It is only a shortcut.  Anything it does not handle returns None and the caller
hands the same bytes to dulwich: a thin pack (a base not in the pack), a delta
against an object too big to keep, an unknown version or type, and every sign of
damage (a short stream, a size that does not match its header, a checksum that
does not match), so a broken pack fails exactly as it did.  Like ``git
index-pack`` without ``--strict``, it does not parse the objects: a malformed
object reaches the registry's reader, which makes it a diagnostic, as a local
read of the same repository does.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gto_dulwich.gitdir import TYPE_NAMES
from gto_dulwich.packscan import apply_delta

#: Objects up to this size are kept in memory as possible delta bases (a registry's
#: tags, commits, trees); a larger one is inflated in pieces and hashed as it goes, so
#: a ``get`` of a big file holds a few megabytes, never the file.  A delta against such
#: an object, or more than :data:`_MAX_INFLATED` kept in all, goes to dulwich.
_MAX_OBJECT = 1 << 20
_MAX_INFLATED = 64 << 20
#: Input and output piece of a streamed object, and how much of a mapped pack may stay
#: resident before it is given back to the kernel.
_PIECE = 1 << 20
_RESIDENT = 4 << 20

#: The types whose content :func:`index_pack` hands back when asked (``kept``): what a
#: registry reads of every tag, so the reader need not find and inflate them again.
_KEPT_TYPES = frozenset({1, 4})
_OFS_DELTA, _REF_DELTA = 6, 7
_HASH = 20

Buffer = bytes | mmap.mmap
#: Hex id -> (type number, content) of objects whose id was computed from that content.
Kept = dict[bytes, tuple[int, bytes]]


class _Released:
    """Gives the pages of a mapped pack already read back to the kernel: a mapped
    file's pages count as the process's memory, and a big pack would otherwise all be."""

    def __init__(self, data: Buffer) -> None:
        self._map = data if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED") else None
        self._done = 0

    def upto(self, pos: int) -> None:
        if self._map is None or pos - self._done < _RESIDENT:
            return
        cut = pos - pos % mmap.PAGESIZE
        self._map.madvise(mmap.MADV_DONTNEED, self._done, cut - self._done)
        self._done = cut


def index_pack(data: Buffer, kept: Kept | None = None) -> list[tuple[bytes, int, int]] | None:
    """``[(binary id, offset, crc32)]`` of every object in the pack ``data``, or None.

    With ``kept``, the content of each commit and tag is put there under its hex id: the
    id was just computed from that content, so it is the object, whatever the server
    claimed.  Filled as objects are read: when the answer is None, the ones read so far.
    """
    if len(data) < 12 + _HASH or data[:4] != b"PACK":
        return None
    with memoryview(data) as view:
        return _index(data, view, _Released(data), kept)


def _index(
    data: Buffer, view: memoryview, released: _Released, kept: Kept | None
) -> list[tuple[bytes, int, int]] | None:
    version = int.from_bytes(view[4:8], "big")
    count = int.from_bytes(view[8:12], "big")
    if version not in (2, 3):
        return None
    end = len(view) - _HASH
    digest = hashlib.sha1()
    for piece in range(0, end, _PIECE):
        digest.update(view[piece : min(end, piece + _PIECE)])
        released.upto(piece)
    if digest.digest() != view[end:]:
        return None
    indexer = _Indexer(count, kept)
    if indexer.advance(view, end, _Released(data), final=True) is not True or indexer.pos != end:
        return None
    return indexer.entries


#: What :meth:`_Indexer.advance` answers when the bytes so far end inside an object.
_MORE = False


class _Indexer:
    """The objects of one pack, read in order from ``view[pos:]``, as far as they go.

    :func:`index_pack` runs it once over a whole pack; a :class:`PackReceiver` runs it
    each time another piece of a pack arrives, so that the objects are inflated and
    hashed while the server is still sending the rest.
    """

    def __init__(self, count: int, kept: Kept | None) -> None:
        self.count = count
        self.kept = kept
        self.pos = 12
        self.objects: dict[int, tuple[int, bytes | None]] = {}  # offset -> (type, content)
        self.by_id: dict[bytes, int] = {}
        self.entries: list[tuple[bytes, int, int]] = []
        self.inflated = 0

    def advance(
        self, view: memoryview, end: int, released: _Released, *, final: bool
    ) -> bool | None:
        """Read the objects lying whole in ``view[:end]``: True when all ``count`` are
        read, :data:`_MORE` when the bytes end inside one (only when not ``final``), None
        for anything the caller must hand to dulwich."""
        objects, by_id, entries, kept = self.objects, self.by_id, self.entries, self.kept
        while len(entries) < self.count:
            start = pos = self.pos
            if pos >= end:
                return None if final else _MORE
            byte = view[pos]
            pos += 1
            type_num = (byte >> 4) & 7
            size = byte & 0x0F
            shift = 4
            while byte & 0x80:
                if pos >= end or shift > 63:
                    return None if final or shift > 63 else _MORE
                byte = view[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
            base: tuple[int, bytes | None] | None = None
            if type_num == _OFS_DELTA:
                if pos >= end:
                    return None if final else _MORE
                byte = view[pos]
                pos += 1
                back = byte & 0x7F
                while byte & 0x80:
                    if pos >= end:
                        return None if final else _MORE
                    byte = view[pos]
                    pos += 1
                    back = ((back + 1) << 7) | (byte & 0x7F)
                base = objects.get(start - back)
            elif type_num == _REF_DELTA:
                if pos + _HASH > end:
                    return None if final else _MORE
                base_offset = by_id.get(bytes(view[pos : pos + _HASH]))
                pos += _HASH
                base = None if base_offset is None else objects.get(base_offset)
            elif type_num not in TYPE_NAMES:
                return None
            elif size > _MAX_OBJECT:
                if not final:
                    return None  # streamed in pieces: only over a whole pack
                header = TYPE_NAMES[type_num] + b" " + str(size).encode("ascii") + b"\0"
                streamed = _stream(view, start, pos, end, size, header, released)
                if streamed is None:
                    return None
                binsha, crc, pos = streamed
                objects[start] = (type_num, None)
                by_id[binsha] = start
                entries.append((binsha, start, crc))
                released.upto(start)
                self.pos = pos
                continue
            if type_num in (_OFS_DELTA, _REF_DELTA) and (base is None or base[1] is None):
                return None  # thin, a base after its delta, or one too big to keep: dulwich's
            if size > _MAX_OBJECT:
                return None  # a delta this big is dulwich's to resolve
            content, pos = _inflate(view, pos, end, size, final=final)
            if content is None:
                return None
            if content is _MORE:
                return _MORE
            assert isinstance(content, bytes)
            if base is not None:
                assert base[1] is not None
                patched = apply_delta(base[1], content)
                if patched is None:
                    return None
                type_num, content = base[0], patched
            self.inflated += len(content)
            if self.inflated > _MAX_INFLATED:
                return None
            header = TYPE_NAMES[type_num] + b" " + str(len(content)).encode("ascii") + b"\0"
            binsha = hashlib.sha1(header + content).digest()
            objects[start] = (type_num, content)
            if kept is not None and type_num in _KEPT_TYPES:
                kept[binsha.hex().encode("ascii")] = (type_num, content)
            by_id[binsha] = start
            entries.append((binsha, start, zlib.crc32(view[start:pos])))
            released.upto(start)
            self.pos = pos
        return True


def _stream(
    view: memoryview,
    start: int,
    pos: int,
    end: int,
    size: int,
    header: bytes,
    released: _Released,
) -> tuple[bytes, int, int] | None:
    """Id, crc32 and end of the big object whose zlib stream is at ``pos``, in pieces."""
    digest = hashlib.sha1(header)
    crc = zlib.crc32(view[start:pos])
    inflater = zlib.decompressobj()
    done = 0
    try:
        while not inflater.eof:
            fed = view[pos : min(end, pos + _PIECE)]
            if not fed:
                return None
            data: bytes | memoryview = fed
            while True:
                # Bounded output: a small stream that inflates to gigabytes stops early.
                out = inflater.decompress(data, _PIECE)
                done += len(out)
                if done > size:
                    return None  # more than the header said
                digest.update(out)
                if inflater.eof or not inflater.unconsumed_tail:
                    break
                data = inflater.unconsumed_tail
            used = len(fed) - len(inflater.unused_data) - len(inflater.unconsumed_tail)
            crc = zlib.crc32(fed[:used], crc)
            pos += used
            released.upto(pos)
    except zlib.error:
        return None
    return (digest.digest(), crc, pos) if done == size else None


def _inflate(
    view: memoryview, pos: int, end: int, size: int, *, final: bool = True
) -> tuple[bytes | bool | None, int]:
    """The ``size`` bytes of the zlib stream at ``pos``, and where the stream ends; None
    for a broken stream, :data:`_MORE` (unless ``final``) when ``view[:end]`` ends in it."""
    inflater = zlib.decompressobj()
    chunk = size + 64
    out = b""
    try:
        while True:
            fed = view[pos : min(end, pos + chunk)]
            if not fed:
                return (None if final else _MORE), pos
            out += inflater.decompress(fed, size + 1 - len(out))
            if inflater.unconsumed_tail or len(out) > size:
                return None, pos  # more output than the header said
            pos += len(fed) - len(inflater.unused_data)
            if inflater.eof:
                break
            chunk *= 2
    except zlib.error:
        return None, pos
    return (out if len(out) == size else None), pos


#: A :class:`PackReceiver` indexes once so many more bytes have arrived.
_STEP = 64 << 10


class PackReceiver:
    """A fetch's pack as it arrives (:meth:`write` is dulwich's ``pack_data``), its objects
    inflated, hashed and kept as they complete, while the server still sends the rest.

    A pack larger than ``limit`` goes to ``spill`` (a file) instead, unindexed, for
    :func:`add_pack_file`; anything the indexer declines (see :func:`index_pack`) leaves
    the whole pack to the caller, in :attr:`data`.
    """

    def __init__(self, spill: IO[bytes], limit: int) -> None:
        self.spill = spill
        self.limit = limit
        self.size = 0
        #: The pack so far; None once it went to ``spill``.
        self.data: bytearray | None = bytearray()
        #: Commits and tags indexed so far (see :func:`index_pack`).
        self.kept: Kept = {}
        self._indexer: _Indexer | None = None
        self._state: bool | None = _MORE
        self._mark = 0

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        data = self.data
        if data is None:
            self.spill.write(piece)
            return
        if self.size > self.limit:
            self.spill.write(data)
            self.spill.write(piece)
            self.data = None
            self._state = None
            return
        data += piece
        if self._state is _MORE and len(data) - self._mark >= _STEP:
            self._advance(final=False)

    def _advance(self, *, final: bool) -> None:
        data = self.data
        assert data is not None
        self._mark = len(data)
        with memoryview(data) as view:
            if self._indexer is None:
                if len(view) < 12:
                    self._state = None if final else _MORE
                    return
                version = int.from_bytes(view[4:8], "big")
                if bytes(view[:4]) != b"PACK" or version not in (2, 3):
                    self._state = None
                    return
                self._indexer = _Indexer(int.from_bytes(view[8:12], "big"), self.kept)
            end = len(view) - _HASH if final else len(view)
            self._state = self._indexer.advance(view, end, _Released(b""), final=final)

    def add_to(self, pack_dir: str | os.PathLike[str]) -> list[bytes] | None:
        """Once the whole pack is here: write it and its index into ``pack_dir`` and
        answer the hex ids it holds, or None (spilled, declined or damaged)."""
        data = self.data
        if data is None or len(data) < 12 + _HASH:
            return None
        if self._state is _MORE:
            self._advance(final=True)
        indexer = self._indexer
        if self._state is not True or indexer is None or indexer.pos != len(data) - _HASH:
            return None
        with memoryview(data) as view:
            checksum = bytes(view[-_HASH:])
            if hashlib.sha1(view[:-_HASH]).digest() != checksum:
                return None
        entries = indexer.entries
        _install(pack_dir, entries, checksum, lambda handle: handle.write(data))
        return [binsha.hex().encode("ascii") for binsha, _offset, _crc in entries]


def add_pack(
    pack_dir: str | os.PathLike[str], data: bytes, kept: Kept | None = None
) -> list[bytes] | None:
    """Index ``data`` and move it into ``pack_dir``; the hex ids it holds, or None.

    ``kept`` as for :func:`index_pack`.
    """
    entries = index_pack(data, kept)
    if entries is None:
        return None
    _install(pack_dir, entries, data[-_HASH:], lambda handle: handle.write(data))
    return [binsha.hex().encode("ascii") for binsha, _offset, _crc in entries]


def add_pack_file(
    pack_dir: str | os.PathLike[str], pack: IO[bytes], kept: Kept | None = None
) -> list[bytes] | None:
    """Like :func:`add_pack` for a pack in an open file, which is mapped and copied in
    pieces, never read whole: a pack holding a big file costs a few megabytes."""
    pack.flush()  # the mapping sees the file, not what is still in a write buffer
    pack.seek(0, os.SEEK_END)
    if pack.tell() < 12 + _HASH:
        return None
    with mmap.mmap(pack.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        entries = index_pack(mapped, kept)
        checksum = mapped[-_HASH:]
    if entries is None:
        return None

    def copy(handle: IO[bytes]) -> None:
        pack.seek(0)
        shutil.copyfileobj(pack, handle, _PIECE)

    _install(pack_dir, entries, checksum, copy)
    return [binsha.hex().encode("ascii") for binsha, _offset, _crc in entries]


def _install(
    pack_dir: str | os.PathLike[str],
    entries: list[tuple[bytes, int, int]],
    checksum: bytes,
    write_pack: Callable[[IO[bytes]], object],
) -> None:
    base = Path(pack_dir) / f"pack-{checksum.hex()}"
    pack_path, idx_path = base.with_suffix(".pack"), base.with_suffix(".idx")

    def write_index(handle: IO[bytes]) -> object:
        return handle.write(index_v2(sorted(entries), checksum))

    # The index last, each complete before its rename: a pack is visible only when whole.
    for path, write in ((pack_path, write_pack), (idx_path, write_index)):
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:
            write(handle)
        os.replace(temporary, path)


def index_v2(entries: list[tuple[bytes, int, int]], checksum: bytes) -> bytes:
    """The version-2 ``.idx`` of ``entries`` (sorted by id) for the pack ``checksum``:
    dulwich's ``write_pack_index_v2`` byte for byte, built with a few C calls instead of
    one ``struct.pack`` and write per field of each of 25,000 objects."""
    count = len(entries)
    fanout = [0] * 256
    for name, _offset, _crc in entries:
        fanout[name[0]] += 1
    total = 0
    for first in range(256):
        total += fanout[first]
        fanout[first] = total
    offsets: list[int] = []
    large: list[int] = []
    for _name, offset, _crc in entries:
        if offset < 1 << 31:
            offsets.append(offset)
        else:
            offsets.append((1 << 31) + len(large))
            large.append(offset)
    body = b"".join(
        (
            b"\377tOc",
            struct.pack(">L", 2),
            struct.pack(">256L", *fanout),
            b"".join(name for name, _offset, _crc in entries),
            struct.pack(f">{count}L", *(crc for _name, _offset, crc in entries)),
            struct.pack(f">{count}L", *offsets),
            struct.pack(f">{len(large)}Q", *large),
            checksum,
        )
    )
    return body + hashlib.sha1(body).digest()
