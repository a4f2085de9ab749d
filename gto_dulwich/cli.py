"""The ``gto`` command line: options -> api -> render -> exit code.

This is the one place that catches errors.  Exit codes: 0 success (also
"nothing found"), 1 an expected failure (one line on stderr), 2 usage (Click's),
3 an unexpected error (rerun with ``--traceback`` to see it), 130 Ctrl-C.

Heavy imports (dulwich, Rich, ruamel.yaml) happen inside commands, so
``gto --help`` and start-up stay fast.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypedDict, TypeVar

import click

from gto_dulwich import __version__
from gto_dulwich.errors import GTOError

if TYPE_CHECKING:
    from gto_dulwich.api import ArtifactView, RegistryView
    from gto_dulwich.events import Event
    from gto_dulwich.write import Change, Reporter

GTO_COMPAT = "1.10.1"
F = TypeVar("F", bound=Callable[..., Any])


def _marker(emoji: str) -> str:
    from gto_dulwich import settings

    return emoji if settings.current().emojis else ""


def echo(text: str = "") -> None:
    """Machine-safe output: straight to stdout, never wrapped."""
    click.echo(text)


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str | None]], plain: bool) -> None:
    from gto_dulwich import render

    if plain:
        echo(render.plain_table(headers, rows))
    elif sys.stdout.isatty():
        from rich.console import Console

        Console().print(render.rich_table(headers, rows))
    else:
        echo(render.box_table(headers, rows))


class GTOGroup(click.Group):
    """Runs commands with GTO's error handling and lists them in GTO's sections."""

    sections = (
        (
            "Read the registry",
            ("show", "history", "check-ref", "stages", "latest", "which", "describe", "doctor"),
        ),
        ("Modify artifacts", ("register", "assign", "deprecate", "annotate", "remove")),
        ("Tagged artifacts", ("tag-path",)),
        ("Publish", ("report",)),
        ("Deploy", ("get",)),
    )

    # Commands kept in their own modules, imported when run or listed (a registry read
    # does not pay for the report's templates or the tagged-artifacts product).
    lazy: ClassVar[dict[str, str]] = {
        "tag-path": "gto_dulwich.tagged.cli:tag_path",
        "report": "gto_dulwich.cli_report:report",
        "get": "gto_dulwich.cli_get:get",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            _add_example(command, cmd_name)
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed: set[str] = set()
        for title, names in self.sections:
            rows = []
            for name in names:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                listed.add(name)
                rows.append((name, command.get_short_help_str(limit=70)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [
            (name, cmd.get_short_help_str(limit=70))
            for name in self.list_commands(ctx)
            if name not in listed and (cmd := self.get_command(ctx, name)) and not cmd.hidden
        ]
        if rest:
            with formatter.section("Other"):
                formatter.write_dl(rest)

    def invoke(self, ctx: click.Context) -> Any:
        from gto_dulwich import settings
        from gto_dulwich.remote.guard import command as network_deadline

        traceback = bool(ctx.params.get("traceback"))
        # The settings of this invocation, read once: every module reads them from here on.
        record = settings.Settings.from_process(no_cache=bool(ctx.params.get("no_cache")))
        with settings.using(record):  # the error lines below read it too (GTO_EMOJIS)
            try:
                with network_deadline():  # one GTO_DULWICH_TIMEOUT for all network work
                    return super().invoke(ctx)
            except GTOError as exc:
                if traceback:
                    raise
                click.echo(f"{_marker('❌ ')}{_safe(str(exc))}", err=True)
                ctx.exit(exc.exit_code)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise
            except KeyboardInterrupt:
                click.echo("Interrupted", err=True)
                ctx.exit(130)
            except BrokenPipeError:
                ctx.exit(1)
            except Exception as exc:
                if traceback:
                    raise
                click.echo(
                    f"{_marker('❌ ')}Unexpected error: {type(exc).__name__}: {_safe(str(exc))}\n"
                    "Rerun with '--traceback' to see where it happened and report it.",
                    err=True,
                )
                ctx.exit(3)


@click.group(
    cls=GTOGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--version", "show_version", is_flag=True, help="Show the version and exit.")
@click.option("-v", "--verbose", is_flag=True, help="Also report tags the registry skipped.")
@click.option("--traceback", "--tb", "traceback", is_flag=True, hidden=True)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read everything from git: use no cache in the git directory (GTO_DULWICH_NO_CACHE=1).",
)
@click.pass_context
def cli(
    ctx: click.Context, show_version: bool, verbose: bool, traceback: bool, no_cache: bool
) -> None:
    """Git Tag Ops registry: versions and stages of artifacts as git tags, no git needed.

    Compatible with GTO 1.10.1: same tags, commands, options and JSON.
    """
    # --no-cache is in the settings GTOGroup.invoke makes current for this invocation.
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if show_version:
        echo(f"gto_dulwich {__version__} (GTO {GTO_COMPAT} compatible)")
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        echo(ctx.get_help())
        ctx.exit(2)


def repo_option(func: F) -> F:
    return click.option(
        "-r",
        "--repo",
        default=".",
        show_default=True,
        help=(
            "Repository: a local path (a work tree, any folder inside it, a bare repo) "
            "or a URL (https://, http://, ssh://, user@host:path, git://, file://), "
            "read without cloning."
        ),
    )(func)


# Options several commands share: declared once, each command's own help where it differs.
json_option = click.option("--json", "as_json", is_flag=True, help="Print output in JSON format.")
plain_option = click.option("--plain", is_flag=True, help="Print table in grep-able format.")
message_option = click.option(
    "-m", "--message", default=None, help="Message to annotate the git tag with."
)


def simple_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--simple", type=SIMPLE_CHOICE, default="auto", show_default=True, help=help
    )


def av_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--av",
        "--assignments-per-version",
        "av",
        type=int,
        default=-1,
        show_default=True,
        help=help,
    )


def vs_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--vs", "--versions-per-stage", "vs", type=int, default=1, show_default=True, help=help
    )


def sort_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--sort", type=SORT_CHOICE, default="timestamp", show_default=True, help=help
    )


def _report_diagnostics(registry: Any) -> None:
    ctx = click.get_current_context()
    if not (ctx.obj or {}).get("verbose"):
        return
    from gto_dulwich.render import safe

    for diagnostic in registry.diagnostics:
        click.echo(
            f"{diagnostic.severity}: {safe(diagnostic.ref)}: {safe(diagnostic.reason)}", err=True
        )


def _only_one(flags: dict[str, bool], message: str) -> None:
    if sum(flags.values()) > 1:
        raise click.UsageError(message)


# -- show ------------------------------------------------------------------------

SORT_CHOICE = click.Choice(["timestamp", "semver"])


@cli.command()
@click.argument("name", required=False)
@repo_option
@json_option
@plain_option
@click.option("--name", "name_only", is_flag=True, help="Show only artifact names.")
@click.option("--version", "version_only", is_flag=True, help="Show only versions.")
@click.option("--stage", "stage_only", is_flag=True, help="Show only stages.")
@click.option("--ref", "ref_only", is_flag=True, help="Show only git references (tags).")
@click.option(
    "--ro",
    "--registered-only",
    "registered_only",
    is_flag=True,
    help="Show only registered versions.",
)
@click.option("-d", "--deprecated", is_flag=True, help="Include deprecated artifacts.")
@av_option("Show N oldest stages for each version; -1 for all.")
@vs_option("Show N versions for each stage; -1 for all.")
@sort_option("Which version holds a stage: the last assigned, or the highest.")
@click.option(
    "--commit",
    "commit_rev",
    default=None,
    metavar="REV",
    help="Only versions registered at this commit (e.g. HEAD: which version is this checkout?).",
)
def show(
    name: str | None,
    repo: str,
    as_json: bool,
    plain: bool,
    name_only: bool,
    version_only: bool,
    stage_only: bool,
    ref_only: bool,
    registered_only: bool,
    deprecated: bool,
    av: int,
    vs: int,
    sort: str,
    commit_rev: str | None,
) -> None:
    """Show the registry, or one artifact.

    NAME may be ARTIFACT, ARTIFACT@latest, ARTIFACT@vX.Y.Z or ARTIFACT#STAGE.
    """
    from gto_dulwich import api, render

    _only_one(
        {
            "json": as_json,
            "plain": plain,
            "name": name_only,
            "version": version_only,
            "stage": stage_only,
            "ref": ref_only,
        },
        "Only one output format allowed",
    )
    form = _ShowForm(plain, name_only, version_only, stage_only, ref_only)
    query: _ShowQuery = {
        "registered_only": registered_only,
        "deprecated": deprecated,
        "assignments_per_version": av,
        "versions_per_stage": vs,
        "sort": sort,
    }
    if commit_rev is not None:
        _show_commit(name, repo, commit_rev, as_json, form, query)
        return
    with api.Registry.open(
        repo, artifact=_artifact_of(name), enrich_all=bool(name and as_json)
    ) as registry:
        _report_diagnostics(registry)
        view = api.show(registry, name, **query)
    if as_json:
        echo(render.to_json(view.to_dict()))
    elif isinstance(view, api.RegistryView):
        _show_registry(view, form)
    else:
        _show_artifact(view, form)


class _ShowQuery(TypedDict):
    """What ``show`` asks of the registry: the keyword arguments of ``api.show``."""

    registered_only: bool
    deprecated: bool
    assignments_per_version: int
    versions_per_stage: int
    sort: str


class _ShowForm(NamedTuple):
    """How ``show`` prints when not as JSON: a table (``--plain``) or one column."""

    plain: bool
    name_only: bool
    version_only: bool
    stage_only: bool
    ref_only: bool


def _show_commit(
    name: str | None, repo: str, rev: str, as_json: bool, form: _ShowForm, query: _ShowQuery
) -> None:
    """``show --commit REV``: ``show NAME``'s rows at one commit, with an artifact column."""
    from gto_dulwich import api, render

    with api.Registry.open(repo, artifact=_artifact_of(name), enrich_all=as_json) as registry:
        _report_diagnostics(registry)
        view = api.versions_at(registry, rev, name, **query)
    if as_json:
        echo(render.to_json(view.to_dict()))
        return
    cut = render.cut_hexsha
    for flag, value in (
        (form.name_only, lambda r: r.version.artifact),
        (form.version_only, lambda r: cut(r.version.version)),
        (form.stage_only, lambda r: ", ".join(r.stages)),
        (form.ref_only, lambda r: cut(r.version.ref)),
    ):
        if flag:
            for row in view.rows:
                echo(render.safe(value(row)))
            return
    if not view.rows:
        echo(render.NOTHING_FOUND)
        return
    _print_table(*render.version_table(view.rows), form.plain)


