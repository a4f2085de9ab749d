"""``.gto`` in the work tree and ``GTO_*`` environment variables -> one frozen Config.

Resolved once per command (GTO reads parts of it at import time).  Precedence:
environment > ``.gto`` > defaults.  Keys are case-insensitive, as in GTO.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gto_dulwich.errors import StageNotAllowed, WrongConfig
from gto_dulwich.grammar import check_stage, is_valid_name

CONFIG_FILE_NAME = ".gto"
_BOOL_TRUE = {"1", "true", "yes", "on", "t", "y"}
_BOOL_FALSE = {"0", "false", "no", "off", "f", "n", ""}


@dataclass(frozen=True, slots=True)
class Config:
    index: str = "artifacts.yaml"
    config_file_name: str = CONFIG_FILE_NAME
    log_level: str = "INFO"
    debug: bool = False
    emojis: bool = True
    types: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    enrichments: tuple[Any, ...] = ()
    autoload_enrichments: bool = True

    def check_stage(self, stage: str) -> str:
        """Validate a stage name against the name rules and the allowed list."""
        check_stage(stage)
        if self.stages is not None and stage not in self.stages:
            raise StageNotAllowed(stage, list(self.stages))
        return stage

    def dump_lines(self) -> list[str]:
        """``KEY=repr`` lines in GTO's doctor format."""

        def show(value: Any) -> str:
            if isinstance(value, tuple):
                return repr(list(value))
            return repr(value)

        return [
            f"INDEX={self.index!r}",
            f"CONFIG_FILE_NAME={self.config_file_name!r}",
            f"LOG_LEVEL={self.log_level!r}",
            f"DEBUG={self.debug!r}",
            f"EMOJIS={self.emojis!r}",
            f"types={show(self.types)}",
            f"stages={show(self.stages)}",
            f"enrichments={show(self.enrichments)}",
            f"autoload_enrichments={self.autoload_enrichments!r}",
        ]


class WrongSetting(WrongConfig):
    """A ``GTO_*`` environment variable GTO's config cannot take; named in the message."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(name, detail)
        self.message = f"Wrong environment variable {name}: {detail}"


_FIELDS = {
    "index": "index",
    "config_file_name": "config_file_name",
    "log_level": "log_level",
    "debug": "debug",
    "emojis": "emojis",
    "types": "types",
    "stages": "stages",
    "enrichments": "enrichments",
    "autoload_enrichments": "autoload_enrichments",
}


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise WrongConfig(where, f"'{value}' is not a boolean")


def _names(value: Any, key: str, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = _json(value, key, where)
    if not isinstance(value, list) or not all(
        isinstance(v, str) and is_valid_name(v) for v in value
    ):
        raise WrongConfig(where, f"{key} must be a list of valid names")
    return tuple(value)


def _json(text: str, key: str, where: str) -> Any:
    from gto_dulwich.errors import YAMLRefused
    from gto_dulwich.yamlsafe import load_json_bounded

    try:
        return load_json_bounded(text, where=key)
    except YAMLRefused as exc:
        raise WrongConfig(where, exc.reason) from None
    except ValueError:
        raise WrongConfig(where, f"{key} must be a JSON list") from None


def _coerce(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = str(raw_key).lower()
        if key not in _FIELDS:
            raise WrongConfig(where, f"unknown key '{raw_key}'")
        if key in ("debug", "emojis", "autoload_enrichments"):
            out[key] = _bool(value, where)
        elif key in ("types", "stages"):
            out[key] = _names(value, key, where)
        elif key == "enrichments":
            listed = _json(value, key, where) if isinstance(value, str) else value
            if listed is not None and not isinstance(listed, list):
                raise WrongConfig(where, f"{key} must be a list")
            out[key] = tuple(listed or ())
        else:
            out[key] = str(value)
    return out


def env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """``GTO_*`` variables that name a config key (others are left alone)."""
    values = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper.startswith("GTO_") and upper[4:].lower() in _FIELDS:
            try:
                values.update(_coerce({upper[4:].lower(): value}, "environment"))
            except WrongConfig as exc:
                raise WrongSetting(name, exc.detail) from None
    return values


def load_config(workdir: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``.gto`` from ``workdir`` (if any) and overlay ``GTO_*`` variables (the current
    settings' unless ``environ`` is given)."""
    from gto_dulwich import settings

    env = settings.of(environ).config_environ
    values: dict[str, Any] = {}
    if workdir is not None:
        path = Path(os.path.realpath(workdir)) / CONFIG_FILE_NAME
        if path.is_file():
            values.update(read_config_file(path, workdir=path.parent))
    values.update(env_values(env))
    return Config(**values)


def read_config_file(path: Path, *, workdir: Path | None = None) -> dict[str, Any]:
    """Read a ``.gto`` file; one that is a link out of ``workdir`` is refused, never read
    (its text could otherwise reach a CI log through an error line)."""
    from gto_dulwich.errors import YAMLError, YAMLRefused
    from gto_dulwich.safefile import NotRegular, TooLarge, inside, read_regular
    from gto_dulwich.yamlsafe import load_yaml_bounded, max_bytes

    where = str(path)
    if workdir is not None and not inside(path, workdir):
        raise WrongConfig(where, "a symbolic link to a file outside the work tree (not read)")
    limit = max_bytes()
    try:
        data = read_regular(os.path.realpath(path), limit)
    except TooLarge as exc:
        raise WrongConfig(where, f"{exc.size:,} bytes, more than the {limit:,} allowed") from None
    except NotRegular:
        raise WrongConfig(where, "not a regular file") from None
    except OSError as exc:
        raise WrongConfig(where, f"cannot be read ({exc.strerror or exc})") from None
    try:
        raw = load_yaml_bounded(data, where=where)
    except YAMLRefused as exc:
        raise WrongConfig(where, exc.reason) from None
    except YAMLError:
        raise WrongConfig(where, "invalid YAML") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise WrongConfig(where, "expected a mapping of settings")
    return _coerce(raw, where)
