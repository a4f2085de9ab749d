"""Reusable remotes for tests: repositories built with dulwich and a smart-HTTP server.

Everything here listens on 127.0.0.1 only, on an ephemeral port, and is torn
down by its context manager (thread joined, socket and repository closed), so
it is safe under ``filterwarnings = error``.  No git binary is involved.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import make_server

from dulwich.objects import Blob, Commit, ObjectID, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from dulwich.server import BackendRepo, DictBackend
from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_wsgi_chain

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: A fixed clock for every object built here: 2024-01-02T03:04:05Z.
EPOCH = 1_704_164_645
IDENTITY = b"Test User <test@example.com>"


# -- repositories -------------------------------------------------------------


def add_commit(
    repo: Repo,
    files: dict[bytes, bytes],
    *,
    message: bytes = b"commit\n",
    parents: Iterable[bytes] = (),
    when: int = EPOCH,
) -> bytes:
    """Store a commit of a flat tree holding ``files``; return its sha (no ref is moved)."""
    store = repo.object_store
    tree = Tree()
    for name, data in sorted(files.items()):
        blob = Blob.from_string(data)
        store.add_object(blob)
        tree.add(name, 0o100644, blob.id)
    store.add_object(tree)
    commit = Commit()
    commit.tree = tree.id
    commit.parents = [ObjectID(p) for p in parents]
    commit.author = commit.committer = IDENTITY
    commit.author_time = commit.commit_time = when
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message
    store.add_object(commit)
    return bytes(commit.id)


def add_tag(
    repo: Repo,
    name: str,
    target: bytes,
    *,
    message: bytes = b"tag\n",
    when: int = EPOCH,
) -> bytes:
    """Create annotated tag ``name`` on commit ``target`` (the ref must be new); return its sha."""
    tag = Tag()
    tag.name = name.encode()
    tag.object = (Commit, ObjectID(target))
    tag.tagger = IDENTITY
    tag.tag_time = when
    tag.tag_timezone = 0
    tag.message = message
    repo.object_store.add_object(tag)
    created = repo.refs.add_if_new(Ref(b"refs/tags/" + name.encode()), tag.id)
    assert created, f"tag {name} already exists"
    return bytes(tag.id)


def copy_objects(source: Repo, target: Repo, shas: Iterable[bytes]) -> None:
    """Copy the given objects (and, for commits and tags, what they reach) into ``target``."""
    pending = [ObjectID(sha) for sha in shas]
    while pending:
        sha = pending.pop()
        if sha in target.object_store:
            continue
        obj = source.object_store[sha]
        if isinstance(obj, Tag):
            pending.append(obj.object[1])
        elif isinstance(obj, Commit):
            pending.append(obj.tree)
            pending.extend(obj.parents)
        elif isinstance(obj, Tree):
            pending.extend(entry.sha for entry in obj.iteritems())
        target.object_store.add_object(obj)


def ref_dict(path: Path) -> dict[bytes, bytes]:
    """Every ref of the repository at ``path`` (symrefs resolved), read fresh from disk."""
    with Repo(str(path)) as repo:
        return {bytes(name): bytes(sha) for name, sha in repo.get_refs().items()}


@dataclass(frozen=True, slots=True)
class Pair:
    """A bare "server" repository and a work tree that could have been cloned from it."""

    remote: Path
    local: Path
    commit: bytes


def make_pair(root: Path, *, url: str | None = None, origin: bool = True) -> Pair:
    """Build ``root/remote.git`` (bare, one commit on ``main``) and ``root/local``.

    ``local`` has the same commit on ``main`` and ``refs/remotes/origin/main``
    and, when ``origin`` is true, ``remote.origin.url`` set to ``url`` (by
    default the ``file://`` URL of the bare repository).
    """
    remote_path, local_path = root / "remote.git", root / "local"
    remote_path.mkdir()
    local_path.mkdir()
    with Repo.init_bare(str(remote_path)) as remote, Repo.init(str(local_path)) as local:
        commit = add_commit(local, {b"README": b"hello\n"})
        local.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/main"))
        local.refs[Ref(b"refs/heads/main")] = ObjectID(commit)
        local.refs[Ref(b"refs/remotes/origin/main")] = ObjectID(commit)
        copy_objects(local, remote, [commit])
        remote.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/main"))
        remote.refs[Ref(b"refs/heads/main")] = ObjectID(commit)
        if origin:
            config = local.get_config()
            config.set((b"remote", b"origin"), b"url", (url or remote_path.as_uri()).encode())
            config.set((b"remote", b"origin"), b"fetch", b"+refs/heads/*:refs/remotes/origin/*")
            config.write_to_path()
    return Pair(remote_path, local_path, commit)


def write_git_packed_refs(path: Path) -> bytes:
    """Move every ref of the repository at ``path`` (bare or not) into ``packed-refs`` like git.

    The header says ``fully-peeled`` and each annotated tag gets its ``^``
    line, unlike dulwich's own ``pack_refs`` (pitfall P1).  Returns the bytes
    written.
    """
    lines = [b"# pack-refs with: peeled fully-peeled sorted \n"]
    with Repo(str(path)) as repo:
        control = Path(repo.controldir())
        refs = {name: sha for name, sha in repo.get_refs().items() if name != b"HEAD"}
        for name in sorted(refs):
            lines.append(refs[name] + b" " + name + b"\n")
            obj = repo.object_store[refs[name]]
            if isinstance(obj, Tag):
                lines.append(b"^" + obj.object[1] + b"\n")
    data = b"".join(lines)
    (control / "packed-refs").write_bytes(data)
    for name in refs:
        loose = control / name.decode()
        if loose.exists():
            loose.unlink()
    return data


def closed_port() -> int:
    """A loopback port with nothing listening (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def set_origin(local: Path, url: str) -> None:
    """Point ``remote.origin.url`` of ``local`` at ``url``."""
    with Repo(str(local)) as repo:
        config = repo.get_config()
        config.set((b"remote", b"origin"), b"url", url.encode())
        config.write_to_path()


# -- smart HTTP ---------------------------------------------------------------


class _QuietHandler(WSGIRequestHandlerLogger):
    """dulwich's request handler without the per-request log lines."""

    def log_message(self, format: str, *args: object) -> None:
        pass


class BasicAuth:
    """WSGI middleware answering 401 unless the request carries the right Basic credentials."""

    def __init__(self, app: WSGIApplication, username: str, password: str) -> None:
        self.app = app
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self.expected = f"Basic {token}"
        self.attempts = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != self.expected:
            self.attempts += 1
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="test"'), ("Content-Type", "text/plain")],
            )
            return [b"authentication required\n"]
        return self.app(environ, start_response)


def _strict_refs(repo: Repo) -> None:
    """Make a lost compare-and-swap raise, which dulwich's server reports as a failure."""
    set_if_equals = repo.refs.set_if_equals

    def checked(*args: Any, **kwargs: Any) -> bool:
        if not set_if_equals(*args, **kwargs):
            raise OSError("the ref changed meanwhile")
        return True

    setattr(repo.refs, "set_if_equals", checked)  # noqa: B010 - this server's repo only


@dataclass(frozen=True, slots=True)
class HttpRemote:
    """A running server: its URL and the ``Repo`` object it serves (tests may tamper with it)."""

    url: str
    port: int
    repo: Repo


@contextlib.contextmanager
def serve_http(
    repo_path: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    wrap: Callable[[WSGIApplication], WSGIApplication] | None = None,
    strict_refs: bool = False,
) -> Iterator[HttpRemote]:
    """Serve the repository at ``repo_path`` over smart HTTP at ``http://127.0.0.1:PORT/``.

    With ``username`` (and ``password``) every request must carry those Basic
    credentials; ``wrap`` puts another WSGI middleware in front.  Unlike
    dulwich's stock server this binds to the loopback interface only.  With
    ``strict_refs`` a ref update whose compare-and-swap fails is reported as
    failed, as git does (dulwich's server answers "ok" and drops it: pitfall P8).
    """
    repo = Repo(str(repo_path))
    if strict_refs:
        _strict_refs(repo)
    try:
        app = make_wsgi_chain(DictBackend({"/": cast(BackendRepo, repo)}))
        if wrap is not None:
            app = wrap(app)
        if username is not None:
            app = BasicAuth(app, username, password or "")
        server = make_server(
            "127.0.0.1", 0, app, server_class=WSGIServerLogger, handler_class=_QuietHandler
        )
        try:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"dulwich-http-{server.server_port}",
                daemon=True,
            )
            thread.start()
            try:
                port = server.server_port
                yield HttpRemote(f"http://127.0.0.1:{port}/", port, repo)
            finally:
                server.shutdown()
                thread.join(timeout=10)
        finally:
            server.server_close()
    finally:
        repo.close()


# -- git daemon (tests only: the product never runs git) ------------------------------


@contextlib.contextmanager
def serve_git_daemon(base: Path, *, timeout: float = 10.0) -> Iterator[int]:
    """Run ``git daemon`` on 127.0.0.1 serving every repository under ``base``, pushes
    allowed; yield its port.  Needs a git binary: callers skip when there is none."""
    import shutil
    import subprocess
    import time

    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is not installed")
    port = closed_port()
    proc = subprocess.Popen(
        [
            git,
            "daemon",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            "--export-all",
            "--enable=receive-pack",
            "--reuseaddr",
            "--informative-errors",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("git daemon did not start")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
