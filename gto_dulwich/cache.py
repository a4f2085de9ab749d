"""A persistent cache of parsed tag objects, keyed by the tag object's id.

Reading a registry costs one zlib inflate per tag object; a tag object never
changes (its id is the hash of its content), so what we parsed out of it can be
kept forever and needs no invalidation.  The cache lives in the repository's
git directory, is written atomically (temp file + rename), and is only ever a
shortcut: a missing, corrupt or foreign cache file is ignored and rebuilt, and
the registry reads the same without it.  ``--no-cache`` or
``GTO_DULWICH_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT = "gto_dulwich tag cache"
VERSION = 1
FILE_NAME = "gto_dulwich-tags.json"
INDEX_FILE_NAME = "gto_dulwich-annotations.json"

# tag_name, tagger_name, tagger_email, time, tz_offset, target, target_type, message
Entry = tuple[str, str, str, int, int, str, str, str]


def write_atomically(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` (temp file + rename); False if it could not be written.

    Readers see the old file or the new one, never a part.  A read-only
    repository just goes without a cache.
    """
    from gto_dulwich.locks import replace_file

    try:
        # A lost cache is only rebuilt; a link planted in its place is replaced, not followed.
        replace_file(path, data, durable=False, follow_links=False)
    except OSError:
        return False
    return True


# 100,000 tags cache in 45 MB; a larger "cache" is not one we wrote.
MAX_CACHE_BYTES = 512 << 20


def read_json(path: Path) -> Any:
    """A cache file's JSON, or None when it is absent, unreadable or not a cache: only a
    regular file is read (a FIFO or a link to /dev/zero must not hang or fill memory)."""
    from gto_dulwich.safefile import read_regular

    try:
        return json.loads(read_regular(path, MAX_CACHE_BYTES))
    except (OSError, ValueError, RecursionError):
        return None


class _Store:
    """One JSON file in the git directory: ``{format, version, <section>: {key: value}}``."""

    section = ""
    version = VERSION

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = self._load()
        self.added = 0

    def _load(self) -> dict[str, Any]:
        raw: Any = read_json(self.path)
        if (
            isinstance(raw, dict)
            and raw.get("format") == FORMAT
            and raw.get("version") == self.version
            and isinstance(raw.get(self.section), dict)
        ):
            return dict(raw[self.section])
        return {}

    def save(self) -> None:
        """Write the file atomically if it grew; any failure leaves things as they were.

        Two processes saving at once each write a complete file; the last rename
        wins and the other's additions are simply parsed again next time.
        """
        if not self.added:
            return
        payload = {"format": FORMAT, "version": self.version, self.section: self.data}
        if write_atomically(self.path, json.dumps(payload, separators=(",", ":")).encode()):
            self.added = 0


class TagCache(_Store):
    """Parsed tag objects by tag object id.

    An entry is one string, its eight fields joined by NUL: one object per tag
    instead of nine keeps 100,000 tags at 45 MB instead of 60 MB and loads in
    half the time.  A field holding a NUL is not cached.
    """

    section = "tags"
    version = 2

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._shared: dict[str, str] = {}

    def get(self, sha: str) -> Entry | None:
        """The cached entry, checked on use (a damaged entry is a miss, not a crash)."""
        entry = self.data.get(sha)
        if type(entry) is not str:
            return None
        fields = entry.split("\x00")
        if len(fields) != 8:
            return None
        tag_name, name, email, when, tz, target, target_type, message = fields
        try:
            time, offset = int(when), int(tz)
        except ValueError:
            return None
        # Taggers, commits and types repeat across tags: keep one string of each.
        shared = self._shared
        name = shared.setdefault(name, name)
        email = shared.setdefault(email, email)
        target = shared.setdefault(target, target)
        target_type = shared.setdefault(target_type, target_type)
        return tag_name, name, email, time, offset, target, target_type, message

    def has(self, sha: str) -> bool:
        return sha in self.data

    def put(self, sha: str, entry: Entry) -> None:
        if sha in self.data:
            return
        joined = "\x00".join(map(str, entry))
        if joined.count("\x00") == 7:
            self.data[sha] = joined
            self.added += 1


class IndexCache(_Store):
    """Parsed ``artifacts.yaml`` files by the SHA-1 of their bytes: ``{name: fields}``.

    Kept apart from the tag cache: it is small, so even a one-artifact command
    loads it (a large ``artifacts.yaml`` costs far more to parse than to load).
    """

    section = "indexes"

    def get(self, key: str) -> dict[str, dict[str, Any]] | None:
        """The cached file, checked on use (a damaged entry is a miss, not a crash)."""
        index = self.data.get(key)
        if not isinstance(index, dict) or not all(
            isinstance(name, str) and _valid_annotation(fields) for name, fields in index.items()
        ):
            return None
        return index

    def put(self, key: str, index: dict[str, dict[str, Any]]) -> None:
        """Remember a parsed file, if it is plain JSON data (YAML may hold dates)."""
        try:
            json.dumps(index)
        except (TypeError, ValueError):
            return
        self.data[key] = index
        self.added += 1


def _valid_annotation(fields: Any) -> bool:
    """What ``Annotation.to_dict`` writes: these six keys, typed as it types them."""
    return (
        isinstance(fields, dict)
        and fields.keys() == {"type", "path", "virtual", "labels", "description", "custom"}
        and (fields["type"] is None or isinstance(fields["type"], str))
        and (fields["path"] is None or isinstance(fields["path"], str))
        and isinstance(fields["virtual"], bool)
        and isinstance(fields["labels"], list)
        and all(isinstance(label, str) for label in fields["labels"])
        and isinstance(fields["description"], str)
    )
