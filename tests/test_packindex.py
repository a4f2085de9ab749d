"""The one-pass indexer of received packs agrees with dulwich's, or declines."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import Blob, ObjectID, ShaFile, Tag
from dulwich.pack import PackData, write_pack_index_v2, write_pack_objects
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.remote.packindex import (
    PackReceiver,
    add_pack,
    add_pack_file,
    index_pack,
    index_v2,
)
from tests.helpers import build_fixture


def _tags(count: int) -> list[ShaFile]:
    blob = Blob.from_string(b"weights\n")
    objects: list[ShaFile] = [blob]
    for number in range(count):
        tag = Tag()
        tag.name = f"rf@v0.0.{number}".encode()
        tag.object = (Blob, blob.id)
        tag.tagger = b"Tester <t@example.com>"
        tag.tag_time, tag.tag_timezone = 1_700_000_000 + number, 0
        tag.message = b"Registering artifact rf version v0.0." + str(number).encode() + b"\n"
        objects.append(tag)
    return objects


def _pack(objects: list[ShaFile], *, deltify: bool) -> bytes:
    out = io.BytesIO()
    write_pack_objects(out, objects, DEFAULT_OBJECT_FORMAT, deltify=deltify)
    return out.getvalue()


def _dulwich_entries(data: bytes, tmp_path: Path) -> list[tuple[bytes, int, int]]:
    path = tmp_path / "check.pack"
    path.write_bytes(data)
    with PackData(str(path), DEFAULT_OBJECT_FORMAT) as pack:
        return [(bytes(sha), offset, crc) for sha, offset, crc in pack.sorted_entries()]


@pytest.mark.parametrize("deltify", [False, True])
def test_entries_equal_dulwichs(deltify: bool, tmp_path: Path) -> None:
    data = _pack(_tags(50), deltify=deltify)
    ours = index_pack(data)
    assert ours is not None
    assert sorted(ours) == _dulwich_entries(data, tmp_path)


def test_ofs_deltas_from_git(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: no OFS_DELTA pack to read")
    built = build_fixture("showcase", tmp_path / "repo")
    subprocess.run([git, "-C", str(built.path), "repack", "-adf", "-q"], check=True)
    (pack_path,) = (built.path / ".git" / "objects" / "pack").glob("*.pack")
    data = pack_path.read_bytes()
    ours = index_pack(data)
    assert ours is not None
    assert sorted(ours) == _dulwich_entries(data, tmp_path)


def test_added_pack_is_read_by_dulwich(tmp_path: Path) -> None:
    objects = _tags(20)
    repo = Repo.init_bare(str(tmp_path / "store.git"), mkdir=True)
    ids = add_pack(repo.object_store.pack_dir, _pack(objects, deltify=True))
    assert ids is not None
    assert sorted(ids) == sorted(obj.id for obj in objects)
    for obj in objects:
        assert repo.object_store[obj.id].as_raw_string() == obj.as_raw_string()
    repo.close()


def _rehash(body: bytes) -> bytes:
    return body + hashlib.sha1(body).digest()


def test_damage_is_declined(tmp_path: Path) -> None:
    data = _pack(_tags(10), deltify=False)
    assert index_pack(data[:-1]) is None  # truncated
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    assert index_pack(flipped) is None  # checksum
    # A corrupt stream under a valid checksum: declined, dulwich's to report.
    assert index_pack(_rehash(flipped[:-20])) is None
    assert index_pack(b"") is None
    assert index_pack(_rehash(b"PACK" + (4).to_bytes(4, "big") + (0).to_bytes(4, "big"))) is None


def test_thin_pack_is_declined() -> None:
    delta = b"\x05\x05\x90\x05"  # copy 5 bytes of a 5-byte base
    entry = bytes([0x70 | len(delta)]) + b"\x11" * 20 + zlib.compress(delta)
    body = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + entry
    assert index_pack(_rehash(body)) is None


def test_a_size_that_lies_is_declined() -> None:
    content = b"hello"
    entry = bytes([0x30 | (len(content) + 1)]) + zlib.compress(content)  # says 6, holds 5
    body = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + entry
    assert index_pack(_rehash(body)) is None
    good = bytes([0x30 | len(content)]) + zlib.compress(content)
    assert index_pack(_rehash(body[:12] + good)) is not None


def test_ref_delta_with_its_base_in_the_pack(tmp_path: Path) -> None:
    base = bytes([0x30 | 5]) + zlib.compress(b"hello")
    delta = b"\x05\x06\x90\x05\x01!"  # copy the 5 bytes of the base, add "!"
    blob_id = Blob.from_string(b"hello").id
    entry = bytes([0x70 | len(delta)]) + bytes.fromhex(blob_id.decode()) + zlib.compress(delta)
    data = _rehash(b"PACK" + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + base + entry)
    ours = index_pack(data)
    assert ours is not None
    assert sorted(ours) == _dulwich_entries(data, tmp_path)
    assert {sha.hex() for sha, _o, _c in ours} == {
        blob_id.decode(),
        Blob.from_string(b"hello!").id.decode(),
    }


# -- big objects stream -------------------------------------------------------------------

BIG = 20 << 20


def _entry(type_num: int, size: int) -> bytes:
    """A pack entry's type-and-size header."""
    out = bytearray([(type_num << 4) | (size & 0x0F)])
    size >>= 4
    while size:
        out[-1] |= 0x80
        out.append(size & 0x7F)
        size >>= 7
    return bytes(out)


