"""``gto get`` for git-committed artifacts: resolution by the registry's state, the path
at the version's commit, exact bytes and modes, atomic output, local/file:// and HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich import api
from gto_dulwich.errors import GTOError
from tests.helpers import Result, run_cli, run_process, unprivileged
from tests.servers import EPOCH, IDENTITY, add_tag, serve_http

MAIN = Ref(b"refs/heads/main")

# path -> content, or (mode, content); content of a 0o120000 entry is the link target.
Files = Mapping[str, bytes | tuple[int, bytes]]

ARTIFACTS_V1 = (
    b"model:\n  type: model\n  path: models/model.bin\nbundle:\n  path: bundle\n"
    b"gone:\n  path: models/model.bin\n"
)
ARTIFACTS_V2 = b"model:\n  type: model\n  path: models/renamed.bin\nbundle:\n  path: bundle\n"


def _tree(repo: Repo, files: Files) -> bytes:
    store = repo.object_store
    nested: dict[str, dict[str, bytes | tuple[int, bytes]]] = {}
    tree = Tree()
    for path, content in files.items():
        head, _, rest = path.partition("/")
        if rest:
            nested.setdefault(head, {})[rest] = content
            continue
        mode, data = content if isinstance(content, tuple) else (0o100644, content)
        blob = Blob.from_string(data)
        store.add_object(blob)
        tree.add(head.encode(), mode, blob.id)
    for name, sub in nested.items():
        tree.add(name.encode(), 0o040000, ObjectID(_tree(repo, sub)))
    store.add_object(tree)
    return bytes(tree.id)


def commit(repo: Repo, files: Files, parents: list[bytes], when: int) -> bytes:
    c = Commit()
    c.tree = ObjectID(_tree(repo, files))
    c.parents = [ObjectID(p) for p in parents]
    c.author = c.committer = IDENTITY
    c.author_time = c.commit_time = when
    c.author_timezone = c.commit_timezone = 0
    c.message = b"commit\n"
    repo.object_store.add_object(c)
    return bytes(c.id)


BUNDLE: dict[str, bytes | tuple[int, bytes]] = {
    "bundle/run.sh": (0o100755, b"#!/bin/sh\necho hi\n"),
    "bundle/conf/settings.yaml": b"lr: 0.1\n",
    "bundle/conf/link": (0o120000, b"settings.yaml"),
    "bundle/empty.txt": b"",
}


@dataclass(frozen=True)
class Built:
    path: Path
    c1: bytes
    c2: bytes
    c3: bytes


def build(root: Path) -> Built:
    """model: v1.0.0 at c1 (prod, then dev assigned and unassigned), v2.0.0 at c2 (staging),
    v3.0.0 at c3 deregistered; HEAD (c3) renamed the model file."""
    path = root / "repo"
    path.mkdir(parents=True)
    with Repo.init(str(path)) as repo:
        c1 = commit(
            repo,
            {"artifacts.yaml": ARTIFACTS_V1, "models/model.bin": b"weights one\n", **BUNDLE},
            [],
            EPOCH,
        )
        c2 = commit(
            repo,
            {
                "artifacts.yaml": ARTIFACTS_V1,
                "models/model.bin": b"weights two\n",
                **BUNDLE,
                "bundle/extra.bin": bytes(range(256)) * 8,
            },
            [c1],
            EPOCH + 10,
        )
        c3 = commit(
            repo,
            {"artifacts.yaml": ARTIFACTS_V2, "models/renamed.bin": b"weights three\n"},
            [c2],
            EPOCH + 20,
        )
        repo.refs[MAIN] = ObjectID(c3)
        t = EPOCH + 100
        for offset, (tag, target) in enumerate(
            [
                ("model@v1.0.0", c1),
                ("bundle@v1.0.0", c1),
                ("model#prod#1", c1),
                ("model@v2.0.0", c2),
                ("bundle@v2.0.0", c2),
                ("model#staging#2", c2),
                ("model#dev#3", c1),
                ("model#dev!#4", c1),
                ("model@v3.0.0", c3),
                ("model@v3.0.0!", c3),
                ("gone@v1.0.0", c1),
                ("gone@deprecated", c1),
            ]
        ):
            add_tag(repo, tag, target, when=t + offset)
    return Built(path, c1, c2, c3)


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build(tmp_path)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def get(built: Built, out: Path, *args: str) -> Result:
    return run_cli(["get", *args, "-r", str(built.path)], cwd=out)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".gto-" in p.name)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """relpath -> (mode bits, bytes or link target) for every file under ``root``."""
    found: dict[str, tuple[int, bytes]] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            full = Path(folder) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                found[rel] = (0o120000, os.readlink(full).encode())
            else:
                found[rel] = (stat.S_IMODE(full.stat().st_mode), full.read_bytes())
    return found


def expected_bundle(extra: bool) -> dict[str, tuple[int, bytes]]:
    files = {
        "run.sh": (0o755, b"#!/bin/sh\necho hi\n"),
        "conf/settings.yaml": (0o644, b"lr: 0.1\n"),
        "conf/link": (0o120000, b"settings.yaml"),
        "empty.txt": (0o644, b""),
    }
    if extra:
        files["extra.bin"] = (0o644, bytes(range(256)) * 8)
    return files


# -- resolution: the registry's answer ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "content"),
    [
        ("model", b"weights two\n"),  # latest: v3.0.0 is deregistered
        ("model@latest", b"weights two\n"),
        ("model#prod", b"weights one\n"),
        ("model#staging", b"weights two\n"),
        ("model@v1.0.0", b"weights one\n"),
    ],
)
def test_resolves_like_the_registry(built: Built, out: Path, spec: str, content: bytes) -> None:
    result = get(built, out, spec)
    assert result.exit_code == 0, result.stderr
    # The path is read at the version's commit: HEAD renamed the file.
    assert (out / "model.bin").read_bytes() == content
    assert leftovers(out) == []


def test_same_answer_as_show_and_latest(built: Built, out: Path) -> None:
    shown = run_cli(["show", "model#staging", "--version", "-r", str(built.path)]).stdout.strip()
    latest = run_cli(["latest", "model", "-r", str(built.path)]).stdout.strip()
    result = api.get(built.path, "model#staging", out / "a.bin")
    assert result.version == shown == "v2.0.0"
    assert api.get(built.path, "model", out / "b.bin").version == latest == "v2.0.0"
    assert result.to_dict()["commit"] == built.c2.decode()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # dvc artifacts get --stage dev lands on the unassignment tag model#dev!#4.
        (
            "model#dev",
            "no version of 'model' is in stage 'dev': the last stage tag, model#dev!#4, "
            "unassigned it",
        ),
        # dvc artifacts get --rev v3.0.0 matches the deregistration model@v3.0.0!.
        (
            "model@v3.0.0",
            "version model@v3.0.0 is deregistered (tag model@v3.0.0!); "
            "add --force to get it anyway",
        ),
        ("model#qa", "no version of 'model' was ever assigned to stage 'qa'"),
        ("model@v9.0.0", "'model' has no version v9.0.0"),
        # dvc's "latest" ignores deprecation.
        (
            "gone",
            "artifact 'gone' is deprecated (tag gone@deprecated); "
            "name a version and add --force to get it anyway",
        ),
        ("gone@v1.0.0", "artifact 'gone' is deprecated (tag gone@deprecated); name a version"),
        ("nothing", "Cannot find artifact 'nothing'"),
    ],
)
def test_refusals(built: Built, out: Path, spec: str, message: str) -> None:
    result = get(built, out, spec)
    assert result.exit_code == 1
    assert result.stderr.startswith("❌ " + message), result.stderr
    assert result.stderr.count("\n") == 1
    assert list(out.iterdir()) == []


def test_force_lets_a_deregistered_version_through(built: Built, out: Path) -> None:
    result = get(built, out, "model@v3.0.0", "--force")
    assert result.exit_code == 0, result.stderr
    assert "warning: version model@v3.0.0 is deregistered" in result.stderr
    assert (out / "renamed.bin").read_bytes() == b"weights three\n"
    forced = get(built, out, "gone@v1.0.0", "--force", "-o", "gone.bin")
    assert forced.exit_code == 0, forced.stderr
    assert "warning: artifact 'gone' is deprecated" in forced.stderr


def test_no_path_names_the_file_to_annotate(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "bare"
    path.mkdir()
    with Repo.init(str(path)) as repo:
        c1 = commit(repo, {"artifacts.yaml": b"model:\n  type: model\n"}, [], EPOCH)
        repo.refs[MAIN] = ObjectID(c1)
        add_tag(repo, "model@v1.0.0", c1)
        add_tag(repo, "other@v1.0.0", c1)
    for spec, found in (
        ("model", "has no 'path' in artifacts.yaml"),
        ("other", "has no entry in artifacts.yaml nor dvc.yaml"),
    ):
        result = run_cli(["get", spec, "-r", str(path)], cwd=out)
        assert result.exit_code == 1
        assert result.stderr == (
            f"❌ '{spec}' {found} at {c1.decode()[:7]} ({spec}@v1.0.0): annotate it with "
            f"'gto annotate {spec} --path PATH' (or declare it in dvc.yaml) and commit\n"
        )


def test_path_not_committed(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "r"
    path.mkdir()
    with Repo.init(str(path)) as repo:
        c1 = commit(repo, {"artifacts.yaml": b"m:\n  path: model.pkl\n"}, [], EPOCH)
        repo.refs[MAIN] = ObjectID(c1)
        add_tag(repo, "m@v1.0.0", c1)
    result = run_cli(["get", "m", "-r", str(path)], cwd=out)
    assert result.exit_code == 1
    assert "'model.pkl' is not committed at" in result.stderr


# -- writing --------------------------------------------------------------------------


def test_directory_bytes_and_modes(built: Built, out: Path) -> None:
    result = get(built, out, "bundle@v2.0.0", "--json")
    assert result.exit_code == 0, result.stderr
    assert snapshot(out / "bundle") == expected_bundle(extra=True)
    data = json.loads(result.stdout)
    assert data["nfiles"] == 5
    assert data["output"] == "bundle"
    assert data["version"] == "v2.0.0"
    assert leftovers(out) == []


def test_existing_out_refused_then_forced(built: Built, out: Path) -> None:
    (out / "bundle").mkdir()
    (out / "bundle" / "old.txt").write_text("keep me")
    refused = get(built, out, "bundle@v1.0.0")
    assert refused.exit_code == 1
    assert refused.stderr == "❌ 'bundle' already exists; add --force to replace it\n"
    assert (out / "bundle" / "old.txt").read_text() == "keep me"
    forced = get(built, out, "bundle@v1.0.0", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert snapshot(out / "bundle") == expected_bundle(extra=False)
    assert leftovers(out) == []


def test_out_option_and_api(built: Built, out: Path) -> None:
    result = api.get(built.path, "model#prod", out / "deploy.bin")
    assert (out / "deploy.bin").read_bytes() == b"weights one\n"
    assert result.md5 == hashlib.md5(b"weights one\n").hexdigest()
    with pytest.raises(GTOError, match="already exists"):
        api.get(built.path, "model#prod", out / "deploy.bin")


def test_show_url_on_a_git_artifact(built: Built, out: Path) -> None:
    result = get(built, out, "model", "--show-url")
    assert result.exit_code == 1
    assert "committed in git, not tracked by DVC" in result.stderr


# -- remotes, no git on PATH -------------------------------------------------------------


def test_file_url_without_git(built: Built, out: Path) -> None:
    url = built.path.resolve().as_uri()
    result = run_process(["get", "bundle@v2.0.0", "-r", url, "-v"], cwd=out)
    assert result.exit_code == 0, result.stderr
    assert snapshot(out / "bundle") == expected_bundle(extra=True)
    # Read in place (gto_dulwich.remote.inplace): nothing is fetched.
    assert "fetched " not in result.stderr


def test_http_without_git(built: Built, out: Path) -> None:
    with serve_http(built.path) as remote:
        result = run_process(["get", "model#prod", "-r", remote.url, "--json", "-v"], cwd=out)
        tree = run_process(["get", "bundle", "-r", remote.url], cwd=out)
    assert result.exit_code == 0, result.stderr
    assert (out / "model.bin").read_bytes() == b"weights one\n"
    assert tree.exit_code == 0, tree.stderr
    assert snapshot(out / "bundle") == expected_bundle(extra=True)
    assert leftovers(out) == []


# -- faults ------------------------------------------------------------------------------


def test_disk_full_leaves_nothing(built: Built, out: Path) -> None:
    """RLIMIT_FSIZE makes a write fail with EFBIG, as a full disk fails with ENOSPC."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
        "from gto_dulwich.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "get", "bundle@v2.0.0", "-r", str(built.path)],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("❌ cannot write 'bundle': file too large")
    assert done.stderr.count("\n") == 1
    assert list(out.iterdir()) == []


