"""Pushing and deleting registry tags on a remote, over file:// and smart HTTP, without git."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from dulwich.client import LocalGitClient, Urllib3HttpGitClient
from dulwich.objects import ObjectID
from dulwich.refs import DiskRefsContainer, Ref
from dulwich.repo import Repo
from dulwich.server import ReceivePackHandler

from gto_dulwich.errors import PushError
from gto_dulwich.remote.connection import redact_url
from gto_dulwich.remote.push import PushResult, push_tags, remote_url
from gto_dulwich.repo import GitRepo
from tests.servers import (
    Pair,
    add_commit,
    add_tag,
    closed_port,
    copy_objects,
    make_pair,
    ref_dict,
    serve_http,
    set_origin,
    write_git_packed_refs,
)

TRANSPORTS = ["file", "http"]


@pytest.fixture(autouse=True)
def _isolated_git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git config (url.insteadOf, proxies), no proxy variables, no fsync."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # dulwich fsyncs every ref and config write; throwaway repositories need no durability.
    monkeypatch.setattr(os, "fsync", lambda _fd: None)


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    root = tmp_path / "repos"
    root.mkdir()
    return make_pair(root)


@contextlib.contextmanager
def served(
    pair: Pair, transport: str, *, username: str | None = None, password: str | None = None
) -> Iterator[str]:
    """Point the local repo's ``origin`` at the remote over ``transport``; yield the URL."""
    if transport == "file":
        url = pair.remote.as_uri()
        set_origin(pair.local, url)
        yield url
        return
    with serve_http(pair.remote, username=username, password=password) as server:
        set_origin(pair.local, server.url)
        yield server.url


def tag_locally(pair: Pair, name: str, *, message: bytes = b"tag\n") -> bytes:
    with Repo(str(pair.local)) as repo:
        return add_tag(repo, name, pair.commit, message=message)


def tag_on_remote(pair: Pair, name: str, *, message: bytes = b"tag\n") -> bytes:
    """Create ``name`` in the local repo and give the remote the very same tag."""
    sha = tag_locally(pair, name, message=message)
    with Repo(str(pair.local)) as local, Repo(str(pair.remote)) as remote:
        copy_objects(local, remote, [sha])
        assert remote.refs.add_if_new(Ref(b"refs/tags/" + name.encode()), ObjectID(sha))
    return sha


def push(
    pair: Pair,
    create: Sequence[str] = (),
    delete: Sequence[str] = (),
    *,
    remote: str = "origin",
    username: str | None = None,
    password: str | None = None,
) -> PushResult:
    with GitRepo.open(pair.local) as git:
        return push_tags(git, create, delete, remote=remote, username=username, password=password)


def pack_files(repo: Path) -> set[str]:
    return {p.name for p in (repo / "objects" / "pack").glob("*.pack")}


def objects_in_new_packs(repo: Path, before: set[str]) -> set[bytes]:
    found: set[bytes] = set()
    with Repo(str(repo)) as opened:
        for pack in opened.object_store.packs:
            if Path(pack._basename).name + ".pack" not in before:
                found.update(bytes(sha) for sha in pack.index)
    return found


