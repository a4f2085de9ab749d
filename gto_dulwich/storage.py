"""Download DVC objects from remote storage, verified by md5, streamed to disk.

Schemes: a local path or ``file://`` (plain reads), ``http(s)://`` (urllib3,
which dulwich already depends on) and ``s3://`` (boto3, the optional
``gto_dulwich[s3]`` extra).  Anything else is refused with the address, so the
user can fetch it with their own tool.

Memory stays flat: objects are read and written in :data:`CHUNK` pieces and
hashed on the way.  A file is written to a temporary name beside OUT and
renamed only after its md5 matched; a directory output (a ``.dir`` manifest)
is built in a temporary directory, every file verified, then renamed whole.

Credentials: http(s) Basic auth from ``user:password@`` in the remote URL or
from :data:`USERNAME_ENV` / :data:`PASSWORD_ENV`; S3 from boto3's usual chain
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``...).  None of them is ever printed:
addresses in messages have their user info removed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gto_dulwich import settings
from gto_dulwich.errors import StorageError
from gto_dulwich.get import CHUNK, Progress, Written, cannot_write, staged
from gto_dulwich.remote.connection import redact_url

USERNAME_ENV = "GTO_DULWICH_STORAGE_USERNAME"
PASSWORD_ENV = "GTO_DULWICH_STORAGE_PASSWORD"

#: A ``.dir`` manifest is read into memory: refuse absurd ones.
MANIFEST_LIMIT = 256 << 20


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    md5: str
    relpath: str


def shown(url: str) -> str:
    return redact_url(url)


# -- opening a stream -------------------------------------------------------------------


Stream = tuple[Iterator[bytes], int | None]


@contextlib.contextmanager
def open_object(url: str, environ: Mapping[str, str] | None = None) -> Iterator[Stream]:
    """The object's bytes as chunks, and its size when the storage says it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        path = unquote(parts.path) if scheme == "file" else url
        with _open_local(path, url) as stream:
            yield stream
    elif scheme in ("http", "https"):
        with _open_http(url, environ) as stream:
            yield stream
    elif scheme == "s3":
        with _open_s3(url) as stream:
            yield stream
    else:
        raise StorageError(
            f"cannot download {shown(url)}: {scheme}:// storage is not supported; "
            "fetch that address with your own tool"
        )


@contextlib.contextmanager
def _open_local(path: str, url: str) -> Iterator[Stream]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed below, after the caller's reads
    except OSError as exc:
        raise StorageError(f"cannot read {shown(url)}: {exc.strerror or exc}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size

        def chunks() -> Iterator[bytes]:
            try:
                while chunk := handle.read(CHUNK):
                    yield chunk
            except OSError as exc:
                raise StorageError(f"cannot read {shown(url)}: {exc.strerror or exc}") from None

        yield chunks(), size


def _http_auth(url: str, record: settings.Settings) -> tuple[str, dict[str, str]]:
    """The URL without user info, and the headers carrying it (or the env's) as Basic auth."""
    parts = urlsplit(url)
    headers: dict[str, str] = {}
    username: str | None = None
    password = ""
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        username, password = unquote(username), unquote(password)
        url = parts._replace(netloc=host).geturl()
    elif record.storage_username or record.storage_password:
        username, password = record.storage_username, record.storage_password
    if username is not None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return url, headers


@contextlib.contextmanager
def _open_http(url: str, environ: Mapping[str, str] | None) -> Iterator[Stream]:
    import urllib3

    record = settings.of(environ)
    target, headers = _http_auth(url, record)
    timeout = record.timeout
    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=urllib3.Retry(total=2, connect=2, read=0, redirect=5, status=0),
    )
    try:
        response = pool.request("GET", target, headers=headers, preload_content=False)
    except urllib3.exceptions.HTTPError as exc:
        raise StorageError(f"cannot download {shown(url)}: {_reason(exc)}") from None
    try:
        if response.status != 200:
            status = f"HTTP {response.status} {response.reason or ''}".rstrip()
            raise StorageError(f"cannot download {shown(url)}: {status}")
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None

        def chunks() -> Iterator[bytes]:
            try:
                yield from response.stream(CHUNK)
            except urllib3.exceptions.HTTPError as exc:
                raise StorageError(f"download of {shown(url)} broke off: {_reason(exc)}") from None

        yield chunks(), size
    finally:
        response.release_conn()
        pool.clear()


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a urllib3 error, without the URL (it may hold secrets)."""
    reason = getattr(exc, "reason", None)
    text = str(reason or exc)
    return " ".join(text.split())[:200]


@contextlib.contextmanager
def _open_s3(url: str) -> Iterator[Stream]:
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise StorageError(
            f"cannot download {shown(url)}: s3:// needs boto3: pip install 'gto_dulwich[s3]'"
        ) from None
    parts = urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
    try:
        client = _s3_client(boto3)
        answer = client.get_object(Bucket=bucket, Key=key)
    except errors as exc:
        raise StorageError(f"cannot download {shown(url)}: {_s3_reason(exc)}") from None
    body = answer["Body"]
    size = answer.get("ContentLength")

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        except (*errors, OSError) as exc:
            raise StorageError(f"download of {shown(url)} broke off: {_s3_reason(exc)}") from None

    try:
        yield chunks(), size if isinstance(size, int) else None
    finally:
        body.close()


_S3_CLIENTS: dict[tuple[str | None, ...], Any] = {}


def _s3_client(boto3: Any) -> Any:
    """One client per credentials and endpoint: making one reads boto's data files (0.2 s)."""
    aws = settings.current().aws_environ
    key = tuple(aws.get(name) for name in _S3_ENV)
    if key not in _S3_CLIENTS:
        _S3_CLIENTS.clear()
        _S3_CLIENTS[key] = boto3.session.Session().client("s3")
    return _S3_CLIENTS[key]


