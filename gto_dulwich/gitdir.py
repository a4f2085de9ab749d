"""A repository of the usual shape, read without dulwich.

Importing dulwich costs about 27 ms, a fifth of a one-artifact read such as
``gto latest NAME``.  Most repositories are plain: a ``.git`` directory (or a bare
one) with a simple ``config``, objects in packs or loose.  For those,
:class:`~gto_dulwich.repo.GitRepo` finds the repository, reads commits, trees and
blobs with this module and :mod:`gto_dulwich.packscan`, and opens dulwich only
for what is unusual: a ``.git`` file (a linked worktree or a submodule), a
``commondir``, a config naming a work tree, extensions or includes, an object
found neither in a pack nor loose (alternates, or absent), and every sign of
damage.

Like the pack reader this is only a shortcut: whatever it does not read exactly
as dulwich does gives None, and dulwich decides (tests/test_gitdir.py holds the
two to the same answers).
"""

from __future__ import annotations

import os
import re
import zlib
from typing import NamedTuple

from gto_dulwich.safefile import read_regular

#: git's object types by the numbers pack headers give them, and the reverse.
TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
TYPE_NUMBERS = {name: number for number, name in TYPE_NAMES.items()}
# The most of a config file we look at to call it plain (a usual one is a few hundred bytes).
_MAX_CONFIG = 64 * 1024
# The largest loose object read here (dulwich reads larger ones itself).
_MAX_LOOSE = 64 << 20
# A config line of the plain shape, its surrounding blanks stripped: a section header,
# ``key = value`` with nothing quoted, escaped or commented out after the value, a comment.
# (Each part takes characters the next cannot, so a match is linear in the line.)
_PLAIN_LINE = re.compile(
    rb'\[[A-Za-z0-9.-]+(?: "[^"\\\n]*")?\]'
    rb"|[A-Za-z][A-Za-z0-9-]*(?:[ \t]*=[^\"\\;#\r\n]*)?"
    rb"|[#;][^\n]*"
)
# What makes dulwich open a repository differently from the layout alone says.
_CONFIG_SPECIALS = (b"worktree", b"extensions", b"include")
_FORMAT_VERSION = re.compile(rb"repositoryformatversion[ \t]*=[ \t]*([^\n]*)")
_HEX_ID = re.compile("[0-9a-f]{40}")


class Layout(NamedTuple):
    """Where a plain repository is, as dulwich's ``Repo`` would say."""

    #: The work tree's root, or for a bare repository the git directory.
    path: str
    #: The git directory (``.git``); also the common directory: a plain one has no other.
    controldir: str
    bare: bool


def discover(start: str) -> Layout | None:
    """The repository ``Repo.discover(start)`` would open, when it is a plain one.

    The walk up the directories is dulwich's: a folder whose ``.git`` is a file or
    holds ``objects`` is a work tree, one holding ``objects`` and ``refs`` is a bare
    repository.  None: nothing found, or something unusual (dulwich decides, and
    reports what is wrong).
    """
    path = os.path.realpath(start)
    while True:
        hidden = os.path.join(path, ".git")
        if os.path.isfile(hidden):
            return None  # a linked worktree or a submodule: dulwich follows the .git file
        if os.path.isdir(os.path.join(hidden, "objects")):
            layout = Layout(path, hidden, False)
            break
        if os.path.isdir(os.path.join(path, "objects")) and os.path.isdir(
            os.path.join(path, "refs")
        ):
            layout = Layout(path, path, True)
            break
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    if os.path.lexists(os.path.join(layout.controldir, "commondir")):
        return None
    return layout if _plain_config(os.path.join(layout.controldir, "config")) else None


def _plain_config(path: str) -> bool:
    """Whether a config file (or its absence) leaves a repository as its layout says."""
    try:
        data = read_regular(path, _MAX_CONFIG, follow_links=True)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    for raw_line in data.split(b"\n"):
        line = raw_line.strip(b" \t").removesuffix(b"\r")
        if line and _PLAIN_LINE.fullmatch(line) is None:
            return False
    lowered = data.lower()
    if any(special in lowered for special in _CONFIG_SPECIALS):
        return False
    versions = _FORMAT_VERSION.findall(lowered)
    return all(value.strip() in (b"0", b"1") for value in versions)


