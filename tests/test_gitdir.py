"""A plain repository read without dulwich gives dulwich's answers.

:mod:`gto_dulwich.gitdir` finds a repository, parses commits and trees and reads loose
objects itself, and says None for anything unusual.  Here each of those readers is held
to dulwich on the fixtures' repositories, on odd and damaged objects and on generated
commit texts, and a plain read is shown to leave dulwich's repository code unloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, ShaFile, Tree
from dulwich.repo import Repo
from hypothesis import given, settings
from hypothesis import strategies as st

from gto_dulwich import gitdir
from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.facts import CommitInfo
from gto_dulwich.repo import GitRepo
from tests.helpers import FIXTURES, run_cli

SPECS = sorted(p for p in FIXTURES.glob("*.yaml") if p.name != "differences.yaml")
TREE = b"4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def dulwich_commit(raw: bytes) -> gitdir.CommitFields | None:
    """What dulwich makes of a commit text (None: it refuses it)."""
    try:
        obj = ShaFile.from_raw_string(1, raw)
        assert isinstance(obj, Commit)
        return gitdir.CommitFields(
            obj.tree, obj.author, obj.committer, obj.commit_time, obj.commit_timezone, obj.message
        )
    except Exception:
        return None


def dulwich_tree(raw: bytes) -> list[tuple[bytes, int, bytes]] | None:
    try:
        obj = ShaFile.from_raw_string(2, raw)
        assert isinstance(obj, Tree)
        return [(e.path, e.mode, e.sha) for e in obj.iteritems()]
    except Exception:
        return None


def assert_commit_agrees(raw: bytes) -> bool:
    """Our parse is dulwich's whenever we give one; True if we gave one."""
    ours = gitdir.parse_commit(raw)
    if ours is not None:
        assert ours == dulwich_commit(raw)
    return ours is not None


def assert_tree_agrees(raw: bytes) -> bool:
    ours = gitdir.parse_tree(raw)
    if ours is not None:
        assert [(n, m, s) for n, (m, s) in ours.items()] == dulwich_tree(raw)
    return ours is not None


def every_object(path: Path) -> list[tuple[int, bytes, bytes]]:
    """``(type, id, content)`` of every object of a repository, through dulwich."""
    repo = Repo(str(path))
    try:
        store = repo.object_store
        return [(*store.get_raw(sha), sha) for sha in store]
    finally:
        repo.close()


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_fixture_commits_and_trees_parse_as_dulwich_parses_them(spec: Path, tmp_path: Path) -> None:
    path = tmp_path / "repo"
    build_repo(load_spec(spec), path)
    parsed = 0
    for type_num, raw, _sha in every_object(path):
        if type_num == 1:
            parsed += assert_commit_agrees(raw)
        elif type_num == 2:
            parsed += assert_tree_agrees(raw)
    assert parsed > 0


def _commit_text(*headers: bytes, message: bytes = b"train\n") -> bytes:
    return b"".join(h + b"\n" for h in headers) + b"\n" + message


PERSON = b"author Trainer <t@example.com> 1700000000 +0000"
COMMITTER = b"committer Bot <b@example.com> 1700000100 +0200"


@pytest.mark.parametrize(
    "raw",
    [
        _commit_text(b"tree " + TREE, PERSON, COMMITTER),
        _commit_text(b"tree " + TREE, b"parent " + TREE, b"parent " + TREE, PERSON, COMMITTER),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> 1700000100 -0000"),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> 1700000100 +0530"),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> 1700000100 -0845"),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> 1700000100 +0099"),
        _commit_text(b"tree " + TREE, PERSON, b"committer A > B <b@x> > 1 +0000"),
        _commit_text(b"tree " + TREE, PERSON, b"committer <> 0 +0000"),
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, b"encoding ISO-8859-1"),
        _commit_text(
            b"tree " + TREE,
            PERSON,
            COMMITTER,
            b"gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----",
        ),
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, message=b""),
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, message=b"\n\nx\n\n"),
        # Shapes we leave to dulwich (each must give None or dulwich's answer).
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, PERSON),
        _commit_text(b"tree " + TREE, PERSON, PERSON, COMMITTER),
        _commit_text(b"tree " + TREE, COMMITTER, PERSON),
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, b"tree " + TREE),
        _commit_text(b"tree " + TREE, PERSON, COMMITTER, b"noSpaceHeader"),
        _commit_text(b"tree " + TREE, b"author Trainer t@example.com 1 +0000", COMMITTER),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> 1 0000"),
        _commit_text(b"tree " + TREE, PERSON, b"committer Bot <b@x> -1 +0000"),
        _commit_text(b"tree " + TREE[:-1], PERSON, COMMITTER),
        _commit_text(b"tree " + TREE.upper(), PERSON, COMMITTER),
        _commit_text(b"parent " + TREE, b"tree " + TREE, PERSON, COMMITTER),
        b"tree " + TREE + b"\n" + PERSON + b"\n" + COMMITTER + b"\n",
        b"tree " + TREE + b"\r\n" + PERSON + b"\r\n" + COMMITTER + b"\r\n\r\nx",
    ],
)
def test_odd_commits_parse_as_dulwich_parses_them_or_are_left_to_it(raw: bytes) -> None:
    assert_commit_agrees(raw)