# -- pushing -----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_push_new_tag_adds_exactly_that_ref(pair: Pair, transport: str) -> None:
    sha = tag_locally(pair, "model#prod#3")
    before = ref_dict(pair.remote)
    packs = pack_files(pair.remote)
    with served(pair, transport) as url:
        result = push(pair, ["model#prod#3"])
    assert result == PushResult(url, ("model#prod#3",), ())
    assert ref_dict(pair.remote) == {**before, b"refs/tags/model#prod#3": sha}
    # Only the tag object travelled: the remote already had its commit.
    assert objects_in_new_packs(pair.remote, packs) == {sha}
    with Repo(str(pair.remote)) as remote:
        assert remote.object_store[ObjectID(sha)].as_raw_string().startswith(b"object ")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_push_sends_the_commit_the_remote_lacks(pair: Pair, transport: str) -> None:
    with Repo(str(pair.local)) as repo:
        commit = add_commit(repo, {b"model.pkl": b"weights"}, parents=[pair.commit], when=2)
        sha = add_tag(repo, "model@v1.0.0", commit)
        commit_obj = repo[ObjectID(commit)]
        tree = commit_obj.tree  # type: ignore[attr-defined]
        blob = repo[tree][b"model.pkl"][1]  # type: ignore[index]
    packs = pack_files(pair.remote)
    with served(pair, transport):
        push(pair, ["model@v1.0.0"])
    assert ref_dict(pair.remote)[b"refs/tags/model@v1.0.0"] == sha
    # The tag, the new commit, its tree and the new blob; not the parent or README.
    assert objects_in_new_packs(pair.remote, packs) == {sha, commit, bytes(tree), bytes(blob)}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_several_tags_go_in_one_push(pair: Pair, transport: str) -> None:
    shas = {name: tag_locally(pair, name) for name in ("a@v1", "a#dev#1", "b@v2")}
    gone = tag_on_remote(pair, "a@v0")
    before = ref_dict(pair.remote)
    assert before[b"refs/tags/a@v0"] == gone
    with served(pair, transport):
        result = push(pair, list(shas), ["a@v0"])
    assert result.updated == ("a@v1", "a#dev#1", "b@v2")
    assert result.deleted == ("a@v0",)
    expected = {k: v for k, v in before.items() if k != b"refs/tags/a@v0"}
    expected.update({b"refs/tags/" + n.encode(): s for n, s in shas.items()})
    assert ref_dict(pair.remote) == expected


