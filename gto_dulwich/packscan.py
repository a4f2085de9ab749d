"""Read objects straight out of pack files, the way git does for a scan.

dulwich looks an object up one at a time: a ``multi-pack-index`` ``stat``, an
index bisect, a loose-object ``stat`` on every miss, then a chunked inflate
through several layers of Python (about 30 µs per tag object, half of a cold
read).  A registry read asks for thousands of objects at once, so this module
maps each pack once, turns its ``.idx`` into one ``{id: offset}`` table (or
bisects it when only a few objects are wanted) and inflates each object with
one ``zlib.decompress`` call.

It is only a shortcut.  Delta-encoded objects (``OFS_DELTA``, and ``REF_DELTA`` with
a base in the same pack) are resolved here too, with a small cache of bases:
git deltifies most tag objects of a registry when it repacks (97% of 25,000
after ``git repack -adf``), and a clone receives them that way.

It is only a shortcut.  Anything it does not handle exactly as dulwich does
returns None and the caller asks dulwich for that one object: loose objects,
alternates, deltas whose base is in another pack, index versions other than
2, and every sign of damage (a short or inconsistent
index, an offset past the end of the pack, a stream that does not inflate to
the size its header states).  So a damaged pack gives exactly the diagnostics
the object store gives, and the two readers agree on every object
(tests/test_packscan.py holds them to it).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from array import array
from pathlib import Path
from sys import byteorder

_IDX_MAGIC = b"\377tOc"
_FANOUT = 8  # the fan-out table starts after the magic and the version
_NAMES = _FANOUT + 256 * 4
_HASH = 20  # SHA-1 object ids
# Pack object types that are whole objects (commit, tree, blob, tag); 6 and 7 are deltas.
_WHOLE = frozenset((1, 2, 3, 4))
_OFS_DELTA, _REF_DELTA = 6, 7
# Below this share of an index's objects, bisect per object instead of building a table
# (a table costs ~0.2 us an object in the index, a bisect ~3 us a lookup).
_TABLE_SHARE = 16
# A table costs ~110 bytes per object: a pack of millions of objects (a monorepo's) is
# bisected instead (~5 µs per lookup).
_TABLE_MAX = 250_000
# Resolved objects kept as possible delta bases (git keeps 96 MB): so many (tag objects
# are ~200 bytes), and never more than so many bytes of them.
_CACHE_ENTRIES = 1 << 16
_CACHE_BYTES = 16 << 20
_CACHE_OBJECT = 64 * 1024
# Objects larger than this (a tag object is a few hundred bytes) are left to dulwich.
_MAX_OBJECT = 64 << 20
# Objects read between two releases of the mapped pages.
_RELEASE_EVERY = 4096
# git allows delta chains of up to 4095 objects.
_MAX_CHAIN = 5000


class _Pack:
    """One ``pack-*.pack`` with its ``.idx``, both mapped read-only on first use."""

    def __init__(self, idx_path: str, pack_path: str) -> None:
        self.idx_path = idx_path
        self.pack_path = pack_path
        self._idx: mmap.mmap | None = None
        self._data: mmap.mmap | None = None
        self.count = 0
        self._offsets: array[int] | None = None
        self.table: dict[bytes, int] | None = None
        self._cache: dict[int, tuple[int, bytes]] = {}
        self._cached_bytes = 0
        self.usable = self._open()

    def _open(self) -> bool:
        """Map both files and check the index's shape; False: leave this pack to dulwich."""
        try:
            with open(self.idx_path, "rb") as handle:
                idx = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self._idx = idx
            with open(self.pack_path, "rb") as handle:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self._data = data
        except (OSError, ValueError):  # missing, unreadable or empty (mmap refuses 0 bytes)
            return False
        if idx[:4] != _IDX_MAGIC or int.from_bytes(idx[4:8], "big") != 2 or len(idx) < _NAMES:
            return False
        if data[:4] != b"PACK" or int.from_bytes(data[4:8], "big") not in (2, 3):
            return False
        if len(data) < 32 or idx[-2 * _HASH : -_HASH] != data[-_HASH:]:
            return False  # the index was written for another pack (git checks this too)
        self.count = count = int.from_bytes(idx[_NAMES - 4 : _NAMES], "big")
        # names, CRC-32s and 4-byte offsets, then 8-byte offsets, then two checksums
        if len(idx) < _NAMES + count * (_HASH + 8) + 2 * _HASH:
            return False
        offsets = array("I")
        start = _NAMES + count * (_HASH + 4)
        offsets.frombytes(idx[start : start + 4 * count])
        if byteorder == "little":
            offsets.byteswap()
        self._offsets = offsets
        return True

    def close(self) -> None:
        for mapped in (self._idx, self._data):
            if mapped is not None:
                mapped.close()
        self._idx = self._data = None
        self.usable = False

    def release_pages(self) -> None:
        """Drop the mapped pages from memory (they are read again from the file if needed)."""
        for mapped in (self._data, self._idx if self.table is not None else None):
            if mapped is not None and hasattr(mmap, "MADV_DONTNEED"):
                with contextlib.suppress(OSError, ValueError):
                    mapped.madvise(mmap.MADV_DONTNEED)

    def build_table(self) -> None:
        """``{binary id: index position}`` for every object: one pass, for many lookups."""
        idx = self._idx
        assert idx is not None
        names = idx[_NAMES : _NAMES + self.count * _HASH]
        keys = [names[i : i + _HASH] for i in range(0, len(names), _HASH)]
        self.table = dict(zip(keys, range(self.count), strict=True))

    def position(self, binsha: bytes) -> int | None:
        """Where ``binsha`` is in the index, or None."""
        table = self.table
        if table is not None:
            return table.get(binsha)
        idx = self._idx
        assert idx is not None
        first = binsha[0]
        fanout = _FANOUT + 4 * first
        low = int.from_bytes(idx[fanout - 4 : fanout], "big") if first else 0
        high = int.from_bytes(idx[fanout : fanout + 4], "big")
        if high > self.count or low > high:
            return None  # a damaged fan-out table
        while low < high:
            middle = (low + high) // 2
            at = _NAMES + middle * _HASH
            name = idx[at : at + _HASH]
            if name < binsha:
                low = middle + 1
            elif name > binsha:
                high = middle
            else:
                return middle
        return None

    def offset(self, position: int) -> int | None:
        assert self._offsets is not None
        assert self._idx is not None
        offset = self._offsets[position]
        if offset & 0x80000000:  # an index into the table of 8-byte offsets
            at = _NAMES + self.count * (_HASH + 8) + 8 * (offset & 0x7FFFFFFF)
            if at + 8 > len(self._idx) - 2 * _HASH:
                return None
            offset = int.from_bytes(self._idx[at : at + 8], "big")
        return offset

    def _header(self, offset: int) -> tuple[int, int, int] | None:
        """``(type, size, where the data starts)`` of the object at ``offset``."""
        data = self._data
        assert data is not None
        end = len(data) - _HASH  # the pack's trailing checksum
        if not 12 <= offset < end:
            return None
        byte = data[offset]
        type_num = (byte >> 4) & 7
        size = byte & 15
        shift = 4
        at = offset + 1
        while byte & 0x80:
            if at >= end or shift > 63:
                return None
            byte = data[at]
            size |= (byte & 0x7F) << shift
            shift += 7
            at += 1
        return type_num, size, at

    def _inflate(self, at: int, size: int) -> bytes | None:
        """The zlib stream at ``at``, if it inflates to exactly ``size`` bytes."""
        data = self._data
        assert data is not None
        if size > _MAX_OBJECT:
            return None  # a damaged header (or a huge object): dulwich decides
        # zlib never grows data by more than 5 bytes per 16 KiB block plus 6; it stops at the
        # end of the stream and ignores what follows, so no object end needs to be known.
        limit = min(len(data) - _HASH, at + size + (size >> 10) + 64)
        try:
            content = zlib.decompress(data[at:limit], bufsize=size or 1)
        except zlib.error:
            return None
        return content if len(content) == size else None

    def read(self, offset: int) -> tuple[int, bytes] | None:
        """``(type, content)`` of the object at ``offset``, deltas applied; None on damage."""
        cache = self._cache
        found = cache.get(offset)
        if found is not None:
            return found
        data = self._data
        assert data is not None
        # Walk down the delta chain to a whole (or already resolved) object ...
        deltas: list[tuple[int, int, int]] = []  # (offset, size, data start) of each delta
        base: tuple[int, bytes] | None = None
        at_offset = offset
        while base is None:
            header = self._header(at_offset)
            if header is None or len(deltas) > _MAX_CHAIN:
                return None
            type_num, size, at = header
            if type_num in _WHOLE:
                content = self._inflate(at, size)
                if content is None:
                    return None
                base = (type_num, content)
                if deltas:  # kept only as a base: a pack without deltas keeps nothing
                    self._remember(at_offset, base)
                break
            if type_num == _OFS_DELTA:
                if at >= len(data):
                    return None
                byte = data[at]
                distance = byte & 0x7F
                at += 1
                while byte & 0x80:
                    if at >= len(data) or distance > 1 << 56:
                        return None
                    byte = data[at]
                    distance = ((distance + 1) << 7) | (byte & 0x7F)
                    at += 1
                base_offset = at_offset - distance
            elif type_num == _REF_DELTA:
                position = self.position(bytes(data[at : at + _HASH]))
                at += _HASH
                located = None if position is None else self.offset(position)
                if located is None:
                    return None  # a base in another pack (a thin pack): dulwich finds it
                base_offset = located
            else:
                return None
            if _bad_base(base_offset, at_offset, type_num):
                return None
            deltas.append((at_offset, size, at))
            at_offset = base_offset
            base = cache.get(at_offset)
        # ... then apply the deltas back up.
        type_num, content = base
        for delta_offset, size, at in reversed(deltas):
            delta = self._inflate(at, size)
            if delta is None:
                return None
            patched = apply_delta(content, delta)
            if patched is None:
                return None
            content = patched
            self._remember(delta_offset, (type_num, content))
        return type_num, content

    def _remember(self, offset: int, found: tuple[int, bytes]) -> None:
        """Keep a resolved object: it may be the base of a delta further on."""
        if len(found[1]) > _CACHE_OBJECT:
            return
        cache = self._cache
        self._cached_bytes += len(found[1])
        if len(cache) >= _CACHE_ENTRIES or self._cached_bytes > _CACHE_BYTES:
            cache.clear()  # read in pack order, the bases still needed come after this
            self._cached_bytes = len(found[1])
        cache[offset] = found