def test_read_only_output_directory(built: Built, out: Path) -> None:
    prefix = unprivileged()
    os.chmod(built.path.parent, 0o755)
    out.chmod(0o555)
    try:
        result = run_process(["get", "bundle", "-r", str(built.path)], cwd=out, prefix=prefix)
    finally:
        out.chmod(0o755)
    assert result.exit_code == 1, result.stderr
    assert result.stderr == "❌ cannot write 'bundle': Permission denied\n"
    assert list(out.iterdir()) == []


def test_a_filtering_server_sends_only_the_needed_blobs(built: Built, tmp_path: Path) -> None:
    """Against git's own server (filters honoured), get fetches the tagged commits without
    trees, then one commit's trees, then exactly the blobs it writes: no history, no other file."""
    from dulwich.objects import Blob as DulwichBlob
    from dulwich.objects import Commit as DulwichCommit

    from gto_dulwich.remote.reader import RemoteRepo
    from tests.test_remote_read import git_daemon

    served = tmp_path / "srv" / "repo.git"
    shutil.copytree(built.path / ".git", served)
    out = tmp_path / "got"
    out.mkdir()
    with git_daemon(served.parent) as port:
        for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
            subprocess.run(["git", "-C", str(served), "config", key, "true"], check=True)
        with RemoteRepo.open_url(f"git://127.0.0.1:{port}/repo.git") as remote:
            result = api.get(remote, "bundle@v2.0.0", out / "bundle")
            store = remote.dulwich.object_store
            blobs = {bytes(sha) for sha in store if isinstance(store[sha], DulwichBlob)}
            commits = {bytes(sha) for sha in store if isinstance(store[sha], DulwichCommit)}
    assert snapshot(out / "bundle") == expected_bundle(extra=True)
    with Repo(str(built.path)) as repo:
        wanted = {
            bytes(Blob.from_string(data).id)
            for data in [
                ARTIFACTS_V1,
                *(c[1] if isinstance(c, tuple) else c for c in BUNDLE.values()),
                bytes(range(256)) * 8,
            ]
        }
        assert blobs == wanted  # artifacts.yaml at that commit and the bundle's files
        assert b"weights two\n" not in {repo[sha].data for sha in blobs}  # type: ignore[attr-defined]
    assert commits <= {built.c1, built.c2, built.c3}
    assert result.fetched_bytes is not None


