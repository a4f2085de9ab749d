"""Lock files and atomic replaces: the one way every writer of gto_dulwich touches a file.

A lock is git's protocol: ``<file>.lock`` created with ``O_EXCL``; whoever creates it holds it.
A writer that finds it taken waits, for as long as ``GTO_DULWICH_LOCK_TIMEOUT`` says (one
setting for refs, the ``#N`` counter and the annotations file), then gives up with an error
naming the lock, which a crashed process may have left behind.

A replace writes a temporary file in the target's directory and renames it over the target,
so readers see the old file or the new one, never a part; the temporary file is removed
whatever fails.
"""

from __future__ import annotations

import contextlib
import os
import random
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from gto_dulwich import settings
from gto_dulwich.errors import CannotWrite, RefBusy

T = TypeVar("T")


def patiently(
    attempt: Callable[[], T], give_up: Callable[[RefBusy], Exception], patience: float | None = None
) -> T:
    """``attempt()`` until it stops raising :class:`RefBusy` (another writer holds a lock),
    waiting up to ``patience`` seconds (default: ``GTO_DULWICH_LOCK_TIMEOUT``), then
    ``give_up(busy)`` is raised."""
    if patience is None:
        patience = settings.current().lock_timeout
    deadline = time.monotonic() + patience
    while True:
        try:
            return attempt()
        except RefBusy as busy:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise give_up(busy) from None
            # Jitter: writers that collided once should not collide again in step.
            time.sleep(min(random.uniform(0.001, 0.02), remaining))


def try_lock(
    lock: Path, mode: int = 0o644, *, on_error: Callable[[OSError], Exception] = CannotWrite
) -> int:
    """Create ``lock`` with ``O_EXCL`` and return its descriptor; :class:`RefBusy` when
    another writer holds it, ``on_error(exc)`` when the file system refuses."""
    try:
        return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        raise RefBusy(str(lock)) from None
    except OSError as exc:  # a read-only work tree or repository
        raise on_error(exc) from None


@contextlib.contextmanager
def held(
    lock: Path, give_up: Callable[[RefBusy], Exception], patience: float | None = None
) -> Iterator[None]:
    """Hold ``lock`` for the block, waiting for another holder as :func:`patiently` does.

    Only a lock this call created is removed on exit: a lock someone deleted and
    re-created meanwhile belongs to them.  The lock holds the owner's pid and a
    random token, for people and for that check.
    """
    fd = patiently(lambda: try_lock(lock), give_up, patience)
    # A token, not the inode: a lock deleted and re-created by someone else may get our inode back.
    token = f"{os.getpid()} {_random_hex(8)}\n".encode("ascii")
    try:
        os.write(fd, token)
    except BaseException:
        os.close(fd)
        os.unlink(lock)
        raise
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if lock.read_bytes() == token:
                os.unlink(lock)


def _random_hex(size: int) -> str:
    """``secrets.token_hex`` without importing ``secrets`` (and with it hmac and base64) into
    every command: a lock token and a temporary name need only unpredictable bytes."""
    return os.urandom(size).hex()


def replace_file(
    target: Path, data: bytes, *, durable: bool = True, follow_links: bool = True
) -> None:
    """Replace ``target`` with ``data`` in one step (temporary file + rename).

    A symlinked target stays a symlink (its file is replaced), unless not ``follow_links``:
    then the link itself is replaced (a file gto_dulwich owns, such as a cache in ``.git``,
    must not let a planted link make it write over ``~/.bashrc`` or ``/dev/zero``).  An
    existing file keeps its mode, a new one gets the umask's.  ``durable`` syncs the data and
    the directory before and after the rename (a cache can do without).  Raises ``OSError``;
    the temporary file is gone whatever failed.
    """
    real = Path(os.path.realpath(target)) if follow_links else target
    directory = real.parent
    temp = directory / f".{real.name}.{os.getpid()}.{_random_hex(4)}.tmp"
    # 0o666 lets the umask decide a new file's mode, as for any file the user creates.
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            kept = os.stat(real, follow_symlinks=follow_links)
            if stat.S_ISREG(kept.st_mode):
                os.chmod(temp, stat.S_IMODE(kept.st_mode))
        os.replace(temp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if durable and sys.platform != "win32":  # a directory cannot be opened on Windows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
