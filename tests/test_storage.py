"""storage.py against real servers on 127.0.0.1: a static file server (honest, corrupting,
dropping the connection) and moto's S3 server; local paths and file:// URLs."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.errors import StorageError
from gto_dulwich.storage import fetch_output
from tests.static_server import serve_files, serve_s3


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put(remote: Path, data: bytes, *, dvc3: bool = True, suffix: str = "") -> str:
    """Store ``data`` under its md5 in a DVC remote layout; return the md5."""
    digest = md5(data) + suffix
    folder = remote / "files" / "md5" if dvc3 else remote
    target = folder / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return digest


def address(base: str, digest: str, dvc3: bool = True) -> str:
    return (
        f"{base}/files/md5/{digest[:2]}/{digest[2:]}"
        if dvc3
        else f"{base}/{digest[:2]}/{digest[2:]}"
    )


FILES = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)) * 100, "sub/deep/c": b""}


def put_dir(remote: Path, files: dict[str, bytes], *, dvc3: bool = True) -> str:
    entries = [
        {"md5": put(remote, data, dvc3=dvc3), "relpath": rel} for rel, data in sorted(files.items())
    ]
    manifest = json.dumps(entries, sort_keys=True).encode()
    return put(remote, manifest, dvc3=dvc3, suffix=".dir")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    folder = tmp_path / "remote"
    folder.mkdir()
    return folder


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def fetch(base: str, digest: str, target: Path, *, dvc3: bool = True, force: bool = False) -> int:
    written = fetch_output(
        address(base, digest, dvc3),
        digest,
        target,
        address=lambda h: address(base, h, dvc3),
        force=force,
    )
    return written.size


@pytest.mark.parametrize("dvc3", [True, False])
@pytest.mark.parametrize("scheme", ["path", "file", "http"])
def test_file_and_directory(remote: Path, out: Path, scheme: str, dvc3: bool) -> None:
    data = b"model weights\n" * 1000
    digest = put(remote, data, dvc3=dvc3)
    dir_md5 = put_dir(remote, FILES, dvc3=dvc3)
    with serve_files(remote) as server:
        base = {"path": str(remote), "file": remote.as_uri(), "http": server.url}[scheme]
        assert fetch(base, digest, out / "model.bin", dvc3=dvc3) == len(data)
        assert fetch(base, dir_md5, out / "data", dvc3=dvc3) == sum(map(len, FILES.values()))
    assert (out / "model.bin").read_bytes() == data
    assert tree(out / "data") == FILES
    assert sorted(p.name for p in out.iterdir()) == ["data", "model.bin"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [("corrupt", "md5 mismatch for http://127.0.0.1:"), ("drop", "broke off")],
)
@pytest.mark.parametrize("directory", [False, True])
def test_hostile_http_leaves_nothing(
    remote: Path, out: Path, fault: str, message: str, directory: bool
) -> None:
    digest = put_dir(remote, FILES) if directory else put(remote, b"x" * 100_000)
    with serve_files(remote, fault=fault) as server, pytest.raises(StorageError) as caught:
        fetch(server.url, digest, out / "model")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert list(out.iterdir()) == []


def test_missing_object_and_unknown_scheme(remote: Path, out: Path) -> None:
    with serve_files(remote) as server, pytest.raises(StorageError, match="HTTP 404"):
        fetch(server.url, md5(b"nope"), out / "x")
    with pytest.raises(StorageError, match=r"cannot download gs://bucket/.*: gs:// storage is not"):
        fetch("gs://bucket/store", md5(b"x"), out / "x")
    with pytest.raises(StorageError, match="cannot read"):
        fetch(str(remote / "absent"), md5(b"x"), out / "x")
    assert list(out.iterdir()) == []


def test_basic_auth_from_env_and_url(
    remote: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = put(remote, b"secret model\n")
    with serve_files(remote, username="ann", password="s3cr3t") as server:
        with pytest.raises(StorageError) as caught:
            fetch(server.url.replace("http://", "http://ann:wrong@"), digest, out / "m")
        assert "HTTP 401" in str(caught.value)
        assert "wrong" not in str(caught.value)
        fetch(server.url.replace("http://", "http://ann:s3cr3t@"), digest, out / "m")
        monkeypatch.setenv("GTO_DULWICH_STORAGE_USERNAME", "ann")
        monkeypatch.setenv("GTO_DULWICH_STORAGE_PASSWORD", "s3cr3t")
        fetch(server.url, digest, out / "m", force=True)
    assert (out / "m").read_bytes() == b"secret model\n"


@pytest.mark.parametrize("relpath", ["../evil", "/abs", "a/../../evil", "bad\ud800", "new\nline"])
def test_manifest_cannot_escape(remote: Path, out: Path, relpath: str) -> None:
    entries = [{"md5": put(remote, b"evil"), "relpath": relpath}]
    digest = put(remote, json.dumps(entries).encode(), suffix=".dir")
    with pytest.raises(StorageError, match="names a path outside the output"):
        fetch(str(remote), digest, out / "d")
    assert list(out.iterdir()) == []
    assert not (out.parent / "evil").exists()


def test_existing_output_is_refused(remote: Path, out: Path) -> None:
    digest = put(remote, b"new")
    (out / "m").write_bytes(b"old")
    from gto_dulwich.errors import GTOError

    with pytest.raises(GTOError, match="already exists"):
        fetch(str(remote), digest, out / "m")
    assert (out / "m").read_bytes() == b"old"
    fetch(str(remote), digest, out / "m", force=True)
    assert (out / "m").read_bytes() == b"new"
    assert sorted(p.name for p in out.iterdir()) == ["m"]


# -- S3 (moto's server on 127.0.0.1) -----------------------------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Iterator[dict[str, str]]:
    """One moto S3 server for the module (it takes a second to start)."""
    with serve_s3() as env:
        yield env


@pytest.fixture
def s3(s3_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in s3_server.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.session.Session().client("s3")
    with contextlib.suppress(Exception):
        client.create_bucket(Bucket="models")
    return client


def upload(client: Any, remote: Path) -> None:
    for path in remote.rglob("*"):
        if path.is_file():
            client.put_object(
                Bucket="models",
                Key="store/" + path.relative_to(remote).as_posix(),
                Body=path.read_bytes(),
            )


@pytest.mark.parametrize("dvc3", [True, False])
def test_s3(s3: Any, remote: Path, out: Path, dvc3: bool) -> None:
    data = b"s3 weights\n" * 500
    digest = put(remote, data, dvc3=dvc3)
    dir_md5 = put_dir(remote, FILES, dvc3=dvc3)
    upload(s3, remote)
    fetch("s3://models/store", digest, out / "model.bin", dvc3=dvc3)
    fetch("s3://models/store", dir_md5, out / "data", dvc3=dvc3)
    assert (out / "model.bin").read_bytes() == data
    assert tree(out / "data") == FILES
    with pytest.raises(StorageError, match="NoSuchKey"):
        fetch("s3://models/store", md5(b"absent"), out / "absent")
    assert sorted(p.name for p in out.iterdir()) == ["data", "model.bin"]


@pytest.mark.parametrize("chunked", [False, True])
def test_dvc2_text_md5_reads_crlf_as_lf(remote: Path, out: Path, chunked: bool) -> None:
    """DVC 2 hashed text files with CRLF turned into LF; the object holds the raw bytes."""
    data = b"line one\r\nline two\r\n" * (100_000 if chunked else 1)  # chunked: several chunks
    digest = md5(data.replace(b"\r\n", b"\n"))
    target = remote / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    base = str(remote)

    def get(legacy: bool) -> None:
        fetch_output(
            address(base, digest, False),
            digest,
            out / "t.txt",
            address=lambda h: address(base, h, False),
            force=True,
            legacy=legacy,
        )

    with pytest.raises(StorageError, match="md5 mismatch"):
        get(legacy=False)
    get(legacy=True)
    assert (out / "t.txt").read_bytes() == data
    binary = b"\x00\r\n" * 10
    digest = md5(binary.replace(b"\r\n", b"\n"))
    (remote / digest[:2]).mkdir(exist_ok=True)
    (remote / digest[:2] / digest[2:]).write_bytes(binary)
    with pytest.raises(StorageError, match="md5 mismatch"):
        get(legacy=True)
