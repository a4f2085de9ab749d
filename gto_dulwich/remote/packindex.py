"""Index a received pack in one sequential pass, the way ``git index-pack`` does.

dulwich's ``add_thin_pack`` copies the stream through a Python reader, walks
every delta chain object by object and then parses every object into a
``ShaFile`` again before moving the pack in: at 25,000 tags that is most of a
remote read's time.  A registry's fetch is a pack of tag objects and commits:
this module inflates each entry once (one ``zlib`` call each), hashes it, resolves
``OFS_DELTA`` / in-pack ``REF_DELTA`` entries against bases it already holds,
and writes the pack and a version-2 ``.idx`` next to the store's other packs.

It is only a shortcut.  Anything it does not handle returns None and the caller
hands the same bytes to dulwich: a thin pack (a base not in the pack), a pack
larger than :data:`MAX_BYTES`, an unknown version or type, and every sign of
damage (a short stream, a size that does not match its header, a checksum that
does not match), so a broken pack fails exactly as it did.  Like ``git
index-pack`` without ``--strict``, it does not parse the objects: a malformed
object reaches the registry's reader, which makes it a diagnostic, as a local
read of the same repository does.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from dulwich.pack import write_pack_index_v2

from gto_dulwich.packscan import apply_delta

#: Larger packs (a ``get`` of big files) are left to dulwich, which streams them.
MAX_BYTES = 32 << 20
#: Every object is kept in memory as a possible delta base: a registry's are tiny
#: (tags, commits, trees); a pack holding a larger one, or more in all, goes to dulwich.
_MAX_OBJECT = 1 << 20
_MAX_INFLATED = 64 << 20

_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_HASH = 20


def index_pack(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """``[(binary id, offset, crc32)]`` of every object in the pack ``data``, or None."""
    if len(data) < 12 + _HASH or data[:4] != b"PACK":
        return None
    version = int.from_bytes(data[4:8], "big")
    count = int.from_bytes(data[8:12], "big")
    if version not in (2, 3):
        return None
    end = len(data) - _HASH
    if hashlib.sha1(memoryview(data)[:end]).digest() != data[end:]:
        return None
    view = memoryview(data)
    objects: dict[int, tuple[int, bytes]] = {}  # offset -> (type, content)
    by_id: dict[bytes, int] = {}
    entries: list[tuple[bytes, int, int]] = []
    inflated = 0
    pos = 12
    for _ in range(count):
        start = pos
        if pos >= end:
            return None
        byte = data[pos]
        pos += 1
        type_num = (byte >> 4) & 7
        size = byte & 0x0F
        shift = 4
        while byte & 0x80:
            if pos >= end or shift > 63:
                return None
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
        if size > _MAX_OBJECT:
            return None
        base: tuple[int, bytes] | None = None
        if type_num == _OFS_DELTA:
            if pos >= end:
                return None
            byte = data[pos]
            pos += 1
            back = byte & 0x7F
            while byte & 0x80:
                if pos >= end:
                    return None
                byte = data[pos]
                pos += 1
                back = ((back + 1) << 7) | (byte & 0x7F)
            base = objects.get(start - back)
        elif type_num == _REF_DELTA:
            base_offset = by_id.get(bytes(view[pos : pos + _HASH]))
            pos += _HASH
            base = None if base_offset is None else objects.get(base_offset)
        elif type_num not in _TYPES:
            return None
        if type_num in (_OFS_DELTA, _REF_DELTA) and base is None:
            return None  # thin, or a base after its delta: dulwich's to resolve
        content, pos = _inflate(view, pos, end, size)
        if content is None:
            return None
        if base is not None:
            patched = apply_delta(base[1], content)
            if patched is None:
                return None
            type_num, content = base[0], patched
        inflated += len(content)
        if inflated > _MAX_INFLATED:
            return None
        header = _TYPES[type_num] + b" " + str(len(content)).encode("ascii") + b"\0"
        binsha = hashlib.sha1(header + content).digest()
        objects[start] = (type_num, content)
        by_id[binsha] = start
        entries.append((binsha, start, zlib.crc32(view[start:pos])))
    if pos != end:
        return None
    return entries


def _inflate(view: memoryview, pos: int, end: int, size: int) -> tuple[bytes | None, int]:
    """The ``size`` bytes of the zlib stream at ``pos``, and where the stream ends."""
    inflater = zlib.decompressobj()
    chunk = size + 64
    out = b""
    try:
        while True:
            fed = view[pos : min(end, pos + chunk)]
            if not fed:
                return None, pos
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


def add_pack(pack_dir: str | os.PathLike[str], data: bytes) -> list[bytes] | None:
    """Index ``data`` and move it into ``pack_dir``; the hex ids it holds, or None."""
    entries = index_pack(data)
    if entries is None:
        return None
    checksum = data[-_HASH:]
    base = Path(pack_dir) / f"pack-{checksum.hex()}"
    pack_path, idx_path = base.with_suffix(".pack"), base.with_suffix(".idx")
    # The index last, each complete before its rename: a pack is visible only when whole.
    for path, write in (
        (pack_path, lambda f: f.write(data)),
        (idx_path, lambda f: write_pack_index_v2(f, sorted(entries), checksum)),
    ):
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    return [binsha.hex().encode("ascii") for binsha, _offset, _crc in entries]