def _bad_base(base_offset: int, offset: int, type_num: int) -> bool:
    """An OFS_DELTA base lies strictly before its delta; a REF_DELTA base is not itself."""
    if type_num == _OFS_DELTA:
        return not 12 <= base_offset < offset
    return base_offset == offset


def _delta_size(delta: bytes, at: int) -> tuple[int, int]:
    """A delta header's little-endian base-128 size and where it ends."""
    size = shift = 0
    while True:
        byte = delta[at]
        size |= (byte & 0x7F) << shift
        shift += 7
        at += 1
        if not byte & 0x80:
            return size, at


def entry_size(entry: bytes) -> int:
    """The size of the object a pack entry holds, from the entry's first bytes (512 are
    plenty): its header, or for a delta the delta's own header (its first compressed
    bytes).  A "zip bomb" of a blob is sized without being inflated."""
    kind = (entry[0] >> 4) & 7
    size, shift, at = entry[0] & 0x0F, 4, 1
    byte = entry[0]
    while byte & 0x80:
        byte = entry[at]
        at += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    if kind in _WHOLE:
        return size
    if kind == _OFS_DELTA:  # a base offset, then the delta
        while entry[at] & 0x80:
            at += 1
        at += 1
    elif kind == _REF_DELTA:  # a base id, then the delta
        at += _HASH
    else:
        raise ValueError(f"pack entry type {kind}")
    delta = zlib.decompressobj().decompress(entry[at:], 32)
    _base, end = _delta_size(delta, 0)
    return _delta_size(delta, end)[0]


