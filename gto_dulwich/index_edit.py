"""Edit ``artifacts.yaml`` in the work tree: GTO's historical ``annotate`` and ``remove``.

The file is reviewed and diffed by people, so an edit changes only the lines of
the entry it edits.  A plain ruamel round trip would re-emit the whole document
and normalise the indentation and spacing of entries nobody asked to touch;
instead ruamel's node positions locate the entry (or the field) and only that
text is replaced with a fragment that ruamel emits, so quoting stays ruamel's
problem.  Layouts that cannot be spliced (a flow-style top level, explicit
``?`` keys, aliases into the edited entry) fall back to a full ruamel round
trip.  Every candidate text is parsed again and compared with the intended
data before it is written, so a splicing mistake can cost formatting, never
content.

Writers are serialised with git's lock-file protocol (``<file>.lock`` created
with ``O_CREAT|O_EXCL``) and the file is replaced atomically, so two ``gto``
processes, or a crash, never leave a half-written or lost update behind.
"""

from __future__ import annotations

import contextlib
import enum
import io
import math
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gto_dulwich.annotations import Annotation, Index, load_yaml, parse_index
from gto_dulwich.config import Config
from gto_dulwich.errors import AnnotationsError, CannotWrite, GTOError, IndexLocked, InvalidName
from gto_dulwich.grammar import check_name, is_valid_name
from gto_dulwich.locks import held, replace_file
from gto_dulwich.repo import GitRepo

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

__all__ = ["IndexLocked", "annotate", "locked", "remove"]

# GTO's field order: a new entry lists its keys in this order.
_FIELD_ORDER = ("type", "path", "virtual", "labels", "description", "custom")
_DEFAULT_INDENT = 2


class _Delete(enum.Enum):
    KEY = enum.auto()


# A field change is a new value or this marker: the key goes away (it is back at its default).
_DELETE = _Delete.KEY


class _CannotSplice(Exception):
    """The layout needs the full round trip."""


# -- public use cases ------------------------------------------------------------


def annotate(
    git: GitRepo,
    name: str,
    *,
    config: Config,
    type: str | None = None,
    path: str | None = None,
    must_exist: bool = False,
    allow_same_path: bool = False,
    labels: Sequence[str] = (),
    description: str | None = None,
    custom: Any = None,
    lock_timeout: float | None = None,
) -> Annotation:
    """Add ``name`` to the work tree's index or merge the given fields into its entry.

    ``None`` (and ``must_exist=False``, and no labels) means "leave as is", so a
    partial call never resets fields it did not mention.  Labels are only ever
    added.  Changing ``path`` without ``must_exist`` drops an earlier
    ``virtual: false``: that claim was checked for the old path, not the new one.
    """
    check_name(name)
    if type is not None:
        _check_value(type)
        if config.types is not None and type not in config.types:
            raise GTOError(f"Allowed types are: '{list(config.types)}'")
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of names, not one string")
    for label in labels:
        _check_value(label)
    if path is not None and not path.strip():
        raise GTOError("The artifact path must not be empty")
    custom_value = None if custom is None else _plain_data(custom)
    target = _index_file(git, config)
    _import_ruamel()  # before the lock: keeps the critical section short
    with locked(target, index=config.index, timeout=lock_timeout):
        text, raw, index = _read(target, config.index)
        current = index.artifacts.get(name)
        old_entry: dict[str, Any] = dict(raw.get(name) or {})
        old_path = current.path if current else None
        if must_exist:
            _check_committed(git, name, path if path is not None else old_path)
        if path is not None and not allow_same_path and not _same_path(path, old_path):
            for other_name, other in index.artifacts.items():
                if other_name != name and other.path and _same_path(other.path, path):
                    raise GTOError(
                        f"Path '{path}' is already used by artifact '{other_name}' "
                        "(allow_same_path permits sharing it)"
                    )
        wanted: dict[str, Any] = {}
        if type is not None:
            wanted["type"] = type
        if path is not None:
            wanted["path"] = path
        if must_exist:
            wanted["virtual"] = False
        elif path is not None and not _same_path(path, old_path):
            wanted["virtual"] = _DELETE
        if labels:
            wanted["labels"] = sorted(set(current.labels if current else ()) | set(labels))
        if description is not None:
            wanted["description"] = description or _DELETE
        if custom_value is not None:
            wanted["custom"] = custom_value
        changes = _effective_changes(old_entry, wanted)
        if current is not None and not changes:
            return current
        entry = dict(old_entry)
        for key, value in changes.items():
            if value is _DELETE:
                entry.pop(key, None)
            else:
                entry[key] = value
        if current is None:
            entry = {key: entry[key] for key in _FIELD_ORDER if key in entry}
        expected = {**raw, name: entry}
        new_text = _render(text, name, entry, changes, expected, config.index)
        data = new_text.encode("utf-8")
        result = parse_index(data, index=config.index).artifacts[name]
        replace_file(target, data)
    return result


