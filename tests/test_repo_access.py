"""Repository access: every way a registry can be laid out on disk reads the same."""

from __future__ import annotations

import gc
import json
import warnings
from pathlib import Path

import pytest
from dulwich import porcelain

from gto_dulwich import api
from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.errors import NotARepository
from gto_dulwich.repo import GitRepo, parse_packed_refs
from tests.helpers import FIXTURES, build_fixture, run_cli


def _show_json(path: Path) -> object:
    result = run_cli(["show", "--json", "-r", str(path)])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture("showcase", tmp_path_factory.mktemp("showcase") / "repo").path


def test_subdirectory_of_work_tree_finds_the_repository(showcase: Path) -> None:
    assert _show_json(showcase / "models") == _show_json(showcase)


def test_bare_repository_reads_the_same_tags(showcase: Path, tmp_path: Path) -> None:
    bare = build_repo(load_spec(FIXTURES / "showcase.yaml"), tmp_path / "bare.git", bare=True)
    assert _show_json(bare.path) == _show_json(showcase)


def test_linked_worktree_reads_the_common_tags(showcase: Path, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    with warnings.catch_warnings():
        # dulwich's worktree_add leaves the new worktree's packs open (not our code).
        warnings.simplefilter("ignore", ResourceWarning)
        porcelain.worktree_add(str(showcase), str(worktree), branch="wt-branch")
        gc.collect()
    assert (worktree / ".git").is_file()
    assert _show_json(worktree) == _show_json(showcase)


def test_packed_and_loose_refs_give_the_same_registry(tmp_path: Path) -> None:
    spec = load_spec(FIXTURES / "showcase.yaml")
    loose = build_repo({**spec, "packed_refs": False}, tmp_path / "loose")
    packed = build_repo({**spec, "packed_refs": True}, tmp_path / "packed")
    assert (packed.path / ".git" / "packed-refs").exists()
    assert not (packed.path / ".git" / "refs" / "tags" / "rf@v1.2.3").exists()
    assert _show_json(loose.path) == _show_json(packed.path)


def test_loose_ref_wins_over_packed_ref(tmp_path: Path) -> None:
    spec = load_spec(FIXTURES / "showcase.yaml")
    built = build_repo({**spec, "packed_refs": True}, tmp_path / "repo")
    # Point the loose ref for rf@v1.2.3 at the tag object of rf@v1.2.4 (as a
    # push would update a loose file without touching packed-refs).
    loose = built.path / ".git" / "refs" / "tags" / "rf@v1.2.3"
    loose.write_text(built.tags["rf@v1.2.4"] + "\n")
    with GitRepo.open(built.path) as git:
        entries = {e.name: e for e in git.tag_refs()}
    assert entries["rf@v1.2.3"].sha == built.tags["rf@v1.2.4"]
    assert entries["rf@v1.2.3"].peeled is None  # the packed peel no longer applies


def test_peeled_lines_are_trusted_only_with_fully_peeled_header() -> None:
    tag_sha, commit_sha, light = "a" * 40, "b" * 40, "c" * 40
    body = f"{tag_sha} refs/tags/x@v1.0.0\n^{commit_sha}\n{light} refs/tags/lw\n".encode()
    refs, fully, bad = parse_packed_refs(b"# pack-refs with: peeled fully-peeled sorted \n" + body)
    assert fully
    assert bad == 0
    assert refs[b"refs/tags/x@v1.0.0"] == (tag_sha.encode(), commit_sha.encode())
    refs, fully, _ = parse_packed_refs(b"# pack-refs with: peeled \n" + body)
    assert not fully
    assert refs[b"refs/tags/lw"] == (light.encode(), None)


def test_corrupt_packed_refs_lines_are_counted_not_fatal() -> None:
    data = b"# pack-refs with: peeled\nnot a line\n" + b"d" * 40 + b" refs/tags/a@v1.0.0\n^zz\n"
    refs, _, bad = parse_packed_refs(data)
    assert list(refs) == [b"refs/tags/a@v1.0.0"]
    assert bad == 2


def test_not_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotARepository, match="No Git repo found"):
        GitRepo.open(tmp_path)
    with pytest.raises(NotARepository):
        GitRepo.open(tmp_path / "missing")


def test_registry_accepts_an_open_dulwich_repo(showcase: Path) -> None:
    from dulwich.repo import Repo

    with Repo(str(showcase)) as repo:
        view = api.show(repo)
        assert isinstance(view, api.RegistryView)
        assert [row.name for row in view.rows] == ["nn", "rf", "features"]
        # The caller's repo stays open and usable.
        assert repo.head()


def test_empty_repository_has_an_empty_registry(tmp_path: Path) -> None:
    porcelain.init(str(tmp_path))
    result = run_cli(["show", "--json"], cwd=tmp_path)
    assert (result.exit_code, result.stdout) == (0, "{}\n")
    result = run_cli(["show"], cwd=tmp_path)
    assert result.stdout == "Nothing found in the current workspace\n"