def apply_delta(base: bytes, delta: bytes) -> bytes | None:
    """``base`` with ``delta`` applied, if the delta fits the base and yields what it says."""
    try:
        # dulwich's compiled delta code, alone: dulwich.pack would import most of dulwich.
        from dulwich._pack import apply_delta  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # a build of dulwich without its extensions
        from dulwich.pack import apply_delta

    try:
        source_size, at = _delta_size(delta, 0)
        target_size, _at = _delta_size(delta, at)
        if source_size != len(base):
            return None
        result = b"".join(apply_delta(base, delta))
    except Exception:  # IndexError from a short header, ApplyDeltaError from a bad one
        return None
    return result if len(result) == target_size else None


class PackScanner:
    """Whole objects from the packs of one ``objects`` directory, or None (ask dulwich)."""

    def __init__(self, objects_dir: str | os.PathLike[str]) -> None:
        #: The object directory read: its packs here, its loose objects by the caller.
        self.objects_dir = os.fspath(objects_dir)
        pack_dir = Path(objects_dir) / "pack"
        try:
            names = sorted(os.listdir(pack_dir))
        except OSError:
            names = []
        self.packs: list[_Pack] = []
        #: Every pack of the directory is read here: none is damaged or of another format.
        self.complete = True
        for name in names:
            if name.startswith("pack-") and name.endswith(".idx"):
                stem = os.path.join(pack_dir, name[:-4])
                if os.path.exists(stem + ".pack"):
                    pack = _Pack(stem + ".idx", stem + ".pack")
                    if pack.usable:
                        self.packs.append(pack)
                    else:
                        self.complete = False
                        pack.close()
        # Newest pack first, as git and dulwich search them.
        self.packs.sort(key=lambda p: _mtime(p.pack_path), reverse=True)
        self.lookups = 0
        self.reads = 0

    def expect(self, lookups: int) -> None:
        """Say how many objects are about to be located: with enough of them each index
        becomes a table at once (none bisected first), with few none does."""
        self.lookups = max(self.lookups, lookups)

    def locate(self, hexsha: bytes) -> tuple[int, int] | None:
        """``(pack number, offset)`` of a packed object, else None."""
        if len(hexsha) != 2 * _HASH:
            return None
        try:
            binsha = bytes.fromhex(hexsha.decode("ascii"))
        except ValueError:
            return None
        self.lookups += 1
        for number, pack in enumerate(self.packs):
            if (
                pack.table is None
                and self.lookups * _TABLE_SHARE >= pack.count
                and pack.count <= _TABLE_MAX
            ):
                # Many objects wanted: one pass over the index beats a bisect each.
                pack.build_table()
            position = pack.position(binsha)
            if position is not None:
                offset = pack.offset(position)
                return None if offset is None else (number, offset)
        return None

    def read(self, number: int, offset: int) -> tuple[int, bytes] | None:
        """The object at ``offset`` in pack ``number`` (as :meth:`locate` gave them)."""
        self.reads += 1
        if self.reads % _RELEASE_EVERY == 0:
            # Objects read are copied out: let the kernel take back the mapped pages, so a
            # scan of a whole pack does not count the pack in our resident memory.
            for pack in self.packs:
                pack.release_pages()
        return self.packs[number].read(offset)

    def size(self, number: int, offset: int) -> int:
        """The size of the object at ``offset`` in pack ``number``, from its entry's header
        in the mapped pack (:func:`entry_size`; raises what it raises)."""
        data = self.packs[number]._data
        assert data is not None
        return entry_size(data[offset : offset + 512])

    def get(self, hexsha: bytes) -> tuple[int, bytes] | None:
        """``(type number, content)`` of a packed object, else None (ask dulwich)."""
        found = self.locate(hexsha)
        return None if found is None else self.read(*found)

    def close(self) -> None:
        for pack in self.packs:
            pack.close()
        self.packs = []


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