def remove(git: GitRepo, name: str, *, config: Config, lock_timeout: float | None = None) -> bool:
    """Delete ``name``'s entry from the work tree's index; False when it was not there."""
    check_name(name)
    target = _index_file(git, config)
    _import_ruamel()
    with locked(target, index=config.index, timeout=lock_timeout):
        text, raw, _ = _read(target, config.index)
        if name not in raw:
            return False
        expected = {key: value for key, value in raw.items() if key != name}
        new_text = _render(text, name, None, {}, expected, config.index)
        data = new_text.encode("utf-8")
        parse_index(data, index=config.index)
        replace_file(target, data)
    return True


# -- checks -------------------------------------------------------------------------


def _check_value(value: str) -> None:
    if not isinstance(value, str) or not is_valid_name(value):
        raise InvalidName(str(value))


def _plain_data(value: Any) -> Any:
    """Custom data as YAML can hold it and read it back equal (tuples become lists)."""
    if isinstance(value, float) and math.isnan(value):
        raise GTOError("custom data must not hold NaN: it could not be checked after writing")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain_data(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise GTOError("custom data must use string keys")
        return {key: _plain_data(item) for key, item in value.items()}
    raise GTOError(f"custom data must be plain YAML data, not {value.__class__.__name__}")


def _same_path(one: str | None, other: str | None) -> bool:
    if one is None or other is None:
        return one is other
    return posixpath.normpath(one) == posixpath.normpath(other)


def _check_committed(git: GitRepo, name: str, path: str | None) -> None:
    if path is None:
        raise GTOError(f"Cannot check that '{name}' exists: it has no path")
    head = git.head()
    if head is None:
        raise GTOError(f"Path '{path}' must be committed, but the repository has no commits yet")
    if not git.path_exists(head, posixpath.normpath(path)):
        raise GTOError(f"Path '{path}' is not committed at HEAD ({head[:7]})")


def _same(one: Any, other: Any) -> bool:
    """Equality that tells ``1`` from ``true`` and ``1.0``: YAML does too."""
    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(_same(one[k], other[k]) for k in one)
    if isinstance(one, list) and isinstance(other, list):
        return len(one) == len(other) and all(map(_same, one, other))
    return one.__class__ is other.__class__ and bool(one == other)


def _effective_changes(entry: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """Drop requested changes that would not change the file (so it keeps its bytes)."""
    changes: dict[str, Any] = {}
    for key, value in wanted.items():
        if value is _DELETE:
            if key in entry:
                changes[key] = value
        elif key not in entry or not _same(entry[key], value):
            changes[key] = value
    return changes


# -- the file, the lock and the write ------------------------------------------------


def _index_file(git: GitRepo, config: Config) -> Path:
    workdir = git.workdir
    if workdir is None:
        raise GTOError(
            f"Cannot edit {config.index} in a bare repository: it is edited in a work tree"
        )
    relative = Path(config.index)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise GTOError(f"The index file '{config.index}' must be a path inside the work tree")
    from gto_dulwich.safefile import inside

    target = workdir / relative
    # A committed symlink (the file, or a folder on its way) must not carry a write outside.
    if not inside(target, workdir):
        raise GTOError(
            f"Refusing to edit {config.index}: it is a symbolic link, or inside a linked "
            "folder, that leads outside the work tree"
        )
    return target


def _read(target: Path, index: str) -> tuple[str, dict[str, Any], Index]:
    """The file's text, raw data and entries (all empty when absent); a corrupt file raises."""
    from gto_dulwich.safefile import NotRegular, TooLarge, read_regular
    from gto_dulwich.yamlsafe import check_size, max_bytes

    limit = max_bytes()
    try:
        data = read_regular(os.path.realpath(target), limit)
    except FileNotFoundError:
        return "", {}, Index()
    except TooLarge as exc:
        check_size(exc.size, where=index, limit=limit)  # raises, naming the setting
        raise
    except NotRegular:
        raise GTOError(f"Cannot edit {index}: it is not a regular file") from None
    except OSError as exc:
        raise CannotWrite(exc) from None
    parsed = parse_index(data, index=index)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AnnotationsError(index, None, "the file is not UTF-8 text") from None
    raw = load_yaml(data)
    return text, dict(raw or {}), parsed


@contextlib.contextmanager
def locked(
    target: Path, *, index: str | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold ``<target>.lock`` (git's protocol) for a read-modify-write of ``target``.

    Waits up to ``timeout`` seconds (default: ``GTO_DULWICH_LOCK_TIMEOUT``, as
    every writer does) for another holder, then raises
    :class:`IndexLocked`.  Only a lock this call created is removed on exit: a
    lock someone deleted and re-created meanwhile belongs to them.  The lock
    holds the owner's pid and a random token, for people and for that check.
    """
    lock_path = target.with_name(target.name + ".lock")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CannotWrite(exc) from None
    with held(lock_path, lambda _busy: IndexLocked(index or target.name, lock_path), timeout):
        yield


# -- producing the new text ---------------------------------------------------------


def _import_ruamel() -> None:
    import ruamel.yaml  # noqa: F401


def _render(
    text: str,
    name: str,
    entry: dict[str, Any] | None,
    changes: Mapping[str, Any],
    expected: dict[str, Any],
    index: str,
) -> str:
    """The new file text: spliced if possible, else round-tripped; always checked."""
    from ruamel.yaml.error import YAMLError

    try:
        spliced = _splice(text, name, entry, changes)
    except (_CannotSplice, YAMLError):
        spliced = None
    if spliced is not None and _matches(spliced, expected):
        return spliced
    tripped = _roundtrip(text, name, entry, changes)
    if _matches(tripped, expected):
        return tripped
    raise GTOError(
        f"Cannot update {index} without changing other entries "
        "(do they share YAML anchors?); edit it by hand"
    )


def _matches(text: str, expected: dict[str, Any]) -> bool:
    try:
        raw = load_yaml(text)
    except Exception:  # ruamel raises many unrelated types for bad YAML
        return False
    if raw is None:
        raw = {}
    return isinstance(raw, dict) and list(raw) == list(expected) and _same(raw, expected)


def _splice(text: str, name: str, entry: dict[str, Any] | None, changes: Mapping[str, Any]) -> str:
    """Replace only the text of the edited entry (or of its edited fields)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    newline = "\r\n" if "\r\n" in body else "\n"
    if body and not body.endswith("\n"):
        body += newline  # so that every edit below can work in whole lines
    root = YAML().compose(body)
    if root is None:
        if entry is None:
            return text
        fragment = _emit({name: _yaml_value(entry)}, 0, _DEFAULT_INDENT, newline)
        return bom + body + fragment
    if not isinstance(root, MappingNode) or root.flow_style:
        raise _CannotSplice
    pairs: list[tuple[Node, Node]] = root.value
    root_col: int = pairs[0][0].start_mark.column
    indent = _guess_indent(pairs, root_col)
    position = next(
        (
            i
            for i, (key, _) in enumerate(pairs)
            if isinstance(key, ScalarNode) and key.value == name
        ),
        None,
    )
    if position is None:
        if entry is None:
            return text
        # After the last entry, not at the end: a closing comment or "..." stays last.
        last_key, last_value = pairs[-1]
        _, _, line_end = _line_span(body, last_key, last_value, len(body))
        at = _inner_comments_end(body, line_end, len(body), root_col)
        fragment = _emit({name: _yaml_value(entry)}, root_col, indent, newline)
        return bom + body[:at] + fragment + body[at:]
    key, value = pairs[position]
    upper = pairs[position + 1][0].start_mark.index if position + 1 < len(pairs) else len(body)
    start, content_end, line_end = _line_span(body, key, value, upper)
    if entry is None:
        return bom + body[:start] + body[_inner_comments_end(body, line_end, upper, root_col) :]
    if isinstance(value, MappingNode) and not value.flow_style:
        return bom + _edit_fields(body, value, changes, upper, root_col, newline)
    # A null, ``{}`` or flow-style entry is short: write it again, in flow style if it was.
    flow = isinstance(value, MappingNode) and bool(value.value)
    fragment = _emit({name: _yaml_value(entry, flow=flow)}, root_col, indent, newline)
    tail = body[content_end:line_end]
    return bom + body[:start] + _with_tail(fragment, tail, newline) + body[line_end:]


def _edit_fields(
    body: str,
    entry: Node,
    changes: Mapping[str, Any],
    upper: int,
    key_col: int,
    newline: str,
) -> str:
    from ruamel.yaml.nodes import CollectionNode, ScalarNode

    fields: list[tuple[Node, Node]] = entry.value
    child_col: int = fields[0][0].start_mark.column
    indent = child_col - key_col if child_col > key_col else _DEFAULT_INDENT
    where = {key.value: i for i, (key, _) in enumerate(fields) if isinstance(key, ScalarNode)}
    edits: list[tuple[int, int, str]] = []
    appended: list[str] = []
    for field, new in changes.items():
        if field not in where:
            if new is not _DELETE:
                appended.append(_emit({field: _yaml_value(new)}, child_col, indent, newline))
            continue
        i = where[field]
        key, value = fields[i]
        field_upper = fields[i + 1][0].start_mark.index if i + 1 < len(fields) else upper
        start, content_end, line_end = _line_span(body, key, value, field_upper)
        if new is _DELETE:
            edits.append((start, line_end, ""))
            continue
        flow = isinstance(value, CollectionNode) and bool(value.flow_style)
        fragment = _emit({field: _yaml_value(new, flow=flow)}, child_col, indent, newline)
        edits.append((start, line_end, _with_tail(fragment, body[content_end:line_end], newline)))
    if appended:
        _, _, last_end = _line_span(body, *fields[-1], upper)
        edits.append((last_end, last_end, "".join(appended)))
    for start, end, replacement in sorted(edits, reverse=True):
        body = body[:start] + replacement + body[end:]
    return body


def _line_span(body: str, key: Node, value: Node, upper: int) -> tuple[int, int, int]:
    """(start of the key's line, end of the content, end of its last line incl. newline).

    Comment and blank lines after the content are not part of the span: they
    usually introduce the next entry.
    """
    key_start: int = key.start_mark.index
    start = body.rfind("\n", 0, key_start) + 1
    if body[start:key_start].strip(" \t"):
        raise _CannotSplice  # an explicit "? key", a "--- key" and the like
    end = max(key.end_mark.index, _content_end(value, key_start, upper))
    while end > key_start and body[end - 1] in " \t\r\n":
        end -= 1
    newline_at = body.find("\n", end)
    line_end = len(body) if newline_at < 0 else newline_at + 1
    return start, end, line_end


def _inner_comments_end(body: str, end: int, upper: int, col: int) -> int:
    """Extend a removed entry over the comment lines indented under it: they die with it."""
    while end < upper:
        newline_at = body.find("\n", end)
        line = body[end : len(body) if newline_at < 0 else newline_at + 1]
        stripped = line.lstrip(" ")
        if not stripped.startswith("#") or len(line) - len(stripped) <= col:
            break
        end += len(line)
    return end


def _content_end(node: Node, lower: int, upper: int) -> int:
    """Where the node's own text ends (block collections' end marks run into what follows)."""
    from ruamel.yaml.nodes import CollectionNode, MappingNode

    node_start: int = node.start_mark.index
    if node_start < lower or node_start > upper:
        raise _CannotSplice  # an alias: the node's text is elsewhere
    if not isinstance(node, CollectionNode) or node.flow_style:
        if node.start_mark.index == node.end_mark.index:
            return lower  # an implicit null: its marks point at the next token
        end: int = node.end_mark.index
        return end
    if isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = list(node.value)
    return max((_content_end(child, lower, upper) for child in children), default=lower)


def _guess_indent(pairs: list[tuple[Node, Node]], root_col: int) -> int:
    """The file's indentation step, read from its first block-style entry."""
    from ruamel.yaml.nodes import MappingNode

    for _, value in pairs:
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            col: int = value.value[0][0].start_mark.column
            if col > root_col:
                return col - root_col
    return _DEFAULT_INDENT


def _with_tail(fragment: str, tail: str, newline: str) -> str:
    """Keep the end-of-line comment of a replaced value.

    It goes where the value's line was, or after a ``key:`` that opens a block;
    other multi-line values (block scalars, long quoted text) cannot take one.
    """
    tail = tail.rstrip("\r\n")
    if not tail.strip():
        return fragment
    first, _, rest = fragment.partition(newline)
    if rest and not first.endswith(":"):
        return fragment
    return first + tail + newline + rest


def _emit(data: Any, col: int, indent: int, newline: str) -> str:
    """ruamel's YAML for ``data``, shifted right to column ``col``."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 1 << 30  # never fold a long description
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    stream = io.StringIO()
    yaml.dump(data, stream)
    pad = " " * col
    return "".join(
        (pad + line if line else line) + newline for line in stream.getvalue().splitlines()
    )


def _yaml_value(value: Any, *, flow: bool = False) -> Any:
    """Plain data as ruamel's round-trip types; multi-line text as a literal block."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(value, dict):
        mapping = CommentedMap((key, _yaml_value(item)) for key, item in value.items())
        if flow:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_yaml_value(item) for item in value)
        if flow:
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, str) and "\n" in value and not flow:
        return LiteralScalarString(value)
    return value


def _roundtrip(
    text: str, name: str, entry: dict[str, Any] | None, changes: Mapping[str, Any]
) -> str:
    """The fallback: ruamel's full round trip (comments survive, layout is normalised)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.nodes import MappingNode
    from ruamel.yaml.util import load_yaml_guess_indent

    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    newline = "\r\n" if "\r\n" in body else "\n"
    yaml = YAML()
    yaml.width = 1 << 30
    yaml.preserve_quotes = True
    doc = None
    if body.strip():
        _, sequence_indent, sequence_offset = load_yaml_guess_indent(body)
        root = YAML().compose(body)
        pairs = root.value if isinstance(root, MappingNode) and root.value else []
        offset = sequence_offset or 0
        yaml.indent(
            mapping=_guess_indent(pairs, pairs[0][0].start_mark.column) if pairs else 2,
            sequence=max(sequence_indent or _DEFAULT_INDENT, offset + 2),
            offset=offset,
        )
        doc = yaml.load(body)
    if doc is None:
        doc = CommentedMap()
    if entry is None:
        del doc[name]
    else:
        current = doc.get(name)
        if isinstance(current, CommentedMap):
            for key, value in changes.items():
                if value is _DELETE:
                    current.pop(key, None)
                else:
                    current[key] = _yaml_value(value)
        else:
            doc[name] = _yaml_value(entry)
    stream = io.StringIO()
    yaml.dump(doc, stream)
    out = stream.getvalue()
    if newline != "\n":
        out = out.replace("\n", newline)
    return bom + out
