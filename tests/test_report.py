"""``gto report``: the records, the site on disk, several repositories, hostile text.

What the pages do in a browser is in ``test_report_browser.py``; here the site is
checked as files: what it holds, that it is written atomically, that repository
text is escaped, and that an unreachable repository is named without sinking
the others.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich import site
from gto_dulwich.builder import build_repo
from gto_dulwich.events import Event, EventKind
from gto_dulwich.report import (
    Report,
    build_report,
    commit_url,
    periods,
    tag_url,
    web_base,
)
from tests.helpers import build_fixture, run_cli
from tests.servers import closed_port, serve_http, set_origin

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
RLO = "\u202e"
ANSI = "\x1b[31m"


def hostile_spec() -> dict[str, Any]:
    """A registry whose every free-text field tries to become markup or move text."""
    description = f"{SCRIPT} {IMG} quote\" apostrophe' {RLO}gnp.exe {ANSI}red"
    artifacts = (
        "evil:\n"
        "  type: model\n"
        f"  path: {json.dumps('models/' + SCRIPT + RLO + '.pkl')}\n"
        f"  description: {json.dumps(description)}\n"
        "  labels: [x-label]\n"
    )
    return {
        "commits": [
            {
                "id": "c1",
                "message": f"commit {SCRIPT}",
                "time": "2024-01-01T00:00:00+00:00",
                "files": {"artifacts.yaml": artifacts},
            }
        ],
        "tags": [
            {
                "name": "evil@v1.0.0",
                "target": "c1",
                "time": "2024-01-02T00:00:00+00:00",
                "message": f"{SCRIPT}\n{IMG}\n{ANSI}red{RLO}txet\u200b\x07",
            },
            {
                "name": "evil#prod#1",
                "target": "c1",
                "time": "2024-01-03T00:00:00+00:00",
                "message": f"</td></tr></table>{SCRIPT}",
            },
        ],
    }


def _event(kind: EventKind, at: int, version: str | None, stage: str | None = None) -> Event:
    return Event(
        kind,
        "a",
        f"t{at}",
        "c" * 40,
        datetime.fromtimestamp(at, UTC),
        "x",
        "x@example.com",
        "",
        version,
        stage,
    )


def test_periods_hand_a_stage_back_to_the_previous_live_assignment() -> None:
    A, U, D, X = (
        EventKind.ASSIGNMENT,
        EventKind.UNASSIGNMENT,
        EventKind.DEREGISTRATION,
        EventKind.DEPRECATION,
    )
    events = [
        _event(A, 10, "v1", "prod"),
        _event(A, 20, "v2", "prod"),
        _event(U, 30, "v2", "prod"),  # prod goes back to v1
        _event(A, 35, "v2", "dev"),
        _event(D, 40, "v1"),  # v1's stages end
        _event(A, 50, "v3", "prod"),
        _event(X, 60, None),  # everything ends
        _event(A, 70, "v3", "dev"),  # still open
    ]
    got = [(p.stage, p.version, p.start, p.end) for p in periods(reversed(events))]
    assert got == [
        ("dev", "v2", 35, 60),
        ("dev", "v3", 70, None),
        ("prod", "v1", 10, 20),
        ("prod", "v2", 20, 30),
        ("prod", "v1", 30, 40),
        ("prod", "v3", 50, 60),
    ]


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://github.com/org/models.git", "https://github.com/org/models"),
        ("https://user:token@github.com/org/models", "https://github.com/org/models"),
        ("git@github.com:org/models.git", "https://github.com/org/models"),
        ("ssh://git@github.com/org/models.git", "https://github.com/org/models"),
        ("https://gitlab.com/group/sub/models.git", "https://gitlab.com/group/sub/models"),
        ("git@gitlab.example.com:g/m.git", "https://gitlab.example.com/g/m"),
        ("https://example.com/org/models.git", None),
        ("http://127.0.0.1:8000/", None),
        ("/srv/git/models", None),
        ("https://github.com/org/models.git/../../evil", None),
        (None, None),
    ],
)
def test_web_links_only_for_known_hosts(url: str | None, base: str | None) -> None:
    assert web_base(url) == base


def test_commit_and_tag_links_quote_the_tag() -> None:
    assert commit_url("https://github.com/o/r", "abc") == "https://github.com/o/r/commit/abc"
    assert tag_url("https://github.com/o/r", "rf#prod#3") == (
        "https://github.com/o/r/releases/tag/rf%23prod%233"
    )
    assert (
        tag_url("https://gitlab.com/o/r", "rf@v1.0.0")
        == "https://gitlab.com/o/r/-/tags/rf%40v1.0.0"
    )


def test_showcase_site_and_json(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "site"
    result = run_cli(["report", "-r", str(repo), "-o", str(out), "--json", "--title", "Models"])
    assert result.exit_code == 0, result.stderr
    assert "Wrote 3 artifacts from 1 of 1 repositories" in result.stdout
    data = json.loads((out / "registry.json").read_text())
    by_name = {a["name"]: a for a in data["artifacts"]}
    assert sorted(by_name) == ["features", "nn", "rf"]
    rf = by_name["rf"]
    assert rf["latest"] == "v1.2.4"
    assert rf["stages"] == {"production": "v1.2.3", "staging": "v1.2.4"}
    assert rf["type"] == "model"
    assert rf["path"] == "models/random-forest.pkl"
    assert [v["version"] for v in rf["versions"]] == ["v1.2.4", "v1.2.3"]
    assert [e["tag"] for e in rf["events"]][:2] == ["rf#production#4", "rf#production#3"]
    assert rf["last_event"]["tag"] == "rf#production#4"
    assert rf["storage"] is None
    assert not by_name["features"]["registered"]
    assert data["stages"] == ["production", "staging"]
    index = (out / "index.html").read_text()
    assert "<title>Models</title>" in index
    for artifact in data["artifacts"]:
        page = (out / artifact["page"]).read_text()
        assert f"<h1>{artifact['name']}" in page
        assert f'href="{artifact["page"]}"' in index
    # Nothing outside the site is referenced: no http(s) URL in any src or href.
    for page in [index, *(p.read_text() for p in (out / "a").iterdir())]:
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
        assert "'unsafe-inline'" not in page
        assert "default-src 'none'" in page


def test_csp_hashes_match_the_inline_style_and_script(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "site"
    assert run_cli(["report", "-r", str(repo), "-o", str(out)]).exit_code == 0
    for path in [out / "index.html", *(out / "a").iterdir()]:
        page = path.read_text()
        style = re.search(r"<style>(.*?)</style>", page, re.S)
        script = re.search(r"<script>(.*?)</script>", page, re.S)
        assert style
        assert script
        assert f"style-src '{site.csp_hash(style[1])}'" in page
        assert f"script-src '{site.csp_hash(script[1])}'" in page


def test_hostile_text_is_escaped_and_made_visible(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_repo(hostile_spec(), repo)
    out = tmp_path / "site"
    result = run_cli(["report", "-r", str(repo), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    pages = [(out / "index.html").read_text(), *(p.read_text() for p in (out / "a").iterdir())]
    for page in pages:
        assert "<script>window" not in page
        assert "<img" not in page
        assert RLO not in page
        assert "\x1b" not in page
        assert "\x07" not in page
        assert page.count("<script>") == 1  # ours
    artifact = next((out / "a").iterdir()).read_text()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in artifact
    assert "\\u202etxet" in artifact
    assert "\\u001b[31m" in artifact
    assert "\\u200b" in artifact
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in artifact
    assert "quote&#34; apostrophe&#39;" in artifact
    # The JSON keeps the text exactly: escaping is the page's business.
    data = json.loads((out / "registry.json").read_text())
    assert data["artifacts"][0]["versions"][0]["message"].startswith(SCRIPT)


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "docs"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = run_cli(["report", "-r", str(repo), "-o", str(out)])
    assert result.exit_code == 1
    assert "was not written by 'gto report'" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "repo"]


def test_a_failed_build_leaves_the_previous_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "site"
    assert run_cli(["report", "-r", str(repo), "-o", str(out)]).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real = site.render

    def half_then_fail(report: Report, folder: Path, **kwargs: Any) -> site.Written:
        real(report, folder, **kwargs)
        (folder / "index.html").write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(site, "render", half_then_fail)
    result = run_cli(["report", "-r", str(repo), "-o", str(out)])
    assert result.exit_code == 1
    assert "Cannot write the report" in result.stderr
    assert "No space left" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "site"]  # no temp folder left


def test_a_second_run_replaces_the_site(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    out = tmp_path / "site"
    assert run_cli(["report", "-r", str(repo), "-o", str(out), "--json"]).exit_code == 0
    assert run_cli(["report", "-r", str(repo), "-o", str(out)]).exit_code == 0
    assert not (out / "registry.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "site"]


def test_large_registries_split_the_index(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    built = build_report([str(repo)], title="t", generated_at="2026-01-01T00:00:00+00:00")
    out = tmp_path / "site"
    out.mkdir()
    written = site.render(built, out, as_json=False, page_size=2)
    assert written.pages == 2
    first, second = (out / "index.html").read_text(), (out / "index-2.html").read_text()
    assert first.count("<tr data-stage") == 2
    assert second.count("<tr data-stage") == 1
    assert 'href="index-2.html"' in first
    assert 'href="index.html"' in second


def test_github_origin_links_commits_and_tags(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    set_origin(repo, "https://x-access-token:secret@github.com/org/models.git")
    out = tmp_path / "site"
    assert run_cli(["report", "-r", str(repo), "-o", str(out), "--json"]).exit_code == 0
    data = json.loads((out / "registry.json").read_text())
    assert data["repositories"][0]["web"] == "https://github.com/org/models"
    rf = next(a for a in data["artifacts"] if a["name"] == "rf")
    page = (out / rf["page"]).read_text()
    commit = rf["versions"][0]["commit"]
    assert f'href="https://github.com/org/models/commit/{commit}"' in page
    assert 'href="https://github.com/org/models/releases/tag/rf%23production%234"' in page
    assert "secret" not in page


def test_several_repositories_one_unreachable(tmp_path: Path) -> None:
    """The showcase and a second registry over HTTP, a third that does not answer."""
    build_fixture("showcase", tmp_path / "showcase")
    build_fixture("every_event", tmp_path / "second")
    dead = f"http://127.0.0.1:{closed_port()}/gone.git"
    out = tmp_path / "site"
    with serve_http(tmp_path / "showcase") as one, serve_http(tmp_path / "second") as two:
        args = ["report", "-r", one.url, "-r", two.url, "-r", dead, "-o", str(out), "--json"]
        result = run_cli(args)
        assert result.exit_code == 1
        assert f"Cannot read repository '{dead}'" in result.stderr
        assert "Wrote" in result.stdout
        assert "from 2 of 3 repositories" in result.stdout
        kept = run_cli([*args, "--keep-going"])
        assert kept.exit_code == 0, kept.stderr
        assert f"Cannot read repository '{dead}'" in kept.stderr
    data = json.loads((out / "registry.json").read_text())
    repos = data["repositories"]
    assert [r["source"] for r in repos] == [one.url, two.url, dead]
    assert [r["error"] is None for r in repos] == [True, True, False]
    held = {a["repo"] for a in data["artifacts"]}
    assert held == {0, 1}
    assert {a["name"] for a in data["artifacts"] if a["repo"] == 0} == {"rf", "nn", "features"}
    index = (out / "index.html").read_text()
    assert "Repositories that could not be read" in index
    assert dead in index


def test_missing_local_repository_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["report", "-r", str(tmp_path / "nope"), "-o", str(tmp_path / "site")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "Cannot read repository" in result.stderr
    assert (tmp_path / "site" / "index.html").exists()  # the page says so too


def test_pages_workflow_runs_a_real_report(tmp_path: Path) -> None:
    """examples/gto-report-pages.yml: YAML, triggered by registry tags, its gto call works."""
    import shlex

    from gto_dulwich.annotations import load_yaml

    text = (
        Path(__file__).resolve().parent.parent / "examples" / "gto-report-pages.yml"
    ).read_text()
    workflow: Any = load_yaml(text.encode())
    assert workflow["on"]["push"]["tags"] == ["*@*", "*#*"]
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s["run"] for s in steps if "run" in s and s["run"].startswith("gto ")]
    assert len(runs) == 1
    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    line = runs[0].replace("https://github.com/${{ github.repository }}.git", str(repo))
    args = shlex.split(line)[1:]
    result = run_cli(args, cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    upload = next(s for s in steps if "upload-pages-artifact" in s.get("uses", ""))
    assert (tmp_path / upload["with"]["path"] / "index.html").exists()
    assert (tmp_path / upload["with"]["path"] / "registry.json").exists()


def test_browser_tests_fail_under_ci_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import browser

    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        browser.require_browser()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        browser.require_browser()


def test_storage_hook_is_shown_when_an_enrichment_sets_it(tmp_path: Path) -> None:
    from dataclasses import replace

    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    built = build_report([str(repo)], title="t", generated_at="2026-01-01T00:00:00+00:00")
    rf = next(a for a in built.artifacts if a.name == "rf")
    assert rf.storage is None
    stored = replace(rf, storage="s3://bucket/models<b>/rf")
    others = [a for a in built.artifacts if a.name != "rf"]
    out = tmp_path / "site"
    site.write_site(replace(built, artifacts=[stored, *others]), out, as_json=True)
    page = (out / rf.page).read_text()
    assert "<dt>Storage</dt>" in page
    assert "s3://bucket/models&lt;b&gt;/rf" in page
    assert "<dt>Storage</dt>" not in (out / others[0].page).read_text()


def test_a_path_that_is_not_utf8_is_shown_not_fatal(tmp_path: Path) -> None:
    import os

    name = os.fsdecode(b"repo-\xff")  # a lone surrogate in Python
    build_fixture("showcase", tmp_path / name)
    out = tmp_path / "site"
    result = run_cli(["report", "-r", str(tmp_path / name), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    assert "repo-\\udcff" in (out / "index.html").read_text()
    data = json.loads((out / "registry.json").read_text())
    assert data["repositories"][0]["name"] == name


def test_a_dvc_tracked_path_shows_its_storage_address(tmp_path: Path) -> None:
    """The enrichments reach the page: a path that is a DVC output at HEAD shows the address
    `dvc get --show-url` prints (the same string `gto describe --url` gives)."""
    repo = tmp_path / "repo"
    build_fixture("dvc/get_started", repo)
    url = run_cli(["describe", "pool-segmentation", "--url", "-r", str(repo)])
    assert url.exit_code == 0, url.stderr
    assert url.stdout.startswith("https://remote.dvc.org/get-started-pools/files/md5/")
    out = tmp_path / "site"
    result = run_cli(["report", "-r", str(repo), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads((out / "registry.json").read_text())
    (pool,) = data["artifacts"]
    assert pool["storage"] == url.stdout.strip()
    page = (out / pool["page"]).read_text()
    assert f'<dt>Storage</dt><dd class="mono">{url.stdout.strip()}</dd>' in page