def _artifact_of(name: str | None) -> str | None:
    if not name:
        return None
    from gto_dulwich.grammar import parse_shortcut

    return parse_shortcut(name).name


def _show_registry(view: RegistryView, form: _ShowForm) -> None:
    from gto_dulwich.render import NOTHING_FOUND, registry_table, safe

    rows = sorted(view.rows, key=lambda row: row.name)
    names = [("" if row.registered else "*") + row.name for row in rows]
    for flag, option in (
        (form.version_only, "version"),
        (form.stage_only, "stage"),
        (form.ref_only, "ref"),
    ):
        if flag:
            if rows:
                raise GTOError(f"Cannot apply --{option}")
            return
    if form.name_only:
        for name in names:
            echo(safe(name))
        return
    if not rows:
        echo(NOTHING_FOUND)
        return
    _print_table(*registry_table(names, rows, view.stages), form.plain)


def _show_artifact(view: ArtifactView, form: _ShowForm) -> None:
    from gto_dulwich.render import NOTHING_FOUND, cut_hexsha, safe, version_table

    if form.name_only:
        raise GTOError("Cannot apply --name")
    if form.version_only or form.stage_only or form.ref_only:
        for row in view.rows:
            if form.version_only:
                echo(cut_hexsha(row.version.version))
            elif form.stage_only:
                echo(", ".join(row.stages))
            else:
                echo(safe(cut_hexsha(row.version.ref)))
        return
    if not view.rows:
        echo(NOTHING_FOUND)
        return
    artifact = ("" if view.registered else "*") + view.name
    _print_table(*version_table(view.rows, artifact), form.plain)