def _big_pack(content: bytes, *tail: bytes) -> bytes:
    """A pack of one blob ``content`` (compressed fast: it is random) and ``tail`` entries."""
    body = _entry(3, len(content)) + zlib.compress(content, 1) + b"".join(tail)
    count = 1 + len(tail)
    return _rehash(b"PACK" + (2).to_bytes(4, "big") + count.to_bytes(4, "big") + body)


def test_a_large_blob_is_indexed_like_dulwich(tmp_path: Path) -> None:
    """A 20 MB blob (over the 1 MiB kept in memory) is inflated in pieces and hashed as it
    goes: the same ids, offsets and crc32s as dulwich's, from bytes and from a file."""
    content = os.urandom(BIG)
    small = Blob.from_string(b"small\n")
    data = _big_pack(content, _entry(3, 6) + zlib.compress(small.as_raw_string()))
    expected = _dulwich_entries(data, tmp_path)
    ours = index_pack(data)
    assert ours is not None
    assert sorted(ours) == expected
    assert {sha.hex() for sha, _o, _c in ours} == {
        Blob.from_string(content).id.decode(),
        small.id.decode(),
    }
    repo = Repo.init_bare(str(tmp_path / "store.git"), mkdir=True)
    spooled = tmp_path / "received.pack"
    spooled.write_bytes(data)
    with open(spooled, "rb") as handle:
        ids = add_pack_file(repo.object_store.pack_dir, handle)
    assert ids is not None
    assert sorted(ids) == sorted(sha.hex().encode() for sha, _o, _c in expected)
    assert repo.object_store[small.id].as_raw_string() == b"small\n"
    (idx,) = Path(repo.object_store.pack_dir).glob("*.idx")
    with PackData(str(idx.with_suffix(".pack")), DEFAULT_OBJECT_FORMAT) as pack:
        assert [tuple(e) for e in pack.sorted_entries()] == expected
    repo.close()


def test_a_delta_against_a_large_blob_is_left_to_dulwich() -> None:
    """A big object is not kept, so it cannot be a delta base here: dulwich resolves it."""
    content = os.urandom(2 << 20)
    delta = b"\x80\x80\x01\x05\x90\x05"  # a 16 KiB base... any delta: it is never applied
    ref = bytes.fromhex(Blob.from_string(content).id.decode())
    data = _big_pack(content, _entry(7, len(delta)) + ref + zlib.compress(delta))
    assert index_pack(data) is None


def test_a_large_blob_that_lies_about_its_size_is_declined() -> None:
    content = os.urandom(2 << 20)
    good = _big_pack(content)
    assert index_pack(good) is not None
    longer = _entry(3, len(content) - 1) + zlib.compress(content, 1)
    shorter = _entry(3, len(content) + 1) + zlib.compress(content, 1)
    for body in (longer, shorter):
        head = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big")
        assert index_pack(_rehash(head + body)) is None
    truncated = good[:-1000]
    assert index_pack(_rehash(truncated[:-20])) is None


