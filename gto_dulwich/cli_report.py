"""``gto report``: the registry of one or many repositories as a static web site."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gto_dulwich.render import safe


@click.command("report")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site to (replaced atomically if a report is there).",
)
@click.option(
    "-r",
    "--repo",
    "repos",
    multiple=True,
    default=["."],
    show_default=True,
    help="A repository: a local path or a URL, read without cloning. Repeat for several.",
)
@click.option("--title", default="Artifact registry", show_default=True, help="Page title.")
@click.option("--json", "as_json", is_flag=True, help="Also write registry.json.")
@click.option(
    "--keep-going",
    is_flag=True,
    help="Exit 0 even if some repositories could not be read (they are named on the page).",
)
def report(
    output: Path, repos: tuple[str, ...], title: str, as_json: bool, keep_going: bool
) -> None:
    """Write the registry as a static web site (index and artifact pages)."""
    from gto_dulwich.report import build_report
    from gto_dulwich.site import write_site

    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    built = build_report(list(dict.fromkeys(repos)), title=title, generated_at=now)
    written = write_site(built, output, as_json=as_json)
    for repo in built.failed:
        click.echo(
            f"Cannot read repository '{safe(repo.source)}': {safe(repo.error or '')}", err=True
        )
    read = len(built.repos) - len(built.failed)
    click.echo(
        f"Wrote {written.artifact_pages} artifacts from {read} of {len(built.repos)} "
        f"repositories to {safe(str(output / 'index.html'))}"
    )
    if built.failed and not keep_going:
        click.get_current_context().exit(1)