def test_the_usual_commits_are_parsed_here() -> None:
    assert assert_commit_agrees(_commit_text(b"tree " + TREE, PERSON, COMMITTER))
    signed = b"gpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----"
    assert assert_commit_agrees(_commit_text(b"tree " + TREE, PERSON, COMMITTER, signed))


_HEADER_LINES = st.sampled_from(
    [
        b"tree " + TREE,
        b"parent " + TREE,
        PERSON,
        COMMITTER,
        b"committer Z <z> 5 -0130",
        b"author  <> 0 +0000",
        b"encoding UTF-8",
        b"gpgsig x\n y\n z",
        b"mergetag object " + TREE + b"\n type commit",
        b" continuation",
        b"x",
        b"tree",
        b"",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_HEADER_LINES, max_size=8), st.binary(max_size=20))
def test_generated_commit_texts_parse_as_dulwich_parses_them(
    headers: list[bytes], message: bytes
) -> None:
    assert_commit_agrees(b"tree " + TREE + b"\n" + _commit_text(*headers, message=message))
    assert_commit_agrees(_commit_text(*headers, message=message))


def _entry(mode: bytes, name: bytes, sha: bytes = b"\x01" * 20) -> bytes:
    return mode + b" " + name + b"\0" + sha


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        _entry(b"100644", b"a") + _entry(b"40000", b"b") + _entry(b"100755", b"c"),
        _entry(b"100644", b"a.txt") + _entry(b"40000", b"a") + _entry(b"100644", b"a0"),
        _entry(b"40000", b"a") + _entry(b"100644", b"a.txt"),  # not in git's order
        _entry(b"100644", b"a") + _entry(b"100644", b"a"),  # a name twice
        _entry(b"040000", b"dir") + _entry(b"120000", b"link") + _entry(b"160000", b"sub"),
        _entry(b"100644", b""),
        _entry(b"100648", b"a"),
        _entry(b"10064x", b"a"),
        _entry(b"100644", b"a")[:-3],
        _entry(b"100644", b"a") + b"100644 b",
        _entry(b"100644", "naïve".encode()) + _entry(b"100644", b"\xff\xfe"),
    ],
)
def test_trees_parse_as_dulwich_parses_them_or_are_left_to_it(raw: bytes) -> None:
    assert_tree_agrees(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"100644", b"100755", b"40000", b"120000", b"160000", b"644"]),
            st.binary(min_size=0, max_size=4).filter(lambda n: b"\0" not in n),
        ),
        max_size=6,
    )
)
def test_generated_trees_parse_as_dulwich_parses_them(entries: list[tuple[bytes, bytes]]) -> None:
    assert_tree_agrees(b"".join(_entry(mode, name) for mode, name in entries))


# -- loose objects ------------------------------------------------------------------------


def _loose(tmp_path: Path) -> tuple[Path, Blob]:
    repo = Repo.init(str(tmp_path / "repo"), mkdir=True)
    blob = Blob.from_string(b"weights " * 100)
    repo.object_store.add_object(blob)
    repo.close()
    return tmp_path / "repo" / ".git" / "objects", blob


def test_a_loose_object_reads_as_dulwich_reads_it(tmp_path: Path) -> None:
    objects, blob = _loose(tmp_path)
    assert gitdir.read_loose(str(objects), blob.id.decode()) == (3, blob.as_raw_string())
    assert gitdir.loose_size(str(objects), blob.id.decode()) == len(blob.as_raw_string())
    assert gitdir.read_loose(str(objects), "1" * 40) is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not zlib at all",
        zlib.compress(b"blob 9\0short"),  # says 9 bytes, holds 5
        zlib.compress(b"blob 3\0longer than three"),
        zlib.compress(b"thing 3\0abc"),
        zlib.compress(b"blob x\0abc"),
        zlib.compress(b"blob 3abc"),
        zlib.compress(b"blob 800\0" + b"w" * 800)[:-10],  # cut short
    ],
)
def test_a_damaged_loose_object_is_left_to_dulwich(tmp_path: Path, content: bytes) -> None:
    objects, blob = _loose(tmp_path)
    path = objects / blob.id.decode()[:2] / blob.id.decode()[2:]
    path.chmod(0o644)
    path.write_bytes(content)
    assert gitdir.read_loose(str(objects), blob.id.decode()) is None