# -- history -----------------------------------------------------------------------


@cli.command()
@click.argument("name", required=False)
@repo_option
@json_option
@plain_option
@click.option("--asc", "--ascending", "ascending", is_flag=True, help="Show oldest events first.")
def history(name: str | None, repo: str, as_json: bool, plain: bool, ascending: bool) -> None:
    """Show the history of events (registrations, assignments...), newest first.

    NAME may be ARTIFACT, ARTIFACT#STAGE (that stage's events) or ARTIFACT@vX.Y.Z
    (that version's events; ARTIFACT@latest too).
    """
    from gto_dulwich import api, render

    _only_one({"json": as_json, "plain": plain}, "Only one output format allowed")
    with api.Registry.open(repo, artifact=_artifact_of(name)) as registry:
        _report_diagnostics(registry)
        rows = api.history(registry, name, ascending=ascending)
    if as_json:
        for chunk in render.json_list_chunks(row.to_dict() for row in rows):
            click.echo(chunk, nl=False)
        echo()
        return
    if not rows:
        echo(render.NOTHING_FOUND)
        return
    _print_table(*render.history_table(rows), plain)


# -- check-ref -----------------------------------------------------------------------


@cli.command("check-ref")
@click.argument("ref", required=False)
@repo_option
@json_option
@click.option("--name", "name_only", is_flag=True, help="Show artifact name.")
@click.option("--version", "version_only", is_flag=True, help="Output artifact version.")
@click.option("--event", "event_only", is_flag=True, help="Show event.")
@click.option("--stage", "stage_only", is_flag=True, help="Show artifact stage.")
@click.option(
    "--github-output",
    is_flag=True,
    help="Also append event, name, version, stage, type, path and description to $GITHUB_OUTPUT.",
)
@click.option(
    "--summary",
    "summary_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Append a Markdown summary of the event to FILE "
    "(--github-output appends it to $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--dotenv",
    "dotenv_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Append the same values to FILE as a GitLab dotenv report (tag_message; one line each).",
)
@click.option("--fail-if-none", is_flag=True, help="Exit 1 when REF is not a registry event.")
@click.option(
    "--fetch-tags",
    is_flag=True,
    envvar="GTO_DULWICH_FETCH_TAGS",
    help="First fetch the artifact's annotated tags from origin (repairs shallow CI checkouts).",
)
def check_ref(
    ref: str | None,
    repo: str,
    as_json: bool,
    name_only: bool,
    version_only: bool,
    event_only: bool,
    stage_only: bool,
    github_output: bool,
    summary_file: str | None,
    dotenv_file: str | None,
    fail_if_none: bool,
    fetch_tags: bool,
) -> None:
    """Find out the artifact version registered or assigned with a tag (TAG or refs/tags/TAG).

    Without REF, the tag that triggered the CI job: GITHUB_REF (GitHub Actions)
    or CI_COMMIT_TAG (GitLab CI).
    """

    from gto_dulwich import api, ci, render, settings
    from gto_dulwich.remote import is_url

    _only_one(
        {
            "json": as_json,
            "name": name_only,
            "version": version_only,
            "event": event_only,
            "stage": stage_only,
        },
        "Only one output formatting flags is allowed",
    )
    if ref is None:
        ref = ci.ref_from_env()
        if ref is None:
            raise click.UsageError(
                "Missing argument 'REF' (outside CI: GITHUB_REF and CI_COMMIT_TAG are not set)"
            )
    ci_environ = settings.current().ci_environ
    output_file = ci_environ.get("GITHUB_OUTPUT") if github_output else None
    if github_output and not output_file:
        click.echo("warning: GITHUB_OUTPUT is not set; no step outputs written", err=True)
    summaries = [summary_file] if summary_file else []
    if github_output and ci_environ.get(ci.SUMMARY_ENV):
        summaries.append(ci_environ[ci.SUMMARY_ENV])
    # A ref that names no artifact (a branch push) has no tags worth fetching.
    if fetch_tags and not is_url(repo) and api.artifact_of_ref(ref) is not None:
        fetched = api.fetch_tags(repo, ref)
        for tag in fetched.replaced:
            click.echo(
                f"Replaced lightweight tag '{render.safe(tag)}' with the annotated tag from origin",
                err=True,
            )
        for tag in fetched.kept:
            click.echo(
                f"warning: tag '{render.safe(tag)}' differs from origin's; kept the local one",
                err=True,
            )
    event = _triggered_event(repo, ref, output_file, fail_if_none, summaries, dotenv_file)
    if event is None:
        return
    if as_json:
        echo(render.to_json(event.check_ref_dict()))
    elif name_only:
        echo(event.artifact)
    elif version_only:
        if event.version is not None:
            echo(event.version)
    elif event_only:
        echo(event.kind.value)
    elif stage_only:
        if event.stage is not None:
            echo(event.stage)
    else:
        echo(f"{_marker('✅ ')} {render.safe(render.event_sentence(event))}")


