"""Write a :class:`~gto_dulwich.report.Report` as a static site, atomically.

The site is built in a temporary folder beside the destination and renamed
into place, so a half-written site never replaces a good one.  Pages are Jinja2
templates with autoescaping on; repository text also goes through
:func:`visible`, so control, bidi and zero-width characters show as ``\\u202e``
instead of acting.  The one inline style and the one inline script are allowed
by their SHA-256 in a strict Content-Security-Policy: nothing else runs and
nothing is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from gto_dulwich import __version__
from gto_dulwich.errors import GTOError
from gto_dulwich.render import cut_hexsha
from gto_dulwich.report import SCHEMA, Report, commit_url, tag_url

#: Artifacts per index page: past this the index is split into index.html, index-2.html, …
PAGE_SIZE = 500
MARKER = ".gto-report"

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def visible(text: str | None) -> str:
    """Control, bidi-override and zero-width characters written out as escapes."""
    if text is None:
        return ""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _when(iso: str) -> str:
    """``2026-11-21T10:49:32+00:00`` -> ``2026-11-21 10:49 +00:00`` (the tagger's zone)."""
    return f"{iso[:10]} {iso[11:16]} {iso[19:]}".rstrip()


def csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    folder = files("gto_dulwich") / "templates" / "report"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vis"] = visible
    env.filters["when"] = _when
    env.filters["ver"] = lambda version: visible(cut_hexsha(version)) if version else ""
    env.globals.update(commit_url=commit_url, tag_url=tag_url, version=__version__)
    return env


def _asset(name: str) -> str:
    return (files("gto_dulwich") / "templates" / "report" / name).read_text(encoding="utf-8")


def page_file(page: int) -> str:
    return "index.html" if page == 1 else f"index-{page}.html"


@dataclass(frozen=True, slots=True)
class Written:
    pages: int
    artifact_pages: int


def _filter_css(stages: int, types: int, repos: int) -> str:
    """The filters, in CSS so they work without JavaScript: a row is hidden unless it
    carries the chosen option's token.  Tokens are indices, never repository text."""
    rules: list[str] = []
    for prefix, attribute, count in (
        ("s", "stage", stages),
        ("t", "type", types),
        ("r", "repo", repos),
    ):
        rules.extend(
            f'body:has(#f-{attribute} option[value="{prefix}{i}"]:checked) '
            f'#artifacts tbody tr:not([data-{attribute}~="{prefix}{i}"]){{display:none}}'
            for i in range(count)
        )
    return "\n".join(rules)


def render(report: Report, out: Path, *, as_json: bool, page_size: int = PAGE_SIZE) -> Written:
    """Render every page into ``out`` (an empty folder)."""
    env = _environment()
    script = _asset("report.js")
    base_style = _asset("report.css")
    stages = report.stages
    stage_index = {stage: i for i, stage in enumerate(stages)}
    types = sorted({a.type for a in report.artifacts}, key=lambda t: (t is None, t or ""))
    type_index = {kind: i for i, kind in enumerate(types)}
    repo_counts = [0] * len(report.repos)
    for artifact in report.artifacts:
        repo_counts[artifact.repo] += 1
    index_style = base_style + _filter_css(len(stages), len(types), len(report.repos))
    common = {
        "report": report,
        "json": as_json,
        "script": script,
        "script_hash": csp_hash(script),
    }
    total = len(report.artifacts)
    pages = list(range(1, max(1, -(-total // page_size)) + 1))
    index = env.get_template("index.html")
    for page in pages:
        first = (page - 1) * page_size
        html = index.render(
            **common,
            root="",
            style=index_style,
            style_hash=csp_hash(index_style),
            stages=stages,
            types=types,
            stage_index=stage_index,
            type_index=type_index,
            repo_counts=repo_counts,
            rows=report.artifacts[first : first + page_size],
            first=first,
            total=total,
            page=page,
            pages=pages,
            page_file=page_file,
        )
        _write(out / page_file(page), html)
    (out / "a").mkdir()
    artifact_page = env.get_template("artifact.html")
    from gto_dulwich.timeline import draw

    style_hash = csp_hash(base_style)
    for artifact in report.artifacts:
        repo = report.repos[artifact.repo]
        timeline = draw(repo.stages, artifact.periods, artifact.events, visible=visible)
        html = artifact_page.render(
            **common,
            root="../",
            style=base_style,
            style_hash=style_hash,
            a=artifact,
            repo=repo,
            timeline=timeline,
        )
        _write(out / artifact.page, html)
    if as_json:
        # One line: json's C encoder runs only without indent (4× faster at 25,000 tags).
        text = json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":"))
        _write(out / "registry.json", text + "\n")
    (out / MARKER).write_text(f"{SCHEMA}\n", encoding="utf-8")
    return Written(len(pages), len(report.artifacts))


def _write(path: Path, text: str) -> None:
    # A path given on a non-UTF-8 command line holds lone surrogates: never fail on them.
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def _check_destination(out: Path) -> None:
    """Replace only a folder a report was written to (or an empty one): never a user's files."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise GTOError(f"'{out}' exists and is not a folder; choose a new or empty folder")
    if (out / MARKER).is_file() or not any(out.iterdir()):
        return
    raise GTOError(
        f"'{out}' is not empty and was not written by 'gto report'; "
        "choose a new or empty folder, or remove it first"
    )


def write_site(report: Report, out: Path, *, as_json: bool = False) -> Written:
    """Build the site beside ``out`` and rename it into place."""
    out = Path(os.path.abspath(out))
    _check_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".building", dir=out.parent))
    try:
        os.chmod(building, 0o755)  # mkdtemp's 0700 would keep a web server out
        written = render(report, building, as_json=as_json)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rename(out, old / "site")
            try:
                os.rename(building, out)
            except BaseException:
                os.rename(old / "site", out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(building, out)
    except OSError as exc:
        raise GTOError(f"Cannot write the report to '{out}': {exc.strerror or exc}") from exc
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return written
