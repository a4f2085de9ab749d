"""``artifacts.yaml``: GTO's index of artifact annotations.

Reading is pure (bytes in, records out) so the reducer can be fed from any
commit.  ruamel.yaml is imported only when a file is actually parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gto_dulwich.errors import AnnotationsError, AnnotationsRefused
from gto_dulwich.grammar import is_valid_fullname, is_valid_name

_KEYS = ("type", "path", "virtual", "labels", "description", "custom")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One entry of ``artifacts.yaml``, with GTO's defaults filled in."""

    type: str | None = None
    path: str | None = None
    virtual: bool = True
    labels: tuple[str, ...] = ()
    description: str = ""
    custom: Any = None
    # The file that declared it ("a/dvc.yaml"); None: the artifacts.yaml index.  Not part
    # of GTO's JSON shapes, so to_dict() leaves it out.
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """GTO's JSON form, every key present (as in ``show NAME --json``)."""
        return {
            "type": self.type,
            "path": self.path,
            "virtual": self.virtual,
            "labels": list(self.labels),
            "description": self.description,
            "custom": self.custom,
        }

    def describe_dict(self) -> dict[str, Any]:
        """The ``describe`` form: fields left at their default are omitted."""
        full = self.to_dict()
        default = Annotation().to_dict()
        return {key: value for key, value in full.items() if value != default[key]}


@dataclass(frozen=True, slots=True)
class Index:
    """All entries of one ``artifacts.yaml``, in file order."""

    artifacts: Mapping[str, Annotation] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: annotation.to_dict() for name, annotation in self.artifacts.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Index:
        """The inverse of :meth:`to_dict` (for the cache: no validation needed twice)."""
        return cls(
            {
                name: Annotation(
                    fields["type"],
                    fields["path"],
                    fields["virtual"],
                    tuple(fields["labels"]),
                    fields["description"],
                    fields["custom"],
                )
                for name, fields in data.items()
            }
        )


def load_yaml(data: bytes | str, *, where: str = "YAML") -> Any:
    """Safe-load YAML within :mod:`gto_dulwich.yamlsafe`'s bounds (ruamel is imported lazily)."""
    from gto_dulwich.yamlsafe import load_yaml_bounded

    return load_yaml_bounded(data, where=where)


def parse_index(data: bytes, *, index: str = "artifacts.yaml", commit: str | None = None) -> Index:
    """Parse ``artifacts.yaml`` bytes; raise :class:`AnnotationsError` if not GTO's format
    (:class:`AnnotationsRefused` if over the loader's bounds)."""
    from gto_dulwich.errors import YAMLError, YAMLRefused

    try:
        raw = load_yaml(data, where=index)
    except YAMLRefused as exc:
        raise AnnotationsRefused(index, commit, exc.reason) from None
    except YAMLError as exc:
        raise AnnotationsError(index, commit, exc.reason) from None
    if raw is None:
        return Index()
    if not isinstance(raw, dict):
        raise AnnotationsError(index, commit, "the top level must be a mapping of artifacts")
    artifacts: dict[str, Annotation] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or not is_valid_fullname(name):
            raise AnnotationsError(index, commit, f"invalid artifact name '{name}'")
        artifacts[name] = _annotation(name, entry or {}, index, commit)
    return Index(artifacts)


def _annotation(name: str, entry: Any, index: str, commit: str | None) -> Annotation:
    def fail(detail: str) -> AnnotationsError:
        return AnnotationsError(index, commit, f"artifact '{name}': {detail}")

    if not isinstance(entry, dict):
        raise fail("the entry must be a mapping")
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}")
    type_ = entry.get("type")
    if type_ is not None and (not isinstance(type_, str) or not is_valid_name(type_)):
        raise fail(f"invalid type '{type_}'")
    path = entry.get("path")
    if path is not None and not isinstance(path, str):
        raise fail("path must be a string")
    virtual = entry.get("virtual", True)
    if not isinstance(virtual, bool):
        raise fail("virtual must be true or false")
    labels = entry.get("labels") or []
    if not isinstance(labels, list) or not all(
        isinstance(label, str) and is_valid_name(label) for label in labels
    ):
        raise fail("labels must be a list of valid names")
    description = entry.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise fail("description must be a string")
    return Annotation(type_, path, virtual, tuple(labels), description, entry.get("custom"))