def _triggered_event(
    repo: str,
    ref: str,
    output_file: str | None,
    fail_if_none: bool,
    summaries: Sequence[str] = (),
    dotenv_file: str | None = None,
) -> Event | None:
    """The one event ``ref`` created (None: not a registry event), step outputs and
    summaries written."""
    from gto_dulwich import api, ci

    artifact = api.artifact_of_ref(ref)
    if artifact is None:
        api.check_ref(repo, ref)  # reads no tag, but still fails on a bad .gto
        if fail_if_none:
            raise GTOError(f"'{ref}' is not a registry event")
        return None
    with api.Registry.open(repo, artifact=artifact) as registry:
        events = api.check_ref(registry, ref)
        if len(events) > 1:
            raise GTOError("Checking refs that created 1+ events is not supported")
        if not events:
            problem = api.tag_problem(registry, ref)
            if problem is not None:
                from gto_dulwich.render import safe

                click.echo(f"warning: {safe(problem)}", err=True)
            if fail_if_none:
                raise GTOError(f"'{ref}' is not a registry event")
            return None
        if output_file or dotenv_file:
            from gto_dulwich import render
            from gto_dulwich.errors import AnnotationsError

            try:
                annotation = api.describe(registry, events[0].artifact, rev=events[0].commit)
            except AnnotationsError as exc:  # the event stands; its annotation cannot be read
                click.echo(
                    f"warning: {render.safe(str(exc))}; type, path and description left empty",
                    err=True,
                )
                annotation = None
            values = ci.output_values(_ci_fields(events[0], annotation))
            if output_file:
                ci.append_github_output(output_file, values)
            if dotenv_file:
                ci.append_text(dotenv_file, ci.dotenv_lines(values))
        if summaries:
            _write_summaries(registry, events[0], summaries)
        return events[0]