# The peak RSS of this process image: ``ru_maxrss`` would start at the parent's (Linux
# carries the high-water mark across fork and exec), ``VmHWM`` starts afresh at exec.
_PEAK = """
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

_MEASURE = f"""{_PEAK}
import sys, tempfile
from gto_dulwich.remote.packindex import add_pack_file
before = peak()
with open(sys.argv[1], "rb") as handle, tempfile.TemporaryDirectory() as store:
    ids = add_pack_file(store, handle)
print(len(ids or []), peak() - before)
"""


def _linux_peak() -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc/self/status to read a peak RSS from")


def test_indexing_a_large_blob_keeps_memory_flat(tmp_path: Path) -> None:
    """In a fresh process, a pack holding a 20 MB blob is indexed and copied into the store
    with a peak RSS growth of a few megabytes, not the object's size."""
    _linux_peak()
    pack = tmp_path / "received.pack"
    pack.write_bytes(_big_pack(os.urandom(BIG)))
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(pack)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    count, growth = map(int, done.stdout.split())
    assert count == 1
    assert growth < BIG // 2, f"peak RSS grew {growth:,} bytes for a {BIG:,}-byte blob"


# -- end to end: gto get of a big git-committed file from a server ------------------------

_GTO = f"""{_PEAK}
import atexit, sys
report = sys.argv.pop(1)
atexit.register(lambda: open(report, "w").write(str(peak())))
from gto_dulwich.cli import main
sys.argv[0] = "gto"
sys.exit(main())
"""


def test_get_from_git_daemon_streams_a_big_file(tmp_path: Path) -> None:
    """``gto get -r git://`` of a 50 MB committed file: the blob arrives alone (git's server
    honours filters), is indexed in pieces and written in pieces; the gto process's peak
    RSS stays far below the file's size (43 MB here; 136 MB through dulwich's indexer)."""
    from tests.helpers import path_without_git
    from tests.servers import EPOCH, add_tag
    from tests.test_get import commit
    from tests.test_remote_read import git_daemon

    _linux_peak()
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (needed only to run a real git server)")
    content = os.urandom(50 << 20)
    served = tmp_path / "srv" / "big.git"
    served.mkdir(parents=True)
    with Repo.init_bare(str(served)) as repo:
        files = {"artifacts.yaml": b"big:\n  path: big.bin\n", "big.bin": content}
        head = commit(repo, files, [], EPOCH)
        repo.refs[Ref(b"refs/heads/main")] = ObjectID(head)
        add_tag(repo, "big@v1.0.0", head, when=EPOCH + 1)
    for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
        subprocess.run([git, "-C", str(served), "config", key, "true"], check=True)
    report = tmp_path / "peak"
    out = tmp_path / "big.bin"
    with git_daemon(served.parent) as port:
        url = f"git://127.0.0.1:{port}/big.git"
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _GTO,
                str(report),
                "get",
                "big@v1.0.0",
                "-o",
                str(out),
                "-r",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            env={**os.environ, "PATH": path_without_git()},
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == content
    peak = int(report.read_text())
    assert peak < 90 << 20, f"gto get peaked at {peak:,} bytes for a 50 MB file"


@pytest.mark.parametrize("deltify", [False, True])
def test_kept_are_the_commits_and_tags_as_hashed(deltify: bool, tmp_path: Path) -> None:
    """The contents handed back are each object's own (deltas resolved), under the id
    computed from them; blobs and trees are not kept."""
    objects = _tags(30)
    kept: dict[bytes, tuple[int, bytes]] = {}
    assert index_pack(_pack(objects, deltify=deltify), kept) is not None
    tags = [obj for obj in objects if isinstance(obj, Tag)]
    assert sorted(kept) == sorted(bytes(obj.id) for obj in tags)
    for obj in tags:
        assert kept[bytes(obj.id)] == (Tag.type_num, obj.as_raw_string())


def test_kept_from_a_mapped_pack(tmp_path: Path) -> None:
    objects = _tags(10)
    repo = Repo.init_bare(str(tmp_path / "store.git"), mkdir=True)
    kept: dict[bytes, tuple[int, bytes]] = {}
    with open(tmp_path / "received.pack", "w+b") as handle:
        handle.write(_pack(objects, deltify=True))
        assert add_pack_file(repo.object_store.pack_dir, handle, kept) is not None
    assert len(kept) == 10


# -- indexed while it arrives -----------------------------------------------------------