def test_a_loose_fifo_is_left_to_dulwich(tmp_path: Path) -> None:
    objects, blob = _loose(tmp_path)
    path = objects / blob.id.decode()[:2] / blob.id.decode()[2:]
    path.unlink()
    os.mkfifo(path)
    assert gitdir.read_loose(str(objects), blob.id.decode()) is None


# -- finding the repository -----------------------------------------------------------------


def test_plain_repositories_are_found_where_dulwich_finds_them(tmp_path: Path) -> None:
    work = tmp_path / "work"
    Repo.init(str(work), mkdir=True).close()
    (work / "a" / "b").mkdir(parents=True)
    bare = tmp_path / "bare.git"
    Repo.init_bare(str(bare), mkdir=True).close()
    for start, expected in [
        (work, gitdir.Layout(str(work), str(work / ".git"), False)),
        (work / "a" / "b", gitdir.Layout(str(work), str(work / ".git"), False)),
        (bare, gitdir.Layout(str(bare), str(bare), True)),
    ]:
        assert gitdir.discover(str(start)) == expected
        repo = Repo.discover(str(start))
        assert (repo.path, repo.controldir(), repo.bare) == expected
        repo.close()
        with GitRepo.open(start) as ours, GitRepo(Repo.discover(str(start))) as theirs:
            assert ours._dulwich is None  # found without dulwich
            assert (ours.workdir, ours.commondir, ours.controldir) == (
                theirs.workdir,
                theirs.commondir,
                theirs.controldir,
            )


@pytest.mark.parametrize(
    "config",
    [
        b"[core]\n\tworktree = /elsewhere\n",
        b"[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n",
        b"[extensions]\n\trefstorage = reftable\n",
        b"[include]\n\tpath = other\n",
        b'[includeIf "gitdir:/x/"]\n\tpath = other\n',
        b"[core]\n\trepositoryformatversion = 2\n",
        b'[core]\n\tbare = "false"\n',
        b"[core]\n\tbare = false ; a comment\n",
        b"[core]\n\tbare = fal\\\nse\n",
        b"[core\n",
        b"\x00\x01",
    ],
)
def test_an_unusual_config_leaves_the_repository_to_dulwich(tmp_path: Path, config: bytes) -> None:
    work = tmp_path / "work"
    Repo.init(str(work), mkdir=True).close()
    (work / ".git" / "config").write_bytes(config)
    assert gitdir.discover(str(work)) is None


@pytest.mark.parametrize(
    "config",
    [
        b" " * 60_000 + b"x!",
        b"\tkey =" + b" \t" * 30_000 + b'"',
        b"[core]\n" + b"a=\n" * 20_000 + b"[",
        b"k" * 60_000 + b" ",
    ],
    ids=["blanks", "blank value", "many lines", "long key"],
)
def test_a_hostile_config_is_judged_in_linear_time(tmp_path: Path, config: bytes) -> None:
    """Each line is matched by a pattern with no overlapping repeats: no backtracking blow-up."""
    work = tmp_path / "work"
    Repo.init(str(work), mkdir=True).close()
    (work / ".git" / "config").write_bytes(config)
    gitdir.discover(str(work))  # returns at once (a quadratic match would take minutes)


def test_a_usual_config_is_plain(tmp_path: Path) -> None:
    work = tmp_path / "work"
    Repo.init(str(work), mkdir=True).close()
    (work / ".git" / "config").write_bytes(
        b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        b"\tlogallrefupdates = true\n# a comment\n; another\n\n"
        b'[remote "origin"]\n\turl = https://example.com/r.git\n'
        b"\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
        b'[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main'
    )
    assert gitdir.discover(str(work)) == gitdir.Layout(str(work), str(work / ".git"), False)
    (work / ".git" / "config").unlink()
    assert gitdir.discover(str(work)) is not None


def test_a_git_file_or_a_commondir_leaves_the_repository_to_dulwich(tmp_path: Path) -> None:
    main = tmp_path / "main"
    Repo.init(str(main), mkdir=True).close()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {main / '.git'}\n")
    assert gitdir.discover(str(linked)) is None
    (main / ".git" / "commondir").write_text("..\n")
    assert gitdir.discover(str(main)) is None
    assert gitdir.discover(str(tmp_path / "nowhere")) is None


# -- a whole read ------------------------------------------------------------------------------


def _commit_info(commit: Commit) -> CommitInfo:
    def person(raw: bytes) -> tuple[str, str]:
        name, _, email = raw.decode().partition(" <")
        return name, email.rstrip(">")

    author, committer = person(commit.author), person(commit.committer)
    return CommitInfo(
        commit.id.decode(),
        commit.commit_time,
        commit.commit_timezone,
        *author,
        *committer,
        commit.message.decode(),
    )