def _write_summaries(registry: Any, event: Event, files: Sequence[str]) -> None:
    from gto_dulwich import ci, render, summary

    rows = summary.rows_after(registry.artifact(event.artifact), event)
    text = summary.markdown(event, render.event_sentence(event), rows, web_url=ci.github_web_url())
    for file in files:
        ci.append_text(file, text)


def _ci_fields(event: Event, annotation: Any) -> dict[str, str | None]:
    """The step outputs of one event (gto-action's names)."""
    return {
        "event": event.kind.value,
        "name": event.artifact,
        "version": event.version,
        "stage": event.stage,
        "type": annotation.type if annotation else None,
        "path": annotation.path if annotation else None,
        "description": annotation.description if annotation else None,
        "commit": event.commit,
        "tag-message": event.message.removesuffix("\n"),
    }


# -- stages, doctor, parse-tag ----------------------------------------------------------


@cli.command()
@repo_option
@click.option("--allowed", is_flag=True, help="Show stages allowed in the config.")
@click.option("--used", is_flag=True, help="Show stages currently held by some version.")
@json_option
def stages(repo: str, allowed: bool, used: bool, as_json: bool) -> None:
    """Print the list of stages: allowed by config, else in use."""
    from gto_dulwich import api, render

    _only_one({"allowed": allowed, "used": used}, 'Either "allowed" or "used" can be set')
    result = api.get_stages(repo, allowed=allowed, used=used)
    if as_json:
        echo(render.to_json(result))
        return
    for stage in result or []:
        echo(stage)


@cli.command()
@repo_option
def doctor(repo: str) -> None:
    """Show the configuration and every tag the registry skipped, and why."""
    from gto_dulwich import api
    from gto_dulwich.render import safe

    echo(f"gto_dulwich {__version__} (GTO {GTO_COMPAT} compatible)")
    echo("-" * 33)
    with api.Registry.open(repo, enrich_all=True) as registry:
        for line in registry.config.dump_lines():
            echo(line)
        echo("-" * 33)
        diagnostics = (*registry.diagnostics, *api.dvc_problems(registry))
        for diagnostic in diagnostics:
            echo(f"{diagnostic.severity}: {safe(diagnostic.ref)}: {safe(diagnostic.reason)}")
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = sum(d.severity == "warning" for d in diagnostics)
    if errors:
        raise GTOError(f"{errors} error(s) and {warnings} warning(s) found")
    if warnings:
        echo(f"{warnings} warning(s) found")
    else:
        echo(f"{_marker('✅ ')} No issues found")


@cli.command("print-state", hidden=True)
@repo_option
def print_state(repo: str) -> None:
    """Dump the whole registry state as JSON (for debugging)."""
    from gto_dulwich import api, render

    with api.Registry.open(repo, enrich_all=True) as registry:
        artifacts = {n: a.state_dict() for n, a in registry.state.artifacts.items()}
    echo(render.to_json({"artifacts": artifacts}))


@cli.command("parse-tag", hidden=True)
@click.argument("name")
@click.option("--key", default=None, help="Print only this key.")
def parse_tag(name: str, key: str | None) -> None:
    """Parse a tag name into its parts."""
    import json

    from gto_dulwich import api

    parsed = api.parse_tag(name)
    if key is None:
        echo(json.dumps(parsed, indent=4))
        return
    if key not in parsed:
        raise GTOError(f"Tag '{name}' has no '{key}'")
    echo(json.dumps(parsed[key]))


# -- latest, which, describe (from GTO's original README) ---------------------------------


@cli.command()
@click.argument("name")
@repo_option
@click.option("--ref", "ref_only", is_flag=True, help="Print the git tag instead of the version.")
@click.option(
    "--ro/--all",
    "registered_only",
    default=True,
    show_default=True,
    help="Only registered versions.",
)
def latest(name: str, repo: str, ref_only: bool, registered_only: bool) -> None:
    """Print the latest (highest SemVer, active) version of an artifact."""
    from gto_dulwich import api
    from gto_dulwich.reducer import Version

    found = api.find_latest_version(repo, name, registered=registered_only)
    if isinstance(found, Version):
        echo(found.ref if ref_only else found.version)