def read_loose(objects_dir: str, hexsha: str) -> tuple[int, bytes] | None:
    """``(type number, content)`` of a loose object, or None: absent, or anything
    unusual about it (dulwich decides)."""
    if _HEX_ID.fullmatch(hexsha) is None:
        return None  # not an object id: never a path of our choosing
    try:
        data = read_regular(
            os.path.join(objects_dir, hexsha[:2], hexsha[2:]), _MAX_LOOSE, follow_links=True
        )
        inflater = zlib.decompressobj()
        header = _loose_header(inflater.decompress(data, 64))
        if header is None:
            return None
        kind, size, rest = header
        type_num = TYPE_NUMBERS.get(kind)
        if type_num is None or size > _MAX_LOOSE:
            return None
        content = rest + inflater.decompress(inflater.unconsumed_tail, size + 1)
    except (OSError, zlib.error):
        return None
    return (type_num, content) if len(content) == size else None


def loose_size(objects_dir: str, hexsha: str) -> int | None:
    """A loose object's size from its header alone, or None (not loose, or unusual)."""
    if _HEX_ID.fullmatch(hexsha) is None:
        return None
    try:
        with open(os.path.join(objects_dir, hexsha[:2], hexsha[2:]), "rb") as handle:
            header = _loose_header(zlib.decompressobj().decompress(handle.read(512), 64))
    except (OSError, zlib.error):
        return None
    return None if header is None else header[1]


def _loose_header(head: bytes) -> tuple[bytes, int, bytes] | None:
    """``(type name, size, the content that follows)`` from a loose object's first
    inflated bytes (``type size\\0``), or None when they are not such a header."""
    end = head.find(b"\0")
    kind, _, size_text = head[:end].partition(b" ")
    if end < 0 or not size_text.isdigit():
        return None
    return kind, int(size_text), head[end + 1 :]


class CommitFields(NamedTuple):
    """What the registry reads of a commit, as dulwich's ``Commit`` has it."""

    tree: bytes
    author: bytes
    committer: bytes
    commit_time: int
    commit_timezone: int
    message: bytes


# A commit as git writes it: tree, parents, author, committer, other headers (a signature,
# an encoding), a blank line, the message.  Anything else is dulwich's to parse.
_COMMIT = re.compile(
    rb"tree [0-9a-f]{40}\n(?:parent [0-9a-f]{40}\n)*author ([^\n]*)\ncommitter ([^\n]*)\n"
    rb"(?:(?!(?:tree|parent|author|committer) )[^ \n]+ [^\n]*\n(?: [^\n]*\n)*)*\n"
)
# ``Name <email> 1700000000 +0200`` as dulwich splits it (at the last "> ").
_IDENTITY = re.compile(rb"(.*>) ([0-9]+) ([+-])([0-9]{4})")


def parse_commit(raw: bytes) -> CommitFields | None:
    """A commit object's fields, or None when it is not of the usual shape."""
    match = _COMMIT.match(raw)
    if match is None:
        return None
    author = _IDENTITY.fullmatch(match.group(1))
    committer = _IDENTITY.fullmatch(match.group(2))
    if author is None or committer is None:
        return None
    person, when, sign, zone = committer.groups()
    offset = int(zone)
    seconds = (offset // 100) * 3600 + (offset % 100) * 60
    return CommitFields(
        raw[5:45],
        author.group(1),
        person,
        int(when),
        -seconds if sign == b"-" else seconds,
        raw[match.end() :],
    )


#: A tree's entries: ``{name: (mode, hex sha)}``, in the order git sorts them.
TreeEntries = dict[bytes, tuple[int, bytes]]


def parse_tree(raw: bytes) -> TreeEntries | None:
    """A tree object's entries, or None when it is not of the usual shape."""
    entries: TreeEntries = {}
    at, length = 0, len(raw)
    previous = b""
    while at < length:
        space = raw.find(b" ", at, at + 8)
        name_end = raw.find(b"\0", space + 1)
        if space < 0 or name_end < 0 or name_end + 21 > length:
            return None
        mode_text = raw[at:space]
        if not mode_text.isdigit() or b"8" in mode_text or b"9" in mode_text:
            return None
        mode = int(mode_text, 8)
        name = raw[space + 1 : name_end]
        # git's order, which dulwich iterates in: a directory sorts as if its name ended in /
        key = name + b"/" if mode & 0o170000 == 0o040000 else name
        if not name or key <= previous or name in entries:
            return None
        previous = key
        entries[name] = (mode, raw[name_end + 1 : name_end + 21].hex().encode("ascii"))
        at = name_end + 21
    return entries
