"""The pack reader (gto_dulwich.packscan) and dulwich's object store read the same tag facts.

Every fixture, a repository with loose, packed and delta-encoded tag objects
(OFS_DELTA and REF_DELTA, written by dulwich's pack writer and, where git is
installed, by ``git repack -adf``), and damaged packs: whatever the bytes,
both readers give the same facts and neither raises.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tag, Tree
from dulwich.pack import pack_objects_to_data
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich import packscan
from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.facts import TagFact
from gto_dulwich.packscan import PackScanner
from gto_dulwich.repo import GitRepo
from tests.helpers import FIXTURES, run_cli

SPECS = sorted(p for p in FIXTURES.glob("*.yaml") if p.name != "differences.yaml")


def read_facts(path: Path, *, scan: bool) -> list[TagFact]:
    """Every tag ref's fact, through ``read_tags`` (pack order) and ``read_tag`` (one by one)."""
    with GitRepo.open(path) as git:
        git.scan_packs = scan
        entries = git.tag_refs()
        batch = sorted(
            (fact for fact, _ in git.read_tags([(e, None) for e in entries])),
            key=lambda f: f.ref,
        )
    with GitRepo.open(path) as git:
        git.scan_packs = scan
        single = [git.read_tag(entry) for entry in git.tag_refs()]
    assert batch == single
    return batch


def assert_same(path: Path) -> list[TagFact]:
    scanned = read_facts(path, scan=True)
    assert scanned == read_facts(path, scan=False)
    return scanned


def pack_types(path: Path) -> Counter[int]:
    """How many objects of each pack type (1-4 whole, 6 OFS_DELTA, 7 REF_DELTA) the packs hold."""
    scanner = PackScanner(path / ".git" / "objects")
    try:
        types: Counter[int] = Counter()
        for pack in scanner.packs:
            for position in range(pack.count):
                offset = pack.offset(position)
                assert offset is not None
                header = pack._header(offset)
                assert header is not None
                types[header[0]] += 1
        return types
    finally:
        scanner.close()


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_fixture(spec: Path, tmp_path: Path) -> None:
    build_repo(load_spec(spec), tmp_path / "repo")
    assert_same(tmp_path / "repo")