@cli.command()
@click.argument("name")
@click.argument("stage")
@repo_option
@click.option("--ref", "ref_only", is_flag=True, help="Print the git tag instead of the version.")
@av_option("Consider N oldest stages of each version; -1 for all.")
@vs_option("Print N versions; -1 for all.")
@click.option(
    "--ro", "--registered-only", "registered_only", is_flag=True, help="Only registered versions."
)
@sort_option("Which version holds the stage: the last assigned, or the highest.")
def which(
    name: str,
    stage: str,
    repo: str,
    ref_only: bool,
    av: int,
    vs: int,
    registered_only: bool,
    sort: str,
) -> None:
    """Print the version(s) of an artifact that are in a stage."""
    from gto_dulwich import api

    held = api.find_versions_in_stage(
        repo,
        name,
        stage,
        assignments_per_version=av,
        versions_per_stage=vs,
        registered_only=registered_only,
        sort=sort,
    )
    for vstage in held or []:
        echo(vstage.authoring_event.tag if ref_only else vstage.version)


@cli.command()
@click.argument("name")
@repo_option
@click.option(
    "--rev", default=None, help="Read artifacts.yaml and dvc.yaml at this revision (default HEAD)."
)
@click.option("--type", "type_only", is_flag=True, help="Print only the type.")
@click.option("--path", "path_only", is_flag=True, help="Print only the path.")
@click.option("--description", "description_only", is_flag=True, help="Print only the description.")
@click.option(
    "--source", "source_only", is_flag=True, help="Print only the file the annotation came from."
)
@click.option(
    "--url", "url_only", is_flag=True, help="Print only the DVC output's address in remote storage."
)
def describe(
    name: str,
    repo: str,
    rev: str | None,
    type_only: bool,
    path_only: bool,
    description_only: bool,
    source_only: bool,
    url_only: bool,
) -> None:
    """Print an artifact's annotation (artifacts.yaml, else dvc.yaml) as JSON."""
    from gto_dulwich import api, render

    flags = {
        "type": type_only,
        "path": path_only,
        "description": description_only,
        "source": source_only,
        "url": url_only,
    }
    _only_one(flags, "Only one output formatting flags is allowed")
    found = api.describe_artifact(
        repo, name, rev=rev, outputs=not (any(flags.values()) and not url_only)
    )
    if (click.get_current_context().obj or {}).get("verbose"):
        for problem in found.problems:
            click.echo(f"warning: {render.safe(str(problem))}", err=True)
    annotation = found.annotation
    if annotation is None:
        if url_only:  # a script asked for an address: nothing is not an answer
            raise GTOError(
                f"'{name}' matches no registered version: no such version, "
                "a deregistered one, or a stage no version holds"
                if found.commit is None
                else f"'{name}' is declared in no artifacts.yaml or dvc.yaml "
                f"at commit {found.commit[:7]}"
            )
        return
    field = next((key for key, wanted in flags.items() if wanted), None)
    if field is None:
        data = annotation.describe_dict()
        # Our own keys, only where DVC is involved: GTO's describe shape stays as it was.
        if (annotation.source or "").endswith("dvc.yaml") or found.output is not None:
            data["source"] = annotation.source
        if found.output is not None:
            data["dvc"] = found.output.to_dict()
        echo(render.to_json(data))
        return
    if field == "url":
        if found.output is None or found.output.url is None:
            reason = "; ".join(str(p) for p in found.problems)
            raise GTOError(
                f"'{name}' has no address in DVC remote storage: "
                + (reason or f"its path '{annotation.path}' is not a DVC output with a remote")
            )
        echo(render.safe(found.output.url))
        return
    value = getattr(annotation, field)
    if value:
        echo(render.safe(str(value)))


# -- write commands -------------------------------------------------------------------

SIMPLE_CHOICE = click.Choice(["auto", "true", "false"])


def _simple(value: str) -> bool | None:
    return None if value == "auto" else value == "true"