_S3_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


def _s3_reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code")
        if code:
            return f"{code} {error.get('Message', '')}".strip()
    return " ".join(str(exc).split())[:200]


# -- downloading ---------------------------------------------------------------------


def _hash_name(md5: str) -> str:
    return md5[:-4] if md5.endswith(".dir") else md5


def download_into(
    url: str,
    md5: str,
    target: Path,
    out: Path,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    legacy: bool = False,
) -> int:
    """Stream the object at ``url`` into the file ``target``; fail unless its md5 is ``md5``.

    ``legacy`` (a DVC 2 output): a text file's md5 may be DVC 2's, taken with CRLF read as LF.
    """
    digest = hashlib.md5(usedforsecurity=False)
    text = _Dos2Unix() if legacy else None
    size = 0
    with open_object(url, environ) as (chunks, _length):
        try:
            with open(target, "wb") as handle:
                for chunk in chunks:
                    digest.update(chunk)
                    if text is not None:
                        text.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise cannot_write(out, exc) from None
    got = digest.hexdigest()
    if got != _hash_name(md5) and not (text is not None and text.hexdigest() == _hash_name(md5)):
        raise StorageError(f"md5 mismatch for {shown(url)}: expected {_hash_name(md5)}, got {got}")
    return size


# What DVC 2 (dvc-objects' istextblock) counts as text characters.
_TEXT_CHARS = bytes({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x100)) - {0x7F})


class _Dos2Unix:
    """DVC 2's md5 of a text file: CRLF read as LF; None for a binary one (first 512 bytes)."""

    def __init__(self) -> None:
        self._digest = hashlib.md5(usedforsecurity=False)
        self._head = b""
        self._pending = b""

    def update(self, chunk: bytes) -> None:
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        data = self._pending + chunk
        self._pending = b"\r" if data.endswith(b"\r") else b""
        if self._pending:
            data = data[:-1]
        self._digest.update(data.replace(b"\r\n", b"\n"))

    def hexdigest(self) -> str | None:
        head = self._head
        if b"\x00" in head or (head and len(head.translate(None, _TEXT_CHARS)) / len(head) > 0.3):
            return None
        digest = self._digest.copy()
        digest.update(self._pending)
        return digest.hexdigest()


def read_manifest(
    url: str, md5: str, environ: Mapping[str, str] | None = None
) -> list[ManifestEntry]:
    """A ``.dir`` object: verified, parsed, every relpath checked to stay inside OUT."""
    data = bytearray()
    with open_object(url, environ) as (chunks, _length):
        for chunk in chunks:
            data += chunk
            if len(data) > MANIFEST_LIMIT:
                raise StorageError(
                    f"directory manifest {shown(url)} is over {MANIFEST_LIMIT} bytes"
                )
    got = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if got != _hash_name(md5):
        raise StorageError(f"md5 mismatch for {shown(url)}: expected {_hash_name(md5)}, got {got}")
    try:
        raw = json.loads(bytes(data))
        entries = [ManifestEntry(str(item["md5"]), str(item["relpath"])) for item in raw]
    except (ValueError, TypeError, KeyError) as exc:
        raise StorageError(
            f"directory manifest {shown(url)} is not a DVC .dir list: {exc}"
        ) from None
    for entry in entries:
        parts = entry.relpath.replace("\\", "/").split("/")
        if (
            entry.relpath.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or not entry.relpath.isprintable()
            or not _utf8(entry.relpath)
        ):
            raise StorageError(
                f"directory manifest {shown(url)} names a path outside the output: "
                f"{entry.relpath!a}"
            )
        if len(_hash_name(entry.md5)) != 32:
            raise StorageError(f"directory manifest {shown(url)} holds a bad md5: {entry.md5!r}")
    return entries


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fetch_output(
    url: str,
    md5: str,
    out: Path,
    *,
    address: Callable[[str], str],
    force: bool,
    size: int | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    legacy: bool = False,
) -> Written:
    """Download a file object, or every file of a ``.dir`` object, into ``out`` atomically.

    ``address`` maps a file's md5 to its URL (the remote's layout); ``legacy``: a DVC 2
    output, whose text files may carry DVC 2's CRLF-as-LF md5.
    """
    written = Written()

    def advance(count: int) -> None:
        written.size += count
        if progress is not None:
            progress(written.size, size)

    if not md5.endswith(".dir"):
        with staged(out, directory=False, force=force) as temp:
            download_into(url, md5, temp, out, environ=environ, progress=advance, legacy=legacy)
            _chmod(temp, out)
        written.md5 = md5
        written.nfiles = 1
        return written
    entries = read_manifest(url, md5, environ)
    with staged(out, directory=True, force=force) as temp:
        for entry in entries:
            target = temp / entry.relpath
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise cannot_write(out, exc) from None
            download_into(
                address(entry.md5),
                entry.md5,
                target,
                out,
                environ=environ,
                progress=advance,
                legacy=legacy,
            )
            _chmod(target, out)
            written.nfiles += 1
            written.files.append(entry.relpath)
        for folder, _dirs, _files in os.walk(temp):
            os.chmod(folder, 0o777 & ~_umask())
    written.md5 = md5
    return written


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _chmod(path: Path, out: Path) -> None:
    try:
        path.chmod(0o666 & ~_umask())
    except OSError as exc:
        raise cannot_write(out, exc) from None
