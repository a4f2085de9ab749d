"""Reading files a repository controls without hanging, exhausting memory or leaving it.

A cache file in the git directory, ``.gto`` or ``artifacts.yaml`` in the work
tree can be replaced by anyone who controls the repository: by a FIFO (an
``open`` that never returns), a link to ``/dev/zero`` (a read that never ends)
or a symbolic link to a file outside the work tree.  These helpers open
without following a final symbolic link and without blocking, read only
regular files, and never more than a given number of bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NotRegular", "TooLarge", "inside", "read_regular"]


class NotRegular(OSError):
    """The path is not a regular file (a FIFO, a device, a directory, a symbolic link)."""


class TooLarge(OSError):
    """The regular file holds more bytes than the caller allows; ``size`` says how many."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(f"{path}: {size} bytes")
        self.size = size


def read_regular(path: Path | str, limit: int, *, follow_links: bool = False) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises ``FileNotFoundError`` (absent), :class:`NotRegular`, :class:`TooLarge`
    or another ``OSError``; never blocks on a FIFO and never follows a final
    symbolic link unless ``follow_links`` (git follows them in ``.git``: a symbolic
    ``HEAD`` or ref) -- the file it leads to must still be a regular one.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_links and os.path.islink(path):
            raise NotRegular(f"{path} is a symbolic link") from None
        raise exc from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(f"{path} is not a regular file")
        if info.st_size > limit:
            raise TooLarge(Path(path), info.st_size)
        chunks = []
        left = limit + 1  # a file growing while we read is still bounded
        step = info.st_size + 1  # the whole file in the first read, as a rule
        while left > 0:
            chunk = os.read(fd, min(left, step))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            step = 1 << 16  # then small reads until its end (or until it is too large)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(data) > limit:
            raise TooLarge(Path(path), len(data))
        return data
    finally:
        os.close(fd)


def inside(path: Path | str, root: Path | str) -> bool:
    """Whether ``path``, with every symbolic link resolved, is ``root`` or under it."""
    real = os.path.realpath(path)
    top = os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)
