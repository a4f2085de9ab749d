"""Tagged names: the canonical config serialisation, its hash, and the file name they make.

``plot.png`` + commit + config hash -> ``plot-<commit7>[-dirty]-<hash10>.png``.  Pure:
no repository is read here (the scheme is in the README's "Tagged artifacts" section).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any, TypeVar, overload

from gto_dulwich.errors import (
    UnsupportedConfigValue,
)

#: Characters of the commit id that go into a name (always exactly this many).
COMMIT_LENGTH = 7
#: Hex characters of the SHA-256 config hash that go into a name.
HASH_LENGTH = 10
#: Marker placed right after the commit when the work tree is dirty.
DIRTY_MARKER = "dirty"
#: A last suffix in this set (compared in lower case) keeps the suffix before it:
#: ``model.tar.gz`` -> ``.tar.gz``, ``data.csv.zst`` -> ``.csv.zst``.
COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".br", ".z"})
#: Appended to the tagged file name to name its provenance sidecar.
PROVENANCE_SUFFIX = ".provenance.json"
#: The ``schema`` field of a provenance sidecar.
PROVENANCE_SCHEMA = "gto_dulwich.tagged/1"

_PurePathT = TypeVar("_PurePathT", bound=PurePath)


# --------------------------------------------------------------------------- config hash


def canonical_config(value: object) -> str:
    """The canonical serialisation of ``value`` (scheme 1), as text.

    Every value becomes a two-element JSON array ``[type, payload]``:

    ============================  ==================================================
    ``None``                      ``["none",null]``
    ``bool``                      ``["bool",true]`` / ``["bool",false]``
    ``int``                       ``["int","<decimal>"]``
    ``float``                     ``["float","<repr>"]`` (``nan``, ``inf``, ``-inf``)
    ``str``                       ``["str","<text>"]``
    ``bytes``/``bytearray``       ``["bytes","<lower-case hex>"]``
    ``PurePath``                  ``["path","<as_posix()>"]``
    ``list``                      ``["list",[<item>,...]]``
    ``tuple``                     ``["tuple",[<item>,...]]``
    ``Mapping``                   ``["dict",[[<key>,<value>],...]]`` sorted by key
    ``Enum`` member               ``["enum",["<class qualname>",<value>]]``
    dataclass instance            ``["dataclass",["<qualname>",[["<field>",<value>],...]]]``
    ============================  ==================================================

    Mapping entries are sorted by the UTF-8 bytes of their serialised key;
    dataclass fields by name.  The JSON text has no whitespace and no ASCII
    escaping (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``).
    Anything else raises :class:`UnsupportedConfigValue` naming where it is.
    """
    return _dump(_encode(value, "config", frozenset()))


def config_hash(value: object) -> str:
    """SHA-256 (64 hex digits) of the UTF-8 bytes of :func:`canonical_config`."""
    return hashlib.sha256(canonical_config(value).encode("utf-8")).hexdigest()


def _dump(encoded: object) -> str:
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedConfigValue(
            where, "string is not valid Unicode (lone surrogate)"
        ) from None
    return str.__str__(value)


def _encode(value: object, where: str, active: frozenset[int]) -> list[Any]:
    # Order matters: enums before their mixed-in types, bool before int.
    if value is None:
        return ["none", None]
    if isinstance(value, enum.Enum):
        inner = _encode(value.value, f"{where}.value", active)
        return ["enum", [type(value).__qualname__, inner]]
    if isinstance(value, bool):
        return ["bool", bool(value)]
    if isinstance(value, int):
        return ["int", int.__repr__(value)]
    if isinstance(value, float):
        return ["float", float.__repr__(value)]
    if isinstance(value, str):
        return ["str", _text(value, where)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, PurePath):
        return ["path", _text(value.as_posix(), where)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner_active = _enter(value, where, active)
        fields = sorted(dataclasses.fields(value), key=lambda f: f.name)
        items = [
            [f.name, _encode(getattr(value, f.name), f"{where}.{f.name}", inner_active)]
            for f in fields
        ]
        return ["dataclass", [type(value).__qualname__, items]]
    if isinstance(value, Mapping):
        inner_active = _enter(value, where, active)
        entries: list[tuple[bytes, list[Any], list[Any]]] = []
        for key, item in value.items():
            key_where = f"a key of {where}"
            encoded_key = _encode(key, key_where, inner_active)
            encoded_item = _encode(item, f"{where}[{key!r}]", inner_active)
            entries.append((_dump(encoded_key).encode("utf-8"), encoded_key, encoded_item))
        entries.sort(key=lambda entry: entry[0])
        for before, after in itertools.pairwise(entries):
            if before[0] == after[0]:
                raise UnsupportedConfigValue(where, "two keys serialise identically")
        return ["dict", [[key, item] for _, key, item in entries]]
    if isinstance(value, list | tuple):
        inner_active = _enter(value, where, active)
        items = [_encode(item, f"{where}[{i}]", inner_active) for i, item in enumerate(value)]
        return ["list" if isinstance(value, list) else "tuple", items]
    kind = type(value)
    hint = ""
    if isinstance(value, set | frozenset):
        hint = " (use a sorted list)"
    elif hasattr(value, "item") and hasattr(value, "dtype"):
        hint = " (convert it with .item() or .tolist())"
    raise UnsupportedConfigValue(
        where, f"unsupported type '{kind.__module__}.{kind.__qualname__}'{hint}"
    )


# Deeper configs are refused rather than risking a RecursionError (``--set`` takes JSON).
_MAX_DEPTH = 100


def _enter(container: object, where: str, active: frozenset[int]) -> frozenset[int]:
    if id(container) in active:
        raise UnsupportedConfigValue(where, "the value contains itself")
    if len(active) >= _MAX_DEPTH:
        raise UnsupportedConfigValue(where, f"nested more than {_MAX_DEPTH} levels deep")
    return active | {id(container)}


# --------------------------------------------------------------------------- names


def split_suffix(name: str) -> tuple[str, str]:
    """Split a file name into the stem and the suffix the tags go in front of.

    The suffix is the last ``.xxx`` (as :attr:`pathlib.PurePath.suffix`:
    leading dots belong to the stem, a trailing dot is no suffix); when that
    last suffix is a compression suffix (:data:`COMPRESSION_SUFFIXES`), the
    one before it is kept too.  ``plot.png`` -> ``("plot", ".png")``,
    ``model.tar.gz`` -> ``("model", ".tar.gz")``, ``Makefile`` ->
    ``("Makefile", "")``, ``run.2024.01.csv`` -> ``("run.2024.01", ".csv")``,
    ``.env`` -> ``(".env", "")``.
    """
    if name in ("", ".", "..") or "/" in name or (os.sep != "/" and os.sep in name):
        raise ValueError(f"Cannot tag the file name {name!r}")
    body_start = len(name) - len(name.lstrip("."))
    body = name[body_start:]
    last = body.rfind(".")
    if last <= 0 or last == len(body) - 1:
        return name, ""
    start = last
    if body[last:].lower() in COMPRESSION_SUFFIXES:
        previous = body.rfind(".", 0, last)
        if previous > 0 and previous < last - 1:
            start = previous
    return name[: body_start + start], name[body_start + start :]


def tagged_name(name: str, *, commit: str, config_hash: str, dirty: bool = False) -> str:
    """The tagged form of one file name: ``<stem>-<commit7>[-dirty]-<hash10><suffix>``.

    ``commit`` is a full (or at least 7-character) hex commit id and
    ``config_hash`` the 64-digit :func:`config_hash`; both are cut to
    :data:`COMMIT_LENGTH` and :data:`HASH_LENGTH` characters.
    """
    if len(commit) < COMMIT_LENGTH or len(config_hash) < HASH_LENGTH:
        raise ValueError("commit and config_hash are too short to build a tagged name")
    stem, suffix = split_suffix(name)
    marker = f"-{DIRTY_MARKER}" if dirty else ""
    return f"{stem}-{commit[:COMMIT_LENGTH]}{marker}-{config_hash[:HASH_LENGTH]}{suffix}"


def _rename(path: object, new_name: Callable[[str], str]) -> str | PurePath:
    """Apply ``new_name`` to the last component of ``path``, keeping its type and parent."""
    if isinstance(path, str):
        separators = os.sep + (os.altsep or "")
        trimmed = path.rstrip(separators)
        trailing = path[len(trimmed) :]
        head, tail = os.path.split(trimmed)
        if not tail:
            raise ValueError(f"Cannot tag the path {path!r}: it has no file name")
        return os.path.join(head, new_name(tail)) + trailing
    if isinstance(path, PurePath):
        if not path.name:
            raise ValueError(f"Cannot tag the path {str(path)!r}: it has no file name")
        return path.with_name(new_name(path.name))
    if isinstance(path, os.PathLike):
        text = os.fspath(path)
        if isinstance(text, str):
            return _rename(Path(text), new_name)
    raise TypeError(f"Expected a str or os.PathLike[str] path, got {type(path).__name__}")


@overload
def provenance_path(path: str) -> str: ...
@overload
def provenance_path(path: _PurePathT) -> _PurePathT: ...
def provenance_path(path: str | PurePath) -> str | PurePath:
    """The provenance sidecar of a *tagged* path: ``<tagged name>.provenance.json``."""
    return _rename(path, lambda name: name + PROVENANCE_SUFFIX)