def _mixed(dest: Path) -> dict[str, bytes]:
    """A repository whose tag objects are loose, whole in a pack, OFS_DELTA and REF_DELTA
    in packs; plus a tag of a tag, lightweight tags and a tag whose object is missing."""
    repo = Repo.init(str(dest), mkdir=True)
    blob = Blob.from_string(b"weights\n")
    tree = Tree()
    tree.add(b"model.bin", 0o100644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.author = commit.committer = b"Trainer <t@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"train\n"

    def tag(name: str, when: int, target: ShaFile = commit) -> Tag:
        made = Tag()
        made.name = name.encode()
        made.object = (type(target), target.id)
        made.tagger = b"A Rather Long Tagger Name <registry-bot@example.com>"
        made.tag_time = when
        made.tag_timezone = -7200
        made.message = b"Assigning the stage after a long evaluation run, " * 4 + name.encode()
        return made

    ofs = [tag(f"model#prod#{n}", 1_700_000_100 + n) for n in range(40)]
    ref = [tag(f"other@v1.{n}.0", 1_700_001_000 + n) for n in range(30)]
    loose = [tag(f"loose#dev#{n}", 1_700_002_000 + n) for n in range(5)]
    outer = tag("model@v9.0.0", 1_700_003_000, target=ofs[0])  # a tag of a tag
    store = repo.object_store
    first = [(o, None) for o in (blob, tree, commit, *ofs)]
    store.add_pack_data(*pack_objects_to_data(first, deltify=True))
    count, records = pack_objects_to_data([(o, None) for o in (*ref, outer)], deltify=True)
    # Each delta written before its base: the writer has no offset yet, so REF_DELTA.
    store.add_pack_data(count, iter(list(records)[::-1]))
    for obj in loose:
        store.add_object(obj)
    refs: dict[str, bytes] = {t.name.decode(): t.id for t in (*ofs, *ref, *loose, outer)}
    refs["light"] = commit.id
    refs["blob-tag"] = blob.id
    refs["gone#prod#1"] = b"1" * 40
    for name, sha in refs.items():
        repo.refs[Ref(f"refs/tags/{name}".encode())] = ObjectID(sha)
    repo.refs[Ref(b"refs/heads/main")] = commit.id
    repo.close()
    return refs


def test_loose_packed_and_delta_encoded_tags(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    refs = _mixed(path)
    types = pack_types(path)
    assert types[6] >= 20  # OFS_DELTA
    assert types[7] >= 15  # REF_DELTA
    facts = {fact.ref: fact for fact in assert_same(path)}
    assert facts["model#prod#7"].kind == "annotated"
    assert facts["model#prod#7"].tz_offset == -7200
    assert (facts["model@v9.0.0"].target, facts["model@v9.0.0"].target_type) == (
        refs["light"].decode(),
        "commit",
    )
    assert facts["light"].kind == "lightweight"
    assert facts["blob-tag"].target_type == "blob"
    assert facts["gone#prod#1"].kind == "missing"
    # The deltas were resolved from the packs, not handed to dulwich.
    scanner = PackScanner(path / ".git" / "objects")
    try:
        for name in ("model#prod#39", "other@v1.29.0", "model#prod#5"):
            found = scanner.get(refs[name])
            assert found is not None
            assert found[0] == 4
        assert scanner.get(refs["loose#dev#1"]) is None  # loose: dulwich reads it
    finally:
        scanner.close()


def test_bisecting_a_big_packs_index_gives_the_same_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "repo"
    _mixed(path)
    expected = read_facts(path, scan=False)
    monkeypatch.setattr(packscan, "_TABLE_MAX", 0)  # every pack counts as too big for a table
    assert read_facts(path, scan=True) == expected
    monkeypatch.setattr(packscan, "_TABLE_MAX", 10**9)
    monkeypatch.setattr(packscan, "_TABLE_SHARE", 10**9)  # a table from the first lookup
    assert read_facts(path, scan=True) == expected


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_deltas_made_by_git(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    _mixed(path)
    (path / ".git" / "refs" / "tags" / "gone#prod#1").unlink()  # git refuses a dangling ref
    subprocess.run(
        ["git", "-C", str(path), "repack", "-adfq", "--depth=20", "--window=50"], check=True
    )
    assert pack_types(path)[6] >= 30
    assert_same(path)


def _damaged(tmp_path: Path, name: str, damage: bytes, suffix: str = ".pack") -> Path:
    path = tmp_path / name
    shutil.copytree(tmp_path / "repo", path)
    (target,) = (path / ".git" / "objects" / "pack").glob(f"pack-*{suffix}")
    target.chmod(0o644)
    target.write_bytes(damage)
    return path


def test_damaged_packs_give_the_same_facts_and_never_raise(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    _mixed(path)
    packs = sorted((path / ".git" / "objects" / "pack").glob("pack-*.pack"))
    for pack in packs[1:]:  # one pack, so no copy of an object elsewhere masks the damage
        pack.unlink()
        pack.with_suffix(".idx").unlink()
    (pack,) = sorted((path / ".git" / "objects" / "pack").glob("pack-*.pack"))
    data = pack.read_bytes()
    index = pack.with_suffix(".idx").read_bytes()
    cases: dict[str, tuple[bytes, str]] = {
        "empty": (b"", ".pack"),
        "header only": (data[:12], ".pack"),
        "half": (data[: len(data) // 2], ".pack"),
        "no checksum": (data[:-20], ".pack"),
        "index cut": (index[: len(index) // 2], ".idx"),
        "index garbage": (b"\377tOc\0\0\0\2" + b"\xff" * (len(index) - 8), ".idx"),
    }
    # A header claiming a huge size (the first object's size bytes, all continuation bits).
    huge = bytearray(data)
    huge[12] |= 0x80
    huge[13:22] = b"\xff" * 8 + b"\x7f"
    cases["huge size"] = (bytes(huge), ".pack")
    step = max(1, (len(data) - 32) // 40)
    for at in range(12, len(data) - 20, step):  # one flipped byte at a time
        cases[f"flip {at}"] = (data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :], ".pack")
    kinds: Counter[str] = Counter()
    for number, (label, (damage, suffix)) in enumerate(cases.items()):
        damaged = _damaged(tmp_path, f"case{number}", damage, suffix)
        facts = assert_same(damaged)
        kinds.update(fact.kind for fact in facts)
        if number % 10 == 0:  # the CLI reports, never crashes (exit 3)
            result = run_cli(["doctor", "-r", str(damaged)])
            assert result.exit_code in (0, 1), (label, result.stderr)
        shutil.rmtree(damaged)
    assert kinds["broken"] > 0  # the damage was seen
    assert kinds["annotated"] > 0
