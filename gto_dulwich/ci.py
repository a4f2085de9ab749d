"""CI conventions: which tag triggered the job, and GitHub Actions step outputs.

Pure functions over an environment mapping and a file path, so that they are
tested without a CI system.  ``check-ref`` is the command that uses them.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from gto_dulwich import settings
from gto_dulwich.errors import GTOError

TAGS_PREFIX = "refs/tags/"

#: The keys ``check-ref --github-output`` writes, in order: gto-action's outputs, then ours.
OUTPUT_KEYS = (
    "event",
    "name",
    "version",
    "stage",
    "type",
    "path",
    "description",
    "commit",
    "tag-message",
)

#: GitHub's file for a job's Markdown summary.
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def ref_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The ref that triggered this CI job, or None outside CI.

    GitHub: ``GITHUB_REF`` (``refs/tags/T`` or ``refs/heads/B``), else
    ``GITHUB_REF_NAME`` when ``GITHUB_REF_TYPE`` is ``tag``.  GitLab:
    ``CI_COMMIT_TAG`` (set only for tag pipelines).  A branch ref is returned
    as it is: it is simply not a registry event.
    """
    env = settings.current().ci_environ if environ is None else environ
    if env.get("GITHUB_REF"):
        return env["GITHUB_REF"]
    if env.get("GITHUB_REF_NAME") and env.get("GITHUB_REF_TYPE") == "tag":
        return TAGS_PREFIX + env["GITHUB_REF_NAME"]
    if env.get("CI_COMMIT_TAG"):
        return TAGS_PREFIX + env["CI_COMMIT_TAG"]
    return None


def github_output_lines(values: Mapping[str, str], *, delimiter: str | None = None) -> str:
    """``values`` in the ``$GITHUB_OUTPUT`` file format.

    One ``key=value`` line each; a value with a line break is written as
    ``key<<DELIMITER`` ... ``DELIMITER`` with an unpredictable delimiter
    (GitHub's advice: a fixed one could be forged by the value itself).
    """
    out: list[str] = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            mark = delimiter or f"ghadelimiter_{secrets.token_hex(16)}"
            while mark in value:
                mark = f"ghadelimiter_{secrets.token_hex(16)}"
            out.append(f"{key}<<{mark}\n{value}\n{mark}\n")
        else:
            out.append(f"{key}={value}\n")
    return "".join(out)


def append_github_output(path: str | os.PathLike[str], values: Mapping[str, str]) -> None:
    """Append ``values`` to the step-output file at ``path`` in one write."""
    data = github_output_lines(values).encode("utf-8", "backslashreplace")
    try:
        with open(Path(path), "ab") as handle:
            handle.write(data)
    except OSError as exc:  # a directory, a missing folder, a full disk
        raise GTOError(
            f"Cannot write step outputs to $GITHUB_OUTPUT ('{os.fspath(path)}'): "
            f"{exc.strerror or exc}"
        ) from None


def output_values(
    fields: Mapping[str, str | None], keys: Sequence[str] = OUTPUT_KEYS
) -> dict[str, str]:
    """Every key of ``keys`` with its value, ``""`` where there is none."""
    return {key: fields.get(key) or "" for key in keys}


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` (UTF-8) to the file at ``path`` in one write (a step summary)."""
    try:
        with open(Path(path), "ab") as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise GTOError(f"Cannot write '{os.fspath(path)}': {exc.strerror or exc}") from None


_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def github_web_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The repository's web address on GitHub (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``).

    None outside GitHub Actions, or when either value does not look like one:
    the address goes into Markdown links, so nothing else may pass.
    """
    env = settings.current().ci_environ if environ is None else environ
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    if _SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repository):
        return f"{server}/{repository}"
    return None


def dotenv_lines(values: Mapping[str, str]) -> str:
    """``values`` as a GitLab dotenv report: one ``KEY=value`` line each.

    GitLab accepts only ``[A-Za-z0-9_]`` in keys and no line breaks in values,
    so ``tag-message`` becomes ``tag_message`` and a multi-line value is joined
    with spaces.
    """
    return "".join(
        f"{key.replace('-', '_')}={' '.join(value.splitlines())}\n" for key, value in values.items()
    )