def _printer(push: bool, repo: str) -> Reporter:
    """Print each change as it happens, in GTO's words (stdout, never wrapped).

    A write to a URL is always pushed (it happens in a temporary store).
    """
    import shlex

    from gto_dulwich.remote import is_url

    push = push or is_url(repo)

    def report(change: Change) -> None:
        quoted = shlex.quote(change.tag)
        if change.kind == "created":
            assert change.step is not None
            echo(f"Created git tag '{change.tag}' that {change.step.describe()}")
            if not push:
                echo("To push the changes upstream, run:")
                echo(f"    git push origin {quoted}")
        elif change.kind == "deleted":
            echo(f"Deleted git tag '{change.tag}'")
            if not push:
                echo("To push the changes upstream, run:")
                echo(f"    git push --delete origin {quoted}")
        elif change.kind == "pushing":
            delete = "--delete " if change.tag in change.deleted_tags else ""
            echo(f"Running `git push {delete}origin {change.tag}`")
        elif change.tag in change.deleted_tags:
            echo(f"Successfully deleted git tag {change.tag} on remote.")
        else:
            echo(f"Successfully pushed git tag {change.tag} on remote.")

    return report


def author_options(func: F) -> F:
    func = click.option(
        "--author-email",
        default=None,
        help="Tagger email (default: git config / GIT_COMMITTER_EMAIL).",
    )(func)
    return click.option(
        "--author", default=None, help="Tagger name (default: git config / GIT_COMMITTER_NAME)."
    )(func)


@cli.command()
@click.argument("name")
@click.argument("ref", required=False, default="HEAD")
@repo_option
@click.option(
    "--version",
    "--ver",
    "version",
    default=None,
    help="Version name in SemVer format, e.g. v1.0.0.",
)
@message_option
@simple_option("Use the simple tag form (NAME@VERSION) or the counter form (NAME@VERSION#N).")
@click.option("--force", is_flag=True, help="Register even if the commit already has a version.")
@click.option("--bump-major", is_flag=True, help="Bump the major part of the latest version.")
@click.option("--bump-minor", is_flag=True, help="Bump the minor part of the latest version.")
@click.option("--bump-patch", is_flag=True, help="Bump the patch part of the latest version.")
@click.option("--push", is_flag=True, help="Push the created tag to origin.")
@author_options
def register(
    name: str,
    ref: str,
    repo: str,
    version: str | None,
    message: str | None,
    simple: str,
    force: bool,
    bump_major: bool,
    bump_minor: bool,
    bump_patch: bool,
    push: bool,
    author: str | None,
    author_email: str | None,
) -> None:
    """Create a git tag that registers a new artifact version (REF defaults to HEAD)."""
    from gto_dulwich import api

    api.register(
        repo,
        name,
        ref,
        version=version,
        message=message,
        simple=_simple(simple),
        force=force,
        bump_major=bump_major,
        bump_minor=bump_minor,
        bump_patch=bump_patch,
        push=push,
        author=author,
        author_email=author_email,
        report=_printer(push, repo),
    )


@cli.command()
@click.argument("name")
@click.argument("ref", required=False)
@repo_option
@click.option(
    "--version",
    default=None,
    help="With REF: the name of the version to register at REF; alone: an "
    "existing version to assign.",
)
@click.option("--stage", required=True, help="Stage to assign.")
@message_option
@simple_option("Use the simple tag form (NAME#STAGE) or the counter form (NAME#STAGE#N).")
@click.option("--force", is_flag=True, help="Assign even if the version is already in the stage.")
@click.option("--push", is_flag=True, help="Push the created tag(s) to origin.")
@click.option(
    "--sr",
    "--skip-registration",
    "skip_registration",
    is_flag=True,
    help="Do not register a version at REF when it has none.",
)
@author_options
def assign(
    name: str,
    ref: str | None,
    repo: str,
    version: str | None,
    stage: str,
    message: str | None,
    simple: str,
    force: bool,
    push: bool,
    skip_registration: bool,
    author: str | None,
    author_email: str | None,
) -> None:
    """Assign a stage to an artifact version (registering one at REF first if needed)."""
    from gto_dulwich import api

    if ref is not None:
        target = {"ref": ref, "name_version": version}
    elif version is not None:
        target = {"version": version}
    else:
        target = {"ref": "HEAD"}
    api.assign(
        repo,
        name,
        stage,
        **target,
        message=message,
        simple=_simple(simple),
        force=force,
        push=push,
        skip_registration=skip_registration,
        author=author,
        author_email=author_email,
        report=_printer(push, repo),
    )


cli.add_command(assign, "promote")


