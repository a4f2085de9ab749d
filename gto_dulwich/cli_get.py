"""``gto get``: write an artifact at a version or stage, with no git and no DVC.

    gto get model#prod -o model.pkl
    gto get model@v1.2.0 -r https://github.com/org/repo --json
    gto get model@latest --show-url

Errors are :class:`~gto_dulwich.errors.GTOError`, printed as one line by the
group in :mod:`gto_dulwich.cli`.  Rich is imported only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gto_dulwich.get import Progress


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Progress | None]:
    """A Rich bar on stderr when stderr is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    with RichProgress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@click.command("get")
@click.argument("name")
@click.option("-o", "--out", default=None, help="Where to write (default: the path's base name).")
@click.option(
    "--show-url", is_flag=True, help="Print the storage address of a DVC-tracked artifact."
)
@click.option(
    "--force", is_flag=True, help="Replace an existing OUT; allow a deregistered version."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Say how many bytes were fetched.")
@click.option(
    "-r",
    "--repo",
    default=".",
    show_default=True,
    help="Repository: a local path or a URL, read without cloning.",
)
@click.pass_context
def get(
    ctx: click.Context,
    name: str,
    out: str | None,
    show_url: bool,
    force: bool,
    as_json: bool,
    verbose: bool,
    repo: str,
) -> None:
    """Write an artifact at NAME@VERSION, NAME@latest or NAME#STAGE (NAME: the latest).

    The version is the registry's answer (as `show NAME#STAGE` and `latest`);
    the path is the one annotated at that version's commit.  OUT appears whole
    or not at all.
    """
    from gto_dulwich import api
    from gto_dulwich.render import safe

    verbose = verbose or bool((ctx.obj or {}).get("verbose"))
    with _progress_bar(safe(name)) as progress:
        result = api.get(
            repo,
            name,
            out,
            force=force,
            show_url=show_url,
            file_urls=show_url and as_json,
            progress=progress,
        )
    for warning in result.warnings:
        click.echo(f"warning: {safe(warning)}", err=True)
    if verbose and result.fetched_bytes is not None:
        click.echo(f"fetched {result.fetched_bytes} bytes of git objects", err=True)
    if verbose and result.source == "dvc" and result.size is not None:
        click.echo(f"downloaded {result.size} bytes from storage", err=True)
    if show_url:
        if as_json:
            click.echo(json.dumps(result.to_dict(), indent=4))
        else:
            from gto_dulwich.remote.connection import redact_url

            for url in result.urls:
                click.echo(redact_url(url))
        return
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=4))
        return
    what = f"{result.nfiles} files, " if result.nfiles and result.nfiles > 1 else ""
    click.echo(
        f"{safe(result.artifact)}@{safe(result.version)} ({result.commit[:7]}) -> "
        f"{safe(result.output or '')} ({what}{result.size} bytes)"
    )
