"""locks.py directly: the lock file every writer takes and the atomic replace every writer uses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gto_dulwich import settings
from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.errors import BadSetting, CannotWrite, RefBusy, RefLocked
from gto_dulwich.locks import held, patiently, replace_file, try_lock
from gto_dulwich.repo import GitRepo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _locked(busy: RefBusy) -> Exception:
    return RefLocked(str(busy))


def test_a_held_lock_is_a_file_while_held_and_gone_after(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with held(lock, _locked, patience=0):
        assert lock.read_text().startswith(f"{os.getpid()} ")
    assert not lock.exists()


def test_a_lock_left_behind_is_named_in_the_error_after_the_patience(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("a crashed writer\n")
    started = time.monotonic()
    with pytest.raises(RefLocked) as caught, held(lock, _locked, patience=0.05):
        pass
    assert time.monotonic() - started >= 0.05
    assert str(lock) in str(caught.value)
    assert "remove it" in str(caught.value)
    assert lock.read_text() == "a crashed writer\n"  # never removed: it is not ours


def test_a_lock_recreated_by_someone_else_is_left_to_them(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with held(lock, _locked, patience=0):
        lock.unlink()
        lock.write_text("theirs\n")
    assert lock.read_text() == "theirs\n"


def test_patiently_retries_until_the_lock_is_free() -> None:
    tries: list[int] = []

    def attempt() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise RefBusy("x.lock")
        return "done"

    assert patiently(attempt, _locked, patience=5) == "done"
    assert len(tries) == 3


def test_a_lock_the_file_system_refuses_is_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(CannotWrite, match="Cannot write to the repository"):
        try_lock(tmp_path / "missing-dir" / "x.lock")


def test_patience_comes_from_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GTO_DULWICH_LOCK_TIMEOUT", raising=False)
    assert settings.current().lock_timeout == 10.0
    monkeypatch.setenv("GTO_DULWICH_LOCK_TIMEOUT", "0.5")
    assert settings.current().lock_timeout == 0.5
    monkeypatch.setenv("GTO_DULWICH_LOCK_TIMEOUT", "soon")
    with pytest.raises(BadSetting, match="GTO_DULWICH_LOCK_TIMEOUT='soon'"):
        _ = settings.current().lock_timeout


def test_adding_a_ref_waits_as_long_as_the_setting_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: add_tag_ref waited a hard-coded 10 s and then raised an internal error.
    built = build_repo(load_spec(FIXTURES / "showcase.yaml"), tmp_path / "repo")
    git = GitRepo.open(built.path)
    try:
        sha = git.tag_refs()[0].sha.encode("ascii")
        ref_lock = git.commondir / "refs" / "tags" / "new-tag.lock"
        ref_lock.parent.mkdir(parents=True, exist_ok=True)
        ref_lock.write_text("stale\n")
        monkeypatch.setenv("GTO_DULWICH_LOCK_TIMEOUT", "0")
        with pytest.raises(RefLocked, match=r"new-tag\.lock"):
            git.add_tag_ref(b"refs/tags/new-tag", sha)
        ref_lock.unlink()
        assert git.add_tag_ref(b"refs/tags/new-tag", sha) is True
        assert git.add_tag_ref(b"refs/tags/new-tag", sha) is False
    finally:
        git.close()


def test_replace_writes_the_new_bytes_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "file.yaml"
    target.write_bytes(b"old")
    target.chmod(0o640)
    replace_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    replace_file(tmp_path / "fresh", b"x", durable=False)
    assert (tmp_path / "fresh").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.yaml", "fresh"]


def test_replace_through_a_symlink_keeps_the_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_bytes(b"old")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    replace_file(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_a_failed_replace_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "target" / "inside").mkdir(parents=True)  # a directory where the file goes
    with pytest.raises(IsADirectoryError):
        replace_file(tmp_path / "target", b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["target"]
