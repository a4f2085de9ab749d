"""The CI step: the triggering ref from the environment, step outputs, shallow checkouts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.builder import build_repo
from gto_dulwich.ci import github_output_lines, output_values, ref_from_env
from tests.helpers import run_cli, run_process
from tests.servers import ref_dict, set_origin

DESCRIPTION = "Predicts churn.\nTrained on data=2024 [bold]x[/bold]"

SPEC: dict[str, Any] = {
    "name": "ci",
    "identity": {"name": "CI Tester", "email": "ci@example.com"},
    "branch": "main",
    "commits": [
        {
            "id": "c1",
            "message": "Add model",
            "time": "2024-05-01T10:00:00+00:00",
            "files": {
                "artifacts.yaml": (
                    "churn:\n"
                    "  type: model\n"
                    "  path: models/churn.pkl\n"
                    "  description: |-\n"
                    "    Predicts churn.\n"
                    "    Trained on data=2024 [bold]x[/bold]\n"
                    "plain:\n"
                    "  type: dataset\n"
                    "  path: data/plain.csv\n"
                    "  description: one line\n"
                ),
                "models/churn.pkl": "1",
            },
        },
        {
            "id": "c2",
            "message": "Retrain",
            "time": "2024-05-02T10:00:00+00:00",
            "files": {"models/churn.pkl": "2"},
        },
    ],
    "tags": [
        {"name": "churn@v1.0.0", "target": "c1", "time": "2024-05-01T11:00:00+00:00"},
        {"name": "plain@v0.1.0", "target": "c1", "time": "2024-05-01T11:00:00+00:00"},
        {"name": "churn@v1.1.0", "target": "c2", "time": "2024-05-02T11:00:00+00:00"},
        {"name": "churn#prod#1", "target": "c2", "time": "2024-05-02T12:00:00+00:00"},
        {
            "name": "not-a-registry-tag",
            "target": "c2",
            "time": "2024-05-02T12:00:00+00:00",
            "message": "release",
        },
    ],
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    build_repo(SPEC, path)
    return path


# -- the triggering ref ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_REF": "refs/tags/churn#prod#1"}, "refs/tags/churn#prod#1"),
        ({"GITHUB_REF": "refs/heads/main"}, "refs/heads/main"),
        ({"GITHUB_REF_NAME": "churn@v1.0.0", "GITHUB_REF_TYPE": "tag"}, "refs/tags/churn@v1.0.0"),
        ({"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}, None),
        ({"CI_COMMIT_TAG": "churn@v1.0.0"}, "refs/tags/churn@v1.0.0"),
        ({"GITHUB_REF": "refs/tags/a@v1.0.0", "CI_COMMIT_TAG": "b@v1.0.0"}, "refs/tags/a@v1.0.0"),
        ({}, None),
    ],
)
def test_ref_from_env(env: dict[str, str], expected: str | None) -> None:
    assert ref_from_env(env) == expected


def test_check_ref_reads_github_ref(repo: Path) -> None:
    result = run_cli(["check-ref"], cwd=repo, env={"GITHUB_REF": "refs/tags/churn#prod#1"})
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout == '✅  Stage "prod" was assigned to version "v1.1.0" of artifact "churn"\n'
    )


def test_check_ref_reads_gitlab_tag(repo: Path) -> None:
    result = run_cli(["check-ref", "--version"], cwd=repo, env={"CI_COMMIT_TAG": "churn@v1.0.0"})
    assert (result.exit_code, result.stdout) == (0, "v1.0.0\n")


def test_check_ref_without_ref_outside_ci_is_a_usage_error(repo: Path) -> None:
    result = run_cli(["check-ref"], cwd=repo)
    assert result.exit_code == 2
    assert "GITHUB_REF and CI_COMMIT_TAG are not set" in result.stderr


# -- --fail-if-none ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["refs/tags/not-a-registry-tag", "refs/heads/main", "churn@v9.9.9", "nothing"]
)
def test_fail_if_none(repo: Path, ref: str) -> None:
    quiet = run_cli(["check-ref", ref], cwd=repo)
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    strict = run_cli(["check-ref", ref, "--fail-if-none"], cwd=repo)
    assert strict.exit_code == 1
    assert strict.stdout == ""
    assert strict.stderr == f"❌ '{ref}' is not a registry event\n"


def test_fail_if_none_passes_on_an_event(repo: Path) -> None:
    result = run_cli(["check-ref", "churn@v1.0.0", "--fail-if-none", "--event"], cwd=repo)
    assert (result.exit_code, result.stdout) == (0, "registration\n")


# -- $GITHUB_OUTPUT --------------------------------------------------------------------------


def test_github_output_format_single_and_multi_line() -> None:
    text = github_output_lines({"a": "1", "b": "x=y", "c": "two\nlines"}, delimiter="EOF_1")
    assert text == "a=1\nb=x=y\nc<<EOF_1\ntwo\nlines\nEOF_1\n"


def test_github_output_delimiters_are_unpredictable() -> None:
    first = github_output_lines({"d": "x\ny"})
    second = github_output_lines({"d": "x\ny"})
    assert first != second
    assert re.fullmatch(r"d<<(ghadelimiter_[0-9a-f]{32})\nx\ny\n\1\n", first)


def test_output_values_fill_every_key() -> None:
    assert output_values({"event": "assignment", "stage": None}) == {
        "event": "assignment",
        "name": "",
        "version": "",
        "stage": "",
        "type": "",
        "path": "",
        "description": "",
        "commit": "",
        "tag-message": "",
    }


def test_github_output_file_for_an_assignment(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    out.write_text("earlier=kept\n")
    env = {"GITHUB_REF": "refs/tags/churn#prod#1", "GITHUB_OUTPUT": str(out)}
    result = run_cli(["check-ref", "--github-output", "--event"], cwd=repo, env=env)
    assert (result.exit_code, result.stdout) == (0, "assignment\n")
    text = out.read_text()
    match = re.fullmatch(
        r"earlier=kept\n"
        r"event=assignment\nname=churn\nversion=v1.1.0\nstage=prod\n"
        r"type=model\npath=models/churn.pkl\n"
        r"description<<(ghadelimiter_[0-9a-f]{32})\n(.*)\n\1\n"
        r"commit=([0-9a-f]{40})\n"
        r"tag-message=Assigning stage prod to artifact churn version v1.1.0\n",
        text,
        flags=re.S,
    )
    assert match, text
    assert match.group(2) == DESCRIPTION


def test_github_output_file_for_a_registration(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(out)}
    result = run_cli(["check-ref", "refs/tags/plain@v0.1.0", "--github-output"], cwd=repo, env=env)
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == (
        "event=registration\nname=plain\nversion=v0.1.0\nstage=\n"
        "type=dataset\npath=data/plain.csv\ndescription=one line\n"
        f"commit={_commit_of(repo, 'plain@v0.1.0')}\n"
        "tag-message=Registering artifact plain version v0.1.0\n"
    )


def _commit_of(repo: Path, tag: str) -> str:
    with Repo(str(repo)) as opened:
        obj = opened.object_store[opened.refs[Ref(b"refs/tags/" + tag.encode())]]
        assert isinstance(obj, Tag)
        return obj.object[1].decode()


def test_dotenv_report_for_gitlab(repo: Path, tmp_path: Path) -> None:
    dotenv = tmp_path / "gto.env"
    env = {"CI_COMMIT_TAG": "churn#prod#1"}
    result = run_cli(["check-ref", "--dotenv", str(dotenv), "--event"], cwd=repo, env=env)
    assert (result.exit_code, result.stdout) == (0, "assignment\n")
    lines = dotenv.read_text().splitlines()
    # GitLab's rule for dotenv keys; one line per value.
    assert all(re.fullmatch(r"[A-Za-z0-9_]+=.*", line) for line in lines), lines
    assert lines[6:] == [
        "description=Predicts churn. Trained on data=2024 [bold]x[/bold]",
        f"commit={_commit_of(repo, 'churn@v1.1.0')}",
        "tag_message=Assigning stage prod to artifact churn version v1.1.0",
    ]


def test_github_output_not_written_for_non_events(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "github_output"
    env = {"GITHUB_OUTPUT": str(out)}
    result = run_cli(["check-ref", "not-a-registry-tag", "--github-output"], cwd=repo, env=env)
    assert result.exit_code == 0
    assert not out.exists()


def test_github_output_without_the_variable_warns(repo: Path) -> None:
    result = run_cli(["check-ref", "churn@v1.0.0", "--github-output", "--name"], cwd=repo)
    assert (result.exit_code, result.stdout) == (0, "churn\n")
    assert result.stderr == "warning: GITHUB_OUTPUT is not set; no step outputs written\n"


# -- shallow checkouts with lightweight tags ---------------------------------------------------


def _ci_checkout(origin: Path, dest: Path, trigger: str) -> bytes:
    """What actions/checkout leaves: one shallow commit, the trigger tag lightweight, no others."""
    build_repo({k: v for k, v in SPEC.items() if k != "tags"}, dest)
    with Repo(str(origin)) as server:
        tag = server.object_store[server.refs[Ref(b"refs/tags/" + trigger.encode())]]
        assert isinstance(tag, Tag)
        commit = tag.object[1]
    with Repo(str(dest)) as repo:
        head = repo.refs[Ref(b"HEAD")]
        assert isinstance(repo.object_store[head], Commit)
        repo.refs[Ref(b"refs/tags/" + trigger.encode())] = ObjectID(commit)
        (Path(repo.controldir()) / "shallow").write_bytes(bytes(head) + b"\n")
    set_origin(dest, origin.as_uri())
    return bytes(commit)


def test_lightweight_trigger_tag_is_reported(repo: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    _ci_checkout(repo, checkout, "churn#prod#1")
    env = {"GITHUB_REF": "refs/tags/churn#prod#1"}
    result = run_cli(["check-ref"], cwd=checkout, env=env)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        "warning: tag 'churn#prod#1' is a lightweight tag here, so it records no registry event "
        "(CI checkouts often make them); rerun with --fetch-tags to fetch the annotated tags "
        "from origin\n"
    )
    strict = run_cli(["check-ref", "--fail-if-none"], cwd=checkout, env=env)
    assert strict.exit_code == 1


def test_fetch_tags_repairs_the_checkout_without_git(repo: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    _ci_checkout(repo, checkout, "churn#prod#1")
    out = tmp_path / "out"
    env = {"GITHUB_REF": "refs/tags/churn#prod#1", "GITHUB_OUTPUT": str(out)}
    result = run_process(
        ["check-ref", "--fetch-tags", "--github-output", "--json"], cwd=checkout, env=env
    )
    assert result.exit_code == 0, result.stderr
    assert '"event": "assignment"' in result.stdout
    assert result.stderr == (
        "Replaced lightweight tag 'churn#prod#1' with the annotated tag from origin\n"
    )
    assert "event=assignment\n" in out.read_text()
    theirs, ours = ref_dict(repo), ref_dict(checkout)
    for name, sha in theirs.items():
        if name.startswith(b"refs/tags/churn"):
            assert ours[name] == sha
    assert b"refs/tags/plain@v0.1.0" not in ours  # only the artifact's tags were fetched
    # History stays shallow-safe: nothing was deepened or cut.
    assert (checkout / ".git" / "shallow").read_bytes().count(b"\n") == 1


def test_missing_tag_in_a_shallow_clone_is_reported(repo: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    _ci_checkout(repo, checkout, "churn#prod#1")
    result = run_cli(["check-ref", "churn@v1.0.0"], cwd=checkout)
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: tag 'churn@v1.0.0' is not in this shallow clone; rerun with --fetch-tags "
        "to fetch the annotated tags from origin\n"
    )
    fixed = run_cli(["check-ref", "churn@v1.0.0", "--fetch-tags", "--version"], cwd=checkout)
    assert (fixed.exit_code, fixed.stdout) == (0, "v1.0.0\n")


def test_fetch_tags_never_replaces_a_local_annotated_tag(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    other = dict(SPEC)
    other["tags"] = [{**SPEC["tags"][0], "message": "a different tag object"}]
    build_repo(other, clone)
    set_origin(clone, repo.as_uri())
    before = ref_dict(clone)[b"refs/tags/churn@v1.0.0"]
    result = run_cli(["check-ref", "churn@v1.0.0", "--fetch-tags", "--name"], cwd=clone)
    assert (result.exit_code, result.stdout) == (0, "churn\n")
    assert "differs from origin's; kept the local one" in result.stderr
    assert ref_dict(clone)[b"refs/tags/churn@v1.0.0"] == before


def test_fetch_tags_from_an_unreachable_origin_is_one_line(repo: Path, tmp_path: Path) -> None:
    set_origin(repo, "http://127.0.0.1:9/none.git")
    result = run_cli(["check-ref", "churn@v1.0.0", "--fetch-tags"], cwd=repo)
    assert result.exit_code == 1
    assert result.stderr.startswith("❌ cannot reach http://127.0.0.1:9/none.git")
    assert len(result.stderr.splitlines()) == 1
