"""Untrusted YAML (and JSON) parsed with bounded work.

Every YAML file the package reads comes from a repository, the environment or
the command line: ``artifacts.yaml`` at any commit, ``.gto``, ``tag-path
--config``.  :func:`load_yaml_bounded` is the one loader for all of them:

* a size cap checked before parsing: ``GTO_DULWICH_YAML_MAX_BYTES``, default
  1 MiB.  An ``artifacts.yaml`` of 1,000 annotated artifacts is about 190 KB,
  so the default leaves room for five times that, and parses in about 0.2 s;
* at most :data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES` nodes,
  counting every alias as a copy of what it names: a "billion laughs"
  document of a few hundred bytes is refused before anything expands it
  (serialising a cache, hashing a fingerprint, printing).  Aliases within the
  bound still load (GTO reads them), recursive ones never;
* speed: the plain shape GTO writes is read by :mod:`gto_dulwich.yamlfast` in pure
  Python, without importing ruamel, when it is sure to give the answer the path
  below gives;
* otherwise the events come from libyaml (``ruamel.yaml.clib``) and are built
  into Python values here, with ruamel's own implicit-type rules and scalar
  constructors (YAML 1.2).  Anything out of the common subset (explicit tags,
  merge keys, ``%YAML`` directives, duplicate or complex keys, a parse error)
  is handed to ruamel's pure-Python safe loader, which defines the answer;
  without the C library every document goes that way.

Every failure is a :class:`YAMLError` (a :class:`GTOError`) whose message is one
line naming ``where`` the document came from.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from gto_dulwich.errors import YAMLError, YAMLRefused

__all__ = [
    "ENV_MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "YAMLError",
    "YAMLRefused",
    "check_size",
    "load_json_bounded",
    "load_yaml_bounded",
    "max_bytes",
    "too_large",
]

ENV_MAX_BYTES = "GTO_DULWICH_YAML_MAX_BYTES"
#: Nesting a GTO file never needs; also keeps ruamel's recursive composer far from
#: Python's recursion limit.
MAX_DEPTH = 100
#: Nodes after alias expansion: ten times what 1,000 annotated artifacts hold.
MAX_NODES = 200_000


def max_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The size cap (``GTO_DULWICH_YAML_MAX_BYTES``); a bad value is a one-line error."""
    from gto_dulwich import settings

    return settings.of(environ).yaml_max_bytes


def check_size(size: int, *, where: str, limit: int | None = None) -> None:
    """Refuse a document of ``size`` bytes over the cap, before it is read or parsed."""
    cap = max_bytes() if limit is None else limit
    if size > cap:
        raise YAMLRefused(where, too_large(size, cap))


def too_large(size: int, cap: int) -> str:
    """The reason a document of ``size`` bytes is refused under the cap ``cap``."""
    return f"{size:,} bytes, more than the {cap:,} allowed ({ENV_MAX_BYTES} raises it)"


def load_yaml_bounded(data: bytes | str, *, where: str, limit: int | None = None) -> Any:
    """Safe-load one YAML document within the bounds above; :class:`YAMLError` otherwise."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_size(len(raw), where=where, limit=limit)
    from gto_dulwich import yamlfast  # here: a warm read that parses nothing never loads it

    value = yamlfast.parse(raw, max_depth=MAX_DEPTH, max_nodes=MAX_NODES)
    if value is not yamlfast.UNUSUAL:
        return value
    return _load_full(raw, where)


def _load_full(raw: bytes, where: str) -> Any:
    """Everything past the size cap when :mod:`gto_dulwich.yamlfast` does not answer."""
    parser_class = _c_parser()
    if parser_class is not None and not _LIBYAML_ANCHOR_SPLIT.search(raw):
        try:
            return _from_events(parser_class(raw), where)
        except YAMLRefused:
            raise
        except Exception:  # anything unusual or invalid: the pure loader decides
            pass
    return _pure(raw, where)


def load_json_bounded(text: str, *, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (no RecursionError).

    Raises ``ValueError`` for text that is not JSON, :class:`YAMLRefused` when too deep.
    """
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    if deepest > max_depth:
        raise YAMLRefused(where, f"JSON nested more than {max_depth} levels deep")
    return json.loads(text)