def test_multi_ref_http_push_is_atomic(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    original = Urllib3HttpGitClient.send_pack

    def spy(self: Urllib3HttpGitClient, *args: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("atomic")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Urllib3HttpGitClient, "send_pack", spy)
    tag_locally(pair, "a@v1")
    tag_locally(pair, "a@v2")
    with served(pair, "http"):
        push(pair, ["a@v1"])
        push(pair, ["a@v2"], ["a@v1"])
    assert calls == [False, True]


def test_server_without_atomic_gets_a_plain_push(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ReceivePackHandler.capabilities

    def no_atomic(self: ReceivePackHandler) -> list[bytes]:
        return [c for c in original(self) if c != b"atomic"]

    monkeypatch.setattr(ReceivePackHandler, "capabilities", no_atomic)
    shas = {name: tag_locally(pair, name) for name in ("a@v1", "a@v2")}
    with served(pair, "http"):
        push(pair, list(shas))
    assert {n: ref_dict(pair.remote)[b"refs/tags/" + n.encode()] for n in shas} == shas


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tag_already_on_remote_with_same_value_needs_nothing(pair: Pair, transport: str) -> None:
    tag_on_remote(pair, "m@v1")
    before, packs = ref_dict(pair.remote), pack_files(pair.remote)
    with served(pair, transport):
        result = push(pair, ["m@v1"])
    assert result.updated == ("m@v1",)
    assert result.unchanged == ("m@v1",)
    assert ref_dict(pair.remote) == before
    assert pack_files(pair.remote) == packs


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_remote_tag_with_another_value_is_not_overwritten(pair: Pair, transport: str) -> None:
    # The remote got its own m@v1 (another message, so another object).
    with Repo(str(pair.remote)) as remote:
        theirs = add_tag(remote, "m@v1", pair.commit, message=b"theirs\n")
    ours = tag_locally(pair, "m@v1", message=b"ours\n")
    tag_locally(pair, "m@v2")
    assert theirs != ours
    before, packs = ref_dict(pair.remote), pack_files(pair.remote)
    with served(pair, transport), pytest.raises(PushError) as caught:
        push(pair, ["m@v2", "m@v1"])
    assert "remote already has tag 'm@v1'" in str(caught.value)
    assert theirs[:7].decode() in str(caught.value)
    # Refused before anything was sent: not even the other, new tag.
    assert ref_dict(pair.remote) == before
    assert pack_files(pair.remote) == packs


# -- deleting ----------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_delete_removes_exactly_that_ref(pair: Pair, transport: str) -> None:
    tag_on_remote(pair, "m@v1")
    keep = tag_on_remote(pair, "m@v2")
    before = ref_dict(pair.remote)
    with served(pair, transport) as url:
        result = push(pair, delete=["m@v1"])
    assert result == PushResult(url, (), ("m@v1",))
    after = ref_dict(pair.remote)
    assert after == {k: v for k, v in before.items() if k != b"refs/tags/m@v1"}
    assert after[b"refs/tags/m@v2"] == keep


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_deleting_a_tag_the_remote_lacks_is_not_an_error(pair: Pair, transport: str) -> None:
    before = ref_dict(pair.remote)
    with served(pair, transport):
        result = push(pair, delete=["m@v9"])
    assert result.deleted == ("m@v9",)
    assert result.unchanged == ("m@v9",)
    assert ref_dict(pair.remote) == before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_delete_tags_packed_by_git(pair: Pair, transport: str) -> None:
    # Regression: dulwich's file:// "atomic" check compares the peeled commit
    # of a packed tag with the tag object and refuses the deletion.
    tag_on_remote(pair, "m@v1")
    tag_on_remote(pair, "m@v2")
    write_git_packed_refs(pair.remote)
    with served(pair, transport):
        push(pair, delete=["m@v1", "m@v2"])
    assert not [ref for ref in ref_dict(pair.remote) if ref.startswith(b"refs/tags/")]


# -- what the remote reports -------------------------------------------------


def test_ok_that_was_not_applied_is_caught(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """dulwich's server says "ok" when its compare-and-swap fails (P8); the re-list catches it."""
    tag_locally(pair, "m@v1")
    with serve_http(pair.remote) as server:
        set_origin(pair.local, server.url)
        monkeypatch.setattr(server.repo.refs, "set_if_equals", lambda *_a, **_k: False)
        with pytest.raises(PushError, match=r"push of 'm@v1' was not applied by the remote"):
            push(pair, ["m@v1"])
    assert b"refs/tags/m@v1" not in ref_dict(pair.remote)


def test_per_ref_failure_from_the_server(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    tag_locally(pair, "m@v1")

    def broken(*_args: object, **_kwargs: object) -> bool:
        raise OSError("disk full")

    with serve_http(pair.remote) as server:
        set_origin(pair.local, server.url)
        monkeypatch.setattr(server.repo.refs, "set_if_equals", broken)
        with pytest.raises(PushError, match=r"rejected the push of 'm@v1': failed to write"):
            push(pair, ["m@v1"])


def test_per_ref_failure_over_file(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    tag_locally(pair, "m@v1")
    monkeypatch.setattr(DiskRefsContainer, "set_if_equals", lambda *_a, **_k: False)
    with served(pair, "file"), pytest.raises(PushError, match=r"rejected the push of 'm@v1'"):
        push(pair, ["m@v1"])


def test_locked_ref_on_a_file_remote(pair: Pair) -> None:
    """Another writer holding the ref's lock (a racing push) is an error, not a crash."""
    tag_locally(pair, "m@v1")
    lock = pair.remote / "refs" / "tags" / "m@v1.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(b"")
    with served(pair, "file"), pytest.raises(PushError, match="locked by another process"):
        push(pair, ["m@v1"])
    lock.unlink()
    assert b"refs/tags/m@v1" not in ref_dict(pair.remote)


def test_file_remote_is_checked_after_the_push(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """file:// reports no status at all (P6), so the outcome is read back."""
    tag_locally(pair, "m@v1")
    monkeypatch.setattr(LocalGitClient, "get_refs", _refs_without_tags(LocalGitClient.get_refs))
    with served(pair, "file"), pytest.raises(PushError, match="was not applied"):
        push(pair, ["m@v1"])


def _refs_without_tags(original: Any) -> Any:
    def get_refs(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        result.refs = {k: v for k, v in result.refs.items() if not k.startswith(b"refs/tags/")}
        return result

    return get_refs


# -- failures before or instead of the push ------------------------------------


def test_unreachable_http_port(pair: Pair) -> None:
    tag_locally(pair, "m@v1")
    set_origin(pair.local, f"http://127.0.0.1:{closed_port()}/repo.git")
    started = time.monotonic()
    with pytest.raises(PushError, match=r"^cannot reach http://127\.0\.0\.1:\d+/repo\.git: "):
        push(pair, ["m@v1"])
    assert time.monotonic() - started < 5


def test_unreachable_git_daemon_port(pair: Pair) -> None:
    tag_locally(pair, "m@v1")
    set_origin(pair.local, f"git://127.0.0.1:{closed_port()}/repo.git")
    with pytest.raises(PushError, match=r"^cannot reach git://127\.0\.0\.1:\d+/repo\.git: "):
        push(pair, ["m@v1"])


def test_missing_file_remote(pair: Pair, tmp_path: Path) -> None:
    tag_locally(pair, "m@v1")
    set_origin(pair.local, (tmp_path / "nowhere.git").as_uri())
    with pytest.raises(PushError, match="no git repository there"):
        push(pair, ["m@v1"])


def test_http_path_that_is_not_a_repository(pair: Pair) -> None:
    tag_locally(pair, "m@v1")
    with serve_http(pair.remote) as server:
        set_origin(pair.local, server.url + "other.git")
        with pytest.raises(PushError, match=r"^cannot push to http://127\.0\.0\.1:\d+/other\.git"):
            push(pair, ["m@v1"])


def test_no_origin_configured(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, origin=False)
    tag_locally(pair, "m@v1")
    with pytest.raises(PushError, match=r"^No remote 'origin' is configured$"):
        push(pair, ["m@v1"])
    with GitRepo.open(pair.local) as git, pytest.raises(PushError, match="'upstream'"):
        remote_url(git, "upstream")


def test_other_remote_name(pair: Pair) -> None:
    sha = tag_locally(pair, "m@v1")
    with Repo(str(pair.local)) as repo:
        config = repo.get_config()
        config.set((b"remote", b"mirror"), b"url", pair.remote.as_uri().encode())
        config.write_to_path()
    set_origin(pair.local, f"http://127.0.0.1:{closed_port()}/")
    result = push(pair, ["m@v1"], remote="mirror")
    assert result.url == pair.remote.as_uri()
    assert ref_dict(pair.remote)[b"refs/tags/m@v1"] == sha


def test_tag_missing_locally(pair: Pair) -> None:
    with served(pair, "file"), pytest.raises(PushError, match="tag 'm@v1' does not exist locally"):
        push(pair, ["m@v1"])


@pytest.mark.parametrize("name", ["", "bad..name", "sp ace", "x.lock"])
def test_invalid_tag_name(pair: Pair, name: str) -> None:
    with pytest.raises(PushError, match="invalid tag name"):
        push(pair, delete=[name])


def test_push_and_delete_of_the_same_tag(pair: Pair) -> None:
    tag_locally(pair, "m@v1")
    with pytest.raises(PushError, match="cannot both push and delete tag 'm@v1'"):
        push(pair, ["m@v1"], ["m@v1"])


def test_nothing_to_do_contacts_nobody(pair: Pair) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    set_origin(pair.local, url)
    assert push(pair) == PushResult(url, (), ())


# -- authentication and secrets ----------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, "authentication failed for http://127.0.0.1:PORT/; set GTO_DULWICH_TOKEN"),
        (
            {"username": "alice", "password": "wrong-pass"},
            "authentication failed for http://127.0.0.1:PORT/: the server rejected",
        ),
    ],
)
def test_http_auth_failures(pair: Pair, credentials: dict[str, str | None], expected: str) -> None:
    tag_locally(pair, "m@v1")
    before = ref_dict(pair.remote)
    with served(pair, "http", username="alice", password="s3cret-token") as url:
        with pytest.raises(PushError) as caught:
            push(
                pair,
                ["m@v1"],
                username=credentials.get("username"),
                password=credentials.get("password"),
            )
        port = url.rsplit(":", 1)[1].rstrip("/")
    message = str(caught.value)
    assert message.startswith(expected.replace("PORT", port))
    assert "wrong-pass" not in message
    assert "\n" not in message
    assert ref_dict(pair.remote) == before


def test_http_auth_with_right_credentials(pair: Pair) -> None:
    sha = tag_locally(pair, "m@v1")
    with served(pair, "http", username="alice", password="s3cret-token") as url:
        result = push(pair, ["m@v1"], username="alice", password="s3cret-token")
    assert result == PushResult(url, ("m@v1",), ())
    assert ref_dict(pair.remote)[b"refs/tags/m@v1"] == sha


def test_credentials_in_the_url_never_show(pair: Pair) -> None:
    sha = tag_locally(pair, "m@v1")
    tag_locally(pair, "m@v2")
    with serve_http(pair.remote, username="alice", password="s3cret-token") as server:
        good = server.url.replace("http://", "http://alice:s3cret-token@")
        bad = server.url.replace("http://", "http://alice:wrong-pass@")
        set_origin(pair.local, good)
        result = push(pair, ["m@v1"])
        set_origin(pair.local, bad)
        with pytest.raises(PushError) as caught:
            push(pair, ["m@v2"])
    assert result.url == server.url
    assert ref_dict(pair.remote)[b"refs/tags/m@v1"] == sha
    for text in (str(caught.value), caught.value.url, repr(caught.value), repr(result)):
        assert "s3cret-token" not in text
        assert "wrong-pass" not in text
        assert "alice:" not in text
    assert "authentication failed" in str(caught.value)


def test_password_never_shows_even_when_dulwich_echoes_it(pair: Pair) -> None:
    tag_locally(pair, "m@v1")
    port = closed_port()
    set_origin(pair.local, f"http://bob:hunter2-pw@127.0.0.1:{port}/r.git")
    with pytest.raises(PushError) as caught:
        push(pair, ["m@v1"], password="other-pw")
    assert "hunter2-pw" not in str(caught.value)
    assert "other-pw" not in str(caught.value)
    assert f"cannot reach http://127.0.0.1:{port}/r.git" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:tok@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://tok@github.com/o/r.git", "https://github.com/o/r.git"),
        ("http://127.0.0.1:8080/r", "http://127.0.0.1:8080/r"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repo.git", "/srv/repo.git"),
        ("failed for https://u:p@h/x and ssh://me:pw@h/y", "failed for https://h/x and ssh://h/y"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# -- the local repository is left alone --------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_local_packed_refs_untouched(pair: Pair, transport: str) -> None:
    """No auto-gc (P1): porcelain.push would repack the refs without peeled lines."""
    tag_locally(pair, "m@v1")
    tag_locally(pair, "m@v2")
    packed = write_git_packed_refs(pair.local)
    with Repo(str(pair.local)) as repo:
        config = repo.get_config()
        config.set((b"gc",), b"auto", b"1")
        config.write_to_path()
    local_before = ref_dict(pair.local)
    with served(pair, transport):
        push(pair, ["m@v1", "m@v2"])
        push(pair, delete=["m@v1"])
    assert (pair.local / ".git" / "packed-refs").read_bytes() == packed
    assert ref_dict(pair.local) == local_before


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tag_of_a_commit_missing_locally(pair: Pair, transport: str) -> None:
    ghost = b"1234567890" * 4
    with Repo(str(pair.local)) as repo:
        add_tag(repo, "m@v1", ghost)
    before = ref_dict(pair.remote)
    with served(pair, transport), pytest.raises(PushError) as caught:
        push(pair, ["m@v1"])
    assert str(caught.value).endswith(f"object {ghost.decode()} is missing locally")
    assert ref_dict(pair.remote) == before


def test_http_server_stops_cleanly(pair: Pair) -> None:
    threads = set(threading.enumerate())
    with serve_http(pair.remote) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert len(set(threading.enumerate()) - threads) == 1
    assert set(threading.enumerate()) == threads
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(ConnectionRefusedError),
    ):
        sock.connect(("127.0.0.1", server.port))