# -- large blobs stream ------------------------------------------------------------------


def test_blob_chunks_stream_loose_and_packed_objects(tmp_path: Path) -> None:
    from gto_dulwich.get import CHUNK, blob_chunks
    from gto_dulwich.repo import GitRepo

    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    (tmp_path / "loose").mkdir()
    (tmp_path / "packed").mkdir()
    with Repo.init(str(tmp_path / "loose")) as repo:
        blob = Blob.from_string(data)
        repo.object_store.add_object(blob)
        git = GitRepo(repo, owned=False)
        chunks = list(blob_chunks(git, bytes(blob.id)))
    assert b"".join(chunks) == data
    assert len(chunks) > 2
    assert max(map(len, chunks)) <= CHUNK
    with Repo.init(str(tmp_path / "packed")) as repo:
        repo.object_store.add_objects([(Blob.from_string(data), None)])
        sha = bytes(blob.id).decode()
        assert not (tmp_path / "packed" / ".git" / "objects" / sha[:2] / sha[2:]).exists()
        assert repo.object_store.packs
        git = GitRepo(repo, owned=False)
        assert b"".join(blob_chunks(git, bytes(blob.id))) == data


def test_a_damaged_loose_object_is_refused(tmp_path: Path) -> None:
    import zlib

    from gto_dulwich.errors import GetError
    from gto_dulwich.get import blob_chunks
    from gto_dulwich.repo import GitRepo

    (tmp_path / "r").mkdir()
    with Repo.init(str(tmp_path / "r")) as repo:
        blob = Blob.from_string(b"good bytes")
        repo.object_store.add_object(blob)
        sha = bytes(blob.id).decode()
        path = tmp_path / "r" / ".git" / "objects" / sha[:2] / sha[2:]
        path.chmod(0o644)
        path.write_bytes(zlib.compress(b"blob 10\0evil bytes"))
        git = GitRepo(repo, owned=False)
        with pytest.raises(GetError, match="is damaged in the repository"):
            b"".join(blob_chunks(git, bytes(blob.id)))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ('"m\\uD800.pkl"', "path 'm\\ud800.pkl' in artifacts.yaml is not valid UTF-8"),
        ("../outside.pkl", "path '../outside.pkl' in artifacts.yaml is not inside the repository"),
        ("/etc/passwd", "path '/etc/passwd' in artifacts.yaml is not inside the repository"),
    ],
)
def test_hostile_paths_are_one_line(tmp_path: Path, out: Path, path: str, message: str) -> None:
    repo_path = tmp_path / "r"
    repo_path.mkdir()
    with Repo.init(str(repo_path)) as repo:
        c1 = commit(repo, {"artifacts.yaml": f"m:\n  path: {path}\n".encode()}, [], EPOCH)
        repo.refs[MAIN] = ObjectID(c1)
        add_tag(repo, "m@v1.0.0", c1)
    result = run_process(["get", "m", "-r", str(repo_path)], cwd=out, env={"LC_ALL": "C"})
    assert result.exit_code == 1, result.stderr
    assert result.stderr == f"❌ {message}\n"
    assert list(out.iterdir()) == []