#: An anchor or alias name with a character YAML 1.2 allows in it but libyaml ends the name
#: at (``&0:`` is one name to ruamel, ``&0`` then ``:`` to libyaml): the pure loader decides.
#: Also matches ``&`` and ``*`` inside plain or quoted text; those documents only lose speed.
_LIBYAML_ANCHOR_SPLIT = re.compile(rb"[&*][A-Za-z0-9_-]*[^A-Za-z0-9_\-\s,\[\]{}]")


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


# -- the C path ------------------------------------------------------------------------


def _c_parser() -> Any:
    try:
        from _ruamel_yaml import CParser  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return CParser


class _Unusual(Exception):
    """Out of the fast path's subset: the pure loader decides."""


_SCALAR_TYPES = (str, int, float, bool, type(None))
_NO_KEY = object()
_LIST = object()


def _resolvers() -> tuple[dict[str, list[tuple[str, Any]]], dict[str, Any]]:
    """ruamel's YAML 1.2 implicit resolvers by first character, and its scalar
    constructors for the tags they give (so both paths type scalars alike)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.resolver import implicit_resolvers

    table: dict[str, list[tuple[str, Any]]] = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            for char in first:
                table.setdefault(char, []).append((tag, regexp))
    constructor = YAML(typ="safe", pure=True).constructor
    build = {}
    for name in ("null", "bool", "int", "float", "timestamp"):
        method = getattr(constructor, f"construct_yaml_{name}")
        build[f"tag:yaml.org,2002:{name}"] = method
    return table, build


# A decimal integer: ruamel's YAML 1.2 int constructor gives int(text) for these.
_DECIMAL = re.compile(r"[-+]?[0-9]+\Z")


@functools.cache
def _scalar_builder() -> Callable[[str], Any]:
    table, build = _resolvers()
    from ruamel.yaml.nodes import ScalarNode

    # Bound ``match`` methods, looked up once (ruamel wraps each regex lazily).
    matchers = {char: [(tag, rx.match) for tag, rx in rules] for char, rules in table.items()}
    decimal = _DECIMAL.match

    def scalar(value: str) -> Any:
        rules = matchers.get(value[:1])
        if rules is None:
            return value
        if decimal(value):
            return int(value)
        for tag, match in rules:
            if match(value):
                make = build.get(tag)
                if make is None:  # merge '<<', value '=': the pure loader decides
                    raise _Unusual(tag)
                return make(ScalarNode(tag, value))
        return value

    return scalar


def _from_events(parser: Any, where: str) -> Any:
    """Build the document from libyaml's events, counting nodes as they come.

    Written for speed (this is every registry read): one loop, no call per node.
    """
    from ruamel.yaml.events import (
        AliasEvent,
        DocumentStartEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )

    scalar = _scalar_builder()
    get = parser.get_event
    too_deep = f"YAML nested more than {MAX_DEPTH} levels deep"
    try:
        get()  # stream start
        event = get()
        if isinstance(event, StreamEndEvent):
            return None
        if not isinstance(event, DocumentStartEvent) or event.version or event.tags:
            raise _Unusual("directives")
        # Open collections: [container, pending key (_LIST for a sequence)].
        stack: list[list[Any]] = []
        # Open anchored collections: (anchor, stack length, nodes before, deepest before).
        anchored: list[tuple[str, int, int, int]] = []
        anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, nodes, height)
        total = 0
        deepest = 0  # the deepest stack since the innermost open anchored collection
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                total += 1
                if event.tag is not None:
                    raise _Unusual("tag")
                value = scalar(event.value) if event.implicit[0] else event.value
                if event.anchor is not None:
                    if event.anchor in anchors or any(a[0] == event.anchor for a in anchored):
                        raise _Unusual("anchor defined twice")
                    anchors[event.anchor] = (value, 1, 0)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                total += 1
                if event.tag is not None:
                    raise _Unusual("tag")
                if stack and stack[-1][1] is _NO_KEY:
                    raise _Unusual("collection as a key")
                if len(stack) >= MAX_DEPTH:
                    raise YAMLRefused(where, too_deep)
                if event.anchor is not None:
                    if event.anchor in anchors or any(a[0] == event.anchor for a in anchored):
                        raise _Unusual("anchor defined twice")
                    anchored.append((event.anchor, len(stack), total - 1, deepest))
                    deepest = len(stack)
                if kind is MappingStartEvent:
                    stack.append([{}, _NO_KEY])
                else:
                    stack.append([[], _LIST])
                deepest = max(deepest, len(stack))
                if total > MAX_NODES:
                    raise YAMLRefused(where, _too_many())
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = stack.pop()[0]
                if anchored and anchored[-1][1] == len(stack):
                    name, depth, before, outer = anchored.pop()
                    anchors[name] = (value, total - before, deepest - depth)
                    deepest = max(deepest, outer)
            elif kind is AliasEvent:
                name = event.anchor
                if any(a[0] == name for a in anchored):
                    raise YAMLRefused(where, f"recursive YAML alias '*{name}'")
                if name not in anchors:
                    raise _Unusual("undefined alias")
                value, size, height = anchors[name]
                total += size
                if len(stack) + height > MAX_DEPTH:
                    raise YAMLRefused(where, too_deep)
                deepest = max(deepest, len(stack) + height)
            else:
                raise _Unusual("unexpected event")
            if total > MAX_NODES:
                raise YAMLRefused(where, _too_many())
            if not stack:
                root = value
                break
            frame = stack[-1]
            key = frame[1]
            if key is _LIST:
                frame[0].append(value)
            elif key is _NO_KEY:
                if not isinstance(value, _SCALAR_TYPES) or value in frame[0]:
                    raise _Unusual("key")
                frame[1] = value
            else:
                frame[0][key] = value
                frame[1] = _NO_KEY
        get()  # document end
        if not isinstance(get(), StreamEndEvent):
            raise _Unusual("more than one document")
        return root
    finally:
        parser.dispose()


def _too_many() -> str:
    return f"YAML has more than {MAX_NODES:,} nodes (aliases counted as copies)"


# -- the pure path ---------------------------------------------------------------------


def _pure(raw: bytes, where: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.docinfo import DocInfo, version

    yaml = YAML(typ="safe", pure=True)
    yaml.doc_infos.append(DocInfo(requested_version=version(yaml.version)))  # as load() does
    yaml.tags = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reused anchors and the like: not the user's business
        try:
            constructor, parser = yaml.get_constructor_parser(raw)
            try:
                node = constructor.composer.get_single_node()
                if node is None:
                    return None
                _check_graph(node, where)
                return constructor.construct_document(node)
            finally:
                parser.dispose()
        except YAMLError:
            raise
        except RecursionError:
            raise YAMLRefused(where, f"YAML nested more than {MAX_DEPTH} levels deep") from None
        except Exception as exc:  # ruamel raises many unrelated types for bad YAML
            text = str(exc).strip()
            detail = text.splitlines()[0] if text else type(exc).__name__
            raise YAMLError(where, f"invalid YAML ({detail})") from None


def _check_graph(root: Any, where: str) -> None:
    """Count nodes as if every alias were expanded (iteratively, each node once)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded nodes, height)
    active: set[int] = set()
    todo: list[tuple[Any, bool]] = [(root, False)]
    while todo:
        node, done = todo.pop()
        key = id(node)
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            children = []
        if done:
            active.discard(key)
            size, height = 1, 0
            for child in children:
                child_size, child_height = sizes[id(child)]
                size += child_size
                height = max(height, child_height + 1)
            if size > MAX_NODES:
                raise YAMLRefused(where, _too_many())
            if height > MAX_DEPTH:
                raise YAMLRefused(where, f"YAML nested more than {MAX_DEPTH} levels deep")
            sizes[key] = (size, height)
            continue
        if key in sizes:
            continue
        if key in active:
            raise YAMLRefused(where, "recursive YAML alias")
        active.add(key)
        todo.append((node, True))
        for child in children:
            if id(child) in active:
                raise YAMLRefused(where, "recursive YAML alias")
            if id(child) not in sizes:
                todo.append((child, False))
