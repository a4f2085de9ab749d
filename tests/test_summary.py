"""The Markdown step summary: what it says, and that repository text stays text."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from gto_dulwich.builder import build_repo
from gto_dulwich.summary import code, code_block, prose
from tests.helpers import build_fixture, run_cli

GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/models"}


def _render(markdown: str) -> str:
    """HTML as a CommonMark renderer with GFM tables makes it (raw HTML allowed, as GitHub)."""
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


def test_summary_of_an_assignment_on_github(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    built = build_fixture("showcase", repo)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n")
    env = {**GITHUB, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(tmp_path / "o")}
    result = run_cli(["check-ref", "rf#production#3", "--github-output"], cwd=repo, env=env)
    assert result.exit_code == 0, result.stderr
    c3 = built.commits["c3"]
    assert summary.read_text() == (
        "earlier\n"
        '### Stage \\"production\\" was assigned to version \\"v1\\.2\\.4\\" of artifact \\"rf\\"\n'
        "\n"
        "Tag [`rf#production#3`](https://github.com/org/models/releases/tag/rf%23production%233)"
        f" on commit [`{c3[:7]}`](https://github.com/org/models/commit/{c3}),"
        " by `GTO Tester`, 2026\\-11\\-21 10\\:49\\:36\\+00\\:00.\n"
        "\n"
        "Versions of `rf` and their stages after it:\n"
        "\n"
        "| version | stages | created_at | ref |\n"
        "| --- | --- | --- | --- |\n"
        # As right after #3: the later rf#production#4 (back to v1.2.3) is not in it yet.
        "| `v1.2.4` | `production`, `staging` | `2026-11-21 10:49:33+00:00` | `rf@v1.2.4` |\n"
        "| `v1.2.3` | - | `2026-11-21 10:49:32+00:00` | `rf@v1.2.3` |\n"
        "\n"
        "Tag message:\n"
        "\n"
        "```text\n"
        "Assigning stage production to artifact rf version v1.2.4\n"
        "```\n"
        "\n"
    )


def test_summary_file_for_gitlab_has_no_links(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    summary = tmp_path / "summary.md"
    result = run_cli(
        ["check-ref", "nn@v0.0.1", "--summary", str(summary), "--event"],
        cwd=repo,
        env={"CI_COMMIT_TAG": "nn@v0.0.1"},
    )
    assert (result.exit_code, result.stdout) == (0, "registration\n")
    text = summary.read_text()
    assert text.startswith('### Version \\"v0\\.0\\.1\\" of artifact \\"nn\\" was registered\n')
    assert "](" not in text
    assert "| `v0.0.1` | - |" in text  # staging came later


@pytest.mark.parametrize(
    "env",
    [
        {"GITHUB_SERVER_URL": "javascript:alert(1)//", "GITHUB_REPOSITORY": "org/models"},
        {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/m)(x"},
        {"GITHUB_REPOSITORY": "org/models"},
    ],
)
def test_no_links_from_odd_github_variables(tmp_path: Path, env: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    summary = tmp_path / "summary.md"
    result = run_cli(["check-ref", "rf@v1.2.3", "--summary", str(summary)], cwd=repo, env=env)
    assert result.exit_code == 0, result.stderr
    assert "](" not in summary.read_text()


def test_no_summary_for_a_ref_that_is_no_event(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    summary = tmp_path / "summary.md"
    result = run_cli(["check-ref", "refs/heads/main", "--summary", str(summary)], cwd=repo)
    assert result.exit_code == 0
    assert not summary.exists()


HOSTILE_MESSAGE = (
    "</code></pre><img src=x onerror=alert(1)>\n"
    "# Not a heading\n"
    "```\n"
    "[click](https://evil.example/) **bold** <script>alert(2)</script>\n"
    "|a|b|\n|---|---|\n| x | y |\n"
    "`````\n"
    "&lt;entity&gt; \x1b[31mred\u202etxt.exe"
)
# A tagger name cannot hold "<" or ">" (git's "Name <email>" format).
HOSTILE_TAGGER = "**Mallory** [x](https://evil.example/) `|` @octocat &amp; _i_"


def _hostile_repo(path: Path) -> None:
    spec: dict[str, Any] = {
        "name": "hostile",
        "identity": {"name": "T", "email": "t@example.com"},
        "branch": "main",
        "commits": [
            {"id": "c1", "message": "m", "time": "2024-05-01T10:00:00+00:00", "files": {"a": "1"}}
        ],
        "tags": [
            {
                "name": "m@v1.0.0",
                "target": "c1",
                "time": "2024-05-01T11:00:00+00:00",
                "message": HOSTILE_MESSAGE,
                "tagger": {"name": HOSTILE_TAGGER, "email": "m@example.com"},
            }
        ],
    }
    build_repo(spec, path)


def test_hostile_tag_message_renders_as_text(tmp_path: Path) -> None:
    """Markdown and HTML in a tag message or tagger name reach the reader as text."""
    repo = tmp_path / "repo"
    _hostile_repo(repo)
    summary = tmp_path / "summary.md"
    result = run_cli(["check-ref", "m@v1.0.0", "--summary", str(summary)], cwd=repo, env=GITHUB)
    assert result.exit_code == 0, result.stderr
    rendered = _render(summary.read_text())
    for tag in ("<img", "<script", "<b>", "<h1", "<strong", 'href="https://evil'):
        assert tag not in rendered, tag
    # The whole message is one code block, shown as written (invisible characters as escapes).
    shown = HOSTILE_MESSAGE.replace("\x1b", "\\x1b").replace("\u202e", "\\u202e")
    assert f'<pre><code class="language-text">{html.escape(shown, quote=False)}\n</code></pre>' in (
        rendered.replace("&quot;", '"')
    )
    # The tagger is one code span; the table still has its four columns.
    assert f"<code>{html.escape(HOSTILE_TAGGER, quote=False)}</code>" in rendered.replace(
        "&quot;", '"'
    )
    assert rendered.count("<th>") == 4
    # Only the two links we made.
    assert rendered.count("<a href=") == 2


@pytest.mark.parametrize(
    "text",
    ["plain", "a`b", "``x``", "` lead", "trail `", "a|b", "<i>x</i>", "*x* _y_", "[a](b)"],
)
def test_code_spans_show_their_text(text: str) -> None:
    rendered = _render(code(text)).strip()
    assert rendered == f"<p><code>{html.escape(text, quote=False)}</code></p>"
    in_table = _render(f"| h |\n| --- |\n| {code(text, in_table=True)} |\n")
    assert f"<td><code>{html.escape(text, quote=False)}</code></td>" in in_table


@pytest.mark.parametrize("text", ["# h", "a *b* <i>c</i> [d](e) &amp; \\ `f`", "1. x", "> q"])
def test_prose_shows_its_text(text: str) -> None:
    assert _render(prose(text)).strip() == f"<p>{html.escape(text, quote=False)}</p>"


def test_code_block_cannot_be_closed_from_inside() -> None:
    text = "```\n````\n<b>x</b>"
    rendered = _render(code_block(text) + "after\n")
    assert rendered == (
        f'<pre><code class="language-text">{html.escape(text, quote=False)}\n</code></pre>\n'
        "<p>after</p>\n"
    )


def test_an_unwritable_summary_file_is_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    target = tmp_path / "missing" / "summary.md"
    result = run_cli(["check-ref", "rf@v1.2.3", "--summary", str(target)], cwd=repo)
    assert result.exit_code == 1
    assert result.stderr == f"❌ Cannot write '{target}': No such file or directory\n"


@pytest.fixture(scope="module")
def every_event(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture("every_event", tmp_path_factory.mktemp("every") / "repo").path


@pytest.mark.parametrize(
    ("tag", "rows"),
    [
        # a deregistration hands the stage back to the previous holder
        ("dr@v2.0.0!", [("v1.0.0", ["prod"])]),
        ("dr#prod#2", [("v2.0.0", ["prod"]), ("v1.0.0", [])]),
        ("ua#prod!#3", [("v2.0.0", []), ("v1.0.0", ["prod"])]),
        ("ua#dev", [("v2.0.0", []), ("v1.0.0", ["dev", "prod"])]),
        # deprecated: nothing to show (the table is left out)
        ("dep@deprecated", []),
        ("rea@v1.1.0", [("v1.1.0", []), ("v1.0.0", [])]),
    ],
)
def test_rows_right_after_an_event_on_every_event(
    every_event: Path, tag: str, rows: list[tuple[str, list[str]]]
) -> None:
    from gto_dulwich import api
    from gto_dulwich.summary import rows_after

    with api.Registry.open(every_event) as registry:
        (event,) = api.check_ref(registry, tag)
        after = rows_after(registry.artifact(event.artifact), event)
    assert [(row.version.version, row.stages) for row in after] == rows