def _receive(data: bytes, piece: int, tmp_path: Path, limit: int = 8 << 20) -> PackReceiver:
    receiver = PackReceiver(open(tmp_path / "spill.pack", "w+b"), limit)  # noqa: SIM115
    for at in range(0, len(data), piece):
        receiver.write(data[at : at + piece])
    return receiver


@pytest.mark.parametrize("piece", [1, 7, 140, 65_536, 1 << 30])
def test_a_pack_indexed_as_it_arrives_is_the_whole_packs_index(piece: int, tmp_path: Path) -> None:
    """In pieces of any size (objects cut anywhere, headers and zlib streams included),
    the same pack, index and kept contents as indexing the whole pack at once."""
    objects = _tags(400)
    data = _pack(objects, deltify=True)
    repo = Repo.init_bare(str(tmp_path / "store.git"), mkdir=True)
    receiver = _receive(data, piece, tmp_path)
    ids = receiver.add_to(repo.object_store.pack_dir)
    receiver.spill.close()
    assert ids is not None
    assert sorted(ids) == sorted(bytes(obj.id) for obj in objects)
    kept: dict[bytes, tuple[int, bytes]] = {}
    assert index_pack(data, kept) is not None
    assert receiver.kept == kept
    (idx,) = Path(repo.object_store.pack_dir).glob("*.idx")
    with PackData(str(idx.with_suffix(".pack")), DEFAULT_OBJECT_FORMAT) as pack:
        assert [tuple(e) for e in pack.sorted_entries()] == _dulwich_entries(data, tmp_path)
    for obj in objects:
        assert repo.object_store[obj.id].as_raw_string() == obj.as_raw_string()
    repo.close()


@pytest.mark.parametrize("piece", [3, 100, 1 << 30])
def test_a_damaged_or_short_pack_is_declined_as_it_arrives(piece: int, tmp_path: Path) -> None:
    """Whatever was indexed on the way, a pack that does not end right is the caller's."""
    data = _pack(_tags(50), deltify=True)
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    for damaged in (data[:-1], data[:middle], flipped, _rehash(flipped[:-20]), data + b"x"):
        receiver = _receive(damaged, piece, tmp_path)
        assert receiver.add_to(tmp_path) is None
        assert receiver.data is not None
        assert bytes(receiver.data) == damaged  # all of it, for the caller to hand to dulwich
        receiver.spill.close()
    assert not list(tmp_path.glob("*.idx"))


def test_a_pack_past_the_limit_goes_to_the_file(tmp_path: Path) -> None:
    data = _pack(_tags(200), deltify=False)
    receiver = _receive(data, 1000, tmp_path, limit=len(data) // 3)
    assert receiver.data is None
    assert receiver.add_to(tmp_path) is None
    receiver.spill.seek(0)
    assert receiver.spill.read() == data
    assert receiver.size == len(data)
    receiver.spill.close()


def test_a_large_object_is_left_to_the_whole_pack(tmp_path: Path) -> None:
    """Objects over 1 MiB are streamed from a whole pack only: declined on the way."""
    data = _big_pack(os.urandom(2 << 20))
    receiver = _receive(data, 65_536, tmp_path)
    assert receiver.add_to(tmp_path) is None
    assert receiver.data is not None
    assert bytes(receiver.data) == data
    assert index_pack(data) is not None
    receiver.spill.close()


def _dulwich_index(entries: list[tuple[bytes, int, int]], checksum: bytes) -> bytes:
    out = io.BytesIO()
    write_pack_index_v2(out, entries, checksum)
    return out.getvalue()


def test_the_index_is_dulwichs_byte_for_byte() -> None:
    data = _pack(_tags(300), deltify=True)
    entries = index_pack(data)
    assert entries is not None
    checksum = data[-20:]
    assert index_v2(sorted(entries), checksum) == _dulwich_index(sorted(entries), checksum)
    assert index_v2([], checksum) == _dulwich_index([], checksum)
    # Offsets past 2 GiB go to the large-offset table, as dulwich writes them.
    far = sorted(
        (hashlib.sha1(b"%d" % n).digest(), offset, n * 7919)
        for n, offset in enumerate([12, (1 << 31) - 1, 1 << 31, (1 << 33) + 5, 1 << 40])
    )
    assert index_v2(far, checksum) == _dulwich_index(far, checksum)