@pytest.mark.parametrize("repack", [False, True], ids=["as built", "repacked"])
def test_files_and_commits_read_here_are_dulwichs(tmp_path: Path, repack: bool) -> None:
    path = tmp_path / "repo"
    build_repo(load_spec(FIXTURES / "showcase.yaml"), path)
    if repack:
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        subprocess.run(["git", "-C", str(path), "repack", "-adfq"], check=True)
    repo = Repo(str(path))
    commits = [
        obj for obj in (repo.object_store[sha] for sha in repo.object_store) if obj.type_num == 1
    ]
    with GitRepo.open(path) as git:
        for commit in commits:
            assert isinstance(commit, Commit)
            sha = commit.id.decode()
            assert git.commit_info(sha) == _commit_info(commit)
            assert git.commit_tree(sha) == commit.tree.decode()
            tree = repo.object_store[commit.tree]
            assert isinstance(tree, Tree)
            assert git.tree_entries(commit.tree.decode()) == [
                (e.path.decode(), e.mode, e.sha.decode()) for e in tree.iteritems()
            ]
            for entry in tree.iteritems():
                if entry.mode & 0o100000:
                    data = repo.object_store[entry.sha].as_raw_string()
                    assert git.read_file(sha, entry.path.decode()) == data
                    assert git.file_size(sha, entry.path.decode()) == len(data)
        assert git._dulwich is None  # every object was read here
    repo.close()


def test_a_tampered_commit_is_not_read(tmp_path: Path) -> None:
    """dulwich's store checks each object against its id; so do the readers here."""
    repo = Repo.init(str(tmp_path / "repo"), mkdir=True)
    commit = Commit()
    commit.tree = TREE
    commit.author = commit.committer = b"T <t@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"train\n"
    repo.object_store.add_object(commit)
    repo.close()
    sha = commit.id.decode()
    path = tmp_path / "repo" / ".git" / "objects" / sha[:2] / sha[2:]
    tampered = commit.as_raw_string().replace(b"train", b"trail")
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"commit %d\0" % len(tampered) + tampered))
    with GitRepo.open(tmp_path / "repo") as git:
        assert git.commit_info(sha) is None


_PROBE = """
import contextlib, io, json, sys
from gto_dulwich.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("dulwich"))))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--no-cache", "show", "--json"],
        ["--no-cache", "show", "rf", "--json"],
        ["--no-cache", "latest", "rf"],
        ["history", "--json"],
    ],
)
def test_a_plain_read_loads_no_repository_code_of_dulwich(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "repo"
    build_repo(load_spec(FIXTURES / "showcase.yaml"), path)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # dulwich._pack (the compiled delta code) may load; the repository and object code not.
    assert set(json.loads(out)) <= {"dulwich", "dulwich._pack"}


def test_objects_in_alternates_are_read_through_dulwich(tmp_path: Path) -> None:
    """A ``git clone --shared`` keeps its objects in another repository: nothing is in this
    one's packs nor loose, so each object is found through dulwich, and the read is the
    same as in the repository that holds them."""
    source = tmp_path / "source"
    build_repo(load_spec(FIXTURES / "showcase.yaml"), source)
    shared = tmp_path / "shared"
    Repo.init(str(shared), mkdir=True).close()
    git_dir = shared / ".git"
    (git_dir / "objects" / "info" / "alternates").write_text(f"{source / '.git' / 'objects'}\n")
    shutil.copytree(source / ".git" / "refs", git_dir / "refs", dirs_exist_ok=True)
    for name in ("packed-refs", "HEAD"):
        if (source / ".git" / name).exists():
            shutil.copy(source / ".git" / name, git_dir / name)
    assert gitdir.discover(str(shared)) is not None  # a plain layout: read here first
    args = ["--no-cache", "show", "--json"]
    expected = run_cli(args, cwd=source)
    found = run_cli(args, cwd=shared)
    assert (found.exit_code, found.stdout) == (expected.exit_code, expected.stdout)
    assert json.loads(found.stdout)  # a registry was read, not an empty one
    history = ["--no-cache", "history", "rf", "--json"]
    assert run_cli(history, cwd=shared).stdout == run_cli(history, cwd=source).stdout


@pytest.mark.parametrize("name", ["../../config", "1" * 39, "G" * 40, "/" + "1" * 39, ""])
def test_only_an_object_id_names_a_loose_object(tmp_path: Path, name: str) -> None:
    objects, _blob = _loose(tmp_path)
    assert gitdir.read_loose(str(objects), name) is None
    assert gitdir.loose_size(str(objects), name) is None