@cli.command()
@click.argument("name")
@click.argument("version", required=False)
@click.argument("stage", required=False)
@repo_option
@click.option("--ref", default=None, help="Commit to put the deprecation tag on.")
@message_option
@simple_option("Use the simple tag form or the counter form (#N).")
@click.option("--force", is_flag=True, help="Create the tag even if nothing would change.")
@click.option(
    "-d",
    "--delete",
    is_flag=True,
    help="Delete the tags instead of creating a new one (erases the audit trail).",
)
@click.option("--push", is_flag=True, help="Push the change to origin.")
@author_options
def deprecate(
    name: str,
    version: str | None,
    stage: str | None,
    repo: str,
    ref: str | None,
    message: str | None,
    simple: str,
    force: bool,
    delete: bool,
    push: bool,
    author: str | None,
    author_email: str | None,
) -> None:
    """Deprecate an artifact, deregister a version (NAME VERSION) or unassign a stage
    (NAME VERSION STAGE)."""
    from gto_dulwich import api

    common: dict[str, Any] = {
        "message": message,
        "simple": _simple(simple),
        "force": force,
        "delete": delete,
        "push": push,
        "author": author,
        "author_email": author_email,
        "report": _printer(push, repo),
    }
    if stage is not None:
        api.unassign(repo, name, version=version, stage=stage, **common)
    elif version is not None:
        api.deregister(repo, name, version=version, **common)
    else:
        api.deprecate(repo, name, ref=ref, **common)


@cli.command()
@click.argument("name")
@repo_option
@click.option("--type", "type_", default=None, help="Artifact type (e.g. model, dataset).")
@click.option("--path", default=None, help="Where the artifact lives.")
@click.option(
    "-e",
    "--must-exist",
    is_flag=True,
    help="Require PATH to be committed at HEAD (and mark it not virtual).",
)
@click.option("--allow-same-path", is_flag=True, help="Allow a path another artifact uses.")
@click.option("--label", "labels", multiple=True, help="A label; repeat for several.")
@click.option("-d", "--description", default=None, help="A description of the artifact.")
@click.option(
    "-c",
    "--custom",
    default=None,
    help='Custom data: JSON (e.g. \'{"owner": "a"}\') or a plain string.',
)
def annotate(
    name: str,
    repo: str,
    type_: str | None,
    path: str | None,
    must_exist: bool,
    allow_same_path: bool,
    labels: tuple[str, ...],
    description: str | None,
    custom: str | None,
) -> None:
    """Add or update an artifact's entry in artifacts.yaml (in the work tree)."""
    from gto_dulwich import api
    from gto_dulwich.yamlsafe import load_json_bounded

    value: Any = custom
    if custom is not None:
        try:
            value = load_json_bounded(custom, where="--custom")
        except ValueError:
            value = custom
    api.annotate(
        repo,
        name,
        type=type_,
        path=path,
        must_exist=must_exist,
        allow_same_path=allow_same_path,
        labels=labels,
        description=description,
        custom=value,
    )


@cli.command()
@click.argument("name")
@repo_option
def remove(name: str, repo: str) -> None:
    """Remove an artifact's entry from artifacts.yaml (in the work tree)."""
    from gto_dulwich import api

    if not api.remove(repo, name):
        raise GTOError(f"Cannot find artifact '{name}' in artifacts.yaml")


#: One example per command, shown at the end of its ``--help`` (tests run every one
#: on GTO's showcase registry).
EXAMPLES = {
    "show": "gto show rf#production --version",
    "history": "gto history rf#production --plain",
    "check-ref": "gto check-ref 'rf#production#3' --json",
    "stages": "gto stages --used",
    "latest": "gto latest rf --ref",
    "which": "gto which rf production",
    "describe": "gto describe rf --path",
    "doctor": "gto doctor",
    "register": "gto register nn --bump-minor -m 'Retrained on new data'",
    "assign": "gto assign nn --version v0.0.1 --stage production",
    "deprecate": "gto deprecate rf v1.2.3 production",
    "annotate": "gto annotate churn --type model --path models/churn.pkl",
    "remove": "gto remove features",
    "tag-path": "gto tag-path out/plot.png --set lr=0.001",
    "print-state": "gto print-state",
    "parse-tag": "gto parse-tag 'rf#production#3'",
    "report": "gto report -o build/registry --title 'Model registry'",
    "get": "gto get rf#production -o model.pkl",
}


def _add_example(command: click.Command, name: str) -> None:
    # "\b": Click keeps the lines of that paragraph as they are.
    command.epilog = f"\b\nExample:\n  {EXAMPLES[name]}"


for _name, _command in cli.commands.items():
    if _name in EXAMPLES:
        _add_example(_command, _name)


def _safe(text: str) -> str:
    """Repository text inside an error message, made terminal-safe (and one line, but for
    the trailing newline some of GTO's messages end with)."""
    from gto_dulwich.render import safe_message

    return safe_message(text)


def _terminate(_signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` blocks release every lock (exit 130)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    import signal

    with contextlib.suppress(ValueError):  # signal handlers only in the main thread
        signal.signal(signal.SIGTERM, _terminate)
    cli.main(args=list(argv) if argv is not None else None, prog_name="gto")
