"""Writing to the registry: tags as GTO writes them, refusals that change nothing, races."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dulwich.objects import Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich import api
from gto_dulwich.errors import GTOError
from tests.helpers import Result, build_fixture, run_cli

IDENTITY = {"GIT_COMMITTER_NAME": "Writer", "GIT_COMMITTER_EMAIL": "writer@example.com"}


def at(second: int) -> dict[str, str]:
    """Environment for a write at a fixed, increasing time (no sleeps)."""
    return {**IDENTITY, "GIT_COMMITTER_DATE": f"{1_800_000_000 + second} +0000"}


def snapshot(path: Path) -> dict[bytes, bytes]:
    """Every ref and what it points to."""
    with Repo(str(path)) as repo:
        return {bytes(name): bytes(sha) for name, sha in repo.get_refs().items()}


def tag_object(path: Path, name: str) -> Tag:
    with Repo(str(path)) as repo:
        obj = repo[repo.refs[Ref(b"refs/tags/" + name.encode())]]
        assert isinstance(obj, Tag)
        obj.check()  # dulwich's own validation of the object's format
        return obj


@pytest.fixture
def showcase(tmp_path: Path) -> Path:
    return build_fixture("showcase", tmp_path / "repo").path


def gto(path: Path, *args: str, second: int = 0) -> Result:
    return run_cli(list(args), cwd=path, env={"GTO_EMOJIS": "false", **at(second)})


def test_register_writes_gtos_tag_and_prints_gtos_lines(showcase: Path) -> None:
    result = gto(showcase, "register", "rf", "HEAD~1", "--bump-minor")
    # HEAD~1 already holds v1.2.3, so GTO refuses; a fresh artifact works.
    assert result.exit_code == 1
    assert "'rf' is already registered in this commit with version 'v1.2.3'" in result.stderr
    result = gto(showcase, "register", "new", "--version", "v1.0.0", "-m", "First cut")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Created git tag 'new@v1.0.0' that registers version\n"
        "To push the changes upstream, run:\n"
        "    git push origin new@v1.0.0\n"
    )
    tag = tag_object(showcase, "new@v1.0.0")
    with Repo(str(showcase)) as repo:
        assert tag.object[1] == repo.head()
    assert (tag.tagger, tag.tag_time, tag.tag_timezone) == (
        b"Writer <writer@example.com>",
        1_800_000_000,
        0,
    )
    assert tag.message == b"First cut\n"
    check = json.loads(gto(showcase, "check-ref", "new@v1.0.0", "--json").stdout)
    assert (check["event"], check["version"], check["author"]) == (
        "registration",
        "v1.0.0",
        "Writer",
    )


def test_auto_version_bumps_latest(showcase: Path) -> None:
    assert gto(showcase, "register", "m").stdout.startswith("Created git tag 'm@v0.0.1'")
    result = gto(showcase, "register", "m", "HEAD~1", "--bump-minor", second=1)
    assert result.stdout.startswith("Created git tag 'm@v0.1.0'")
    result = gto(showcase, "register", "m", "HEAD~2", "--bump-major", second=2)
    assert result.stdout.startswith("Created git tag 'm@v1.0.0'")


def test_counter_form_and_quoting(showcase: Path) -> None:
    result = gto(showcase, "register", "m3", "--simple", "false")
    assert result.stdout.splitlines()[0] == "Created git tag 'm3@v0.0.1#1' that registers version"
    assert result.stdout.splitlines()[2] == "    git push origin 'm3@v0.0.1#1'"


def test_assign_registers_first_when_needed(showcase: Path) -> None:
    result = gto(showcase, "assign", "nn2", "HEAD", "--stage", "prod")
    assert result.stdout == (
        "Created git tag 'nn2@v0.0.1' that registers version\n"
        "To push the changes upstream, run:\n"
        "    git push origin nn2@v0.0.1\n"
        "Created git tag 'nn2#prod#1' that assigns stage to version 'v0.0.1'\n"
        "To push the changes upstream, run:\n"
        "    git push origin 'nn2#prod#1'\n"
    )
    assert gto(showcase, "show", "nn2#prod", "--version").stdout == "v0.0.1\n"


def test_assign_continues_the_artifacts_counter(showcase: Path) -> None:
    # The showcase's rf tags go up to #4; counters are per artifact across stages.
    result = gto(showcase, "assign", "rf", "--version", "v1.2.4", "--stage", "qa")
    assert result.stdout.startswith("Created git tag 'rf#qa#5'")


def test_deprecate_forms(showcase: Path) -> None:
    out = gto(showcase, "deprecate", "rf", "v1.2.3", "production", second=1).stdout
    assert out.startswith(
        "Created git tag 'rf#production!#5' that unassigns stage from version 'v1.2.3'\n"
    )
    assert gto(showcase, "show", "rf#production", "--version").stdout == "v1.2.4\n"
    out = gto(showcase, "deprecate", "rf", "v1.2.4", second=2).stdout
    assert out.startswith("Created git tag 'rf@v1.2.4!' that deregisters version\n")
    assert gto(showcase, "latest", "rf").stdout == "v1.2.3\n"
    out = gto(showcase, "deprecate", "rf", second=3).stdout
    assert out.startswith("Created git tag 'rf@deprecated' that deprecates artifact\n")
    assert "rf" not in json.loads(gto(showcase, "show", "--json").stdout)
    refused = gto(showcase, "deprecate", "rf", second=4)
    assert (refused.exit_code, refused.stderr.strip()) == (1, "Artifact was deprecated already")


def test_delete_removes_exactly_the_listed_tags(showcase: Path) -> None:
    before = snapshot(showcase)
    result = gto(showcase, "deprecate", "rf", "v1.2.3", "production", "--delete")
    assert result.stdout == (
        "Deleted git tag 'rf#production#1'\n"
        "To push the changes upstream, run:\n"
        "    git push --delete origin 'rf#production#1'\n"
        "Deleted git tag 'rf#production#4'\n"
        "To push the changes upstream, run:\n"
        "    git push --delete origin 'rf#production#4'\n"
    )
    after = snapshot(showcase)
    assert set(before) - set(after) == {b"refs/tags/rf#production#1", b"refs/tags/rf#production#4"}
    assert all(after[ref] == before[ref] for ref in after)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register", "bad name"], "Invalid value 'bad name'"),
        (["register", "rf"], "'rf' is already registered in this commit with version 'v1.2.4'"),
        (["register", "x", "--version", "1.0.0"], "Supplied version '1.0.0' cannot be parsed"),
        (
            ["register", "x", "--version", "v1.0.0", "--bump-major"],
            "Need to specify either version or single bump argument",
        ),
        (
            ["register", "x", "--bump-patch"],
            "Can't apply bump, because this is the first version being registered",
        ),
        (
            ["register", "rf", "HEAD~2", "--version", "v1.2.3"],
            "Version 'v1.2.3' already was registered.",
        ),
        (["register", "x", "HEAD~7"], "unknown Git revision 'HEAD~7'"),
        (
            ["assign", "rf", "--version", "v9.9.9", "--stage", "prod"],
            "Version 'v9.9.9' is not registered",
        ),
        (
            ["assign", "rf", "--version", "v1.2.3", "--stage", "production"],
            "Version 'v1.2.3' is already in stage 'production'. Use the '--force' flag",
        ),
        (
            ["assign", "rf", "HEAD", "--version", "v2.0.0", "--stage", "prod"],
            "Can't register 'v2.0.0', since 'v1.2.4' is registered already at this ref",
        ),
        (
            ["assign", "x", "HEAD", "--version", "v2.0.0", "--sr", "--stage", "prod"],
            "You either need to supply version name or skip registration",
        ),
        (
            ["assign", "x", "HEAD", "--version", "2.0", "--stage", "prod"],
            "Version '2.0' is not valid. Example of valid version: 'v1.0.0'",
        ),
        (
            ["assign", "rf", "--version", "v1.2.3", "--stage", "bad stage"],
            "Invalid value 'bad stage'",
        ),
        (["deprecate", "nope"], "Cannot find artifact 'nope'"),
        (["deprecate", "rf", "v7.0.0"], "No versions found for 'rf'"),
        (["deprecate", "rf", "1.2.3"], "Version '1.2.3' is not valid"),
        (
            ["deprecate", "rf", "v1.2.3", "staging"],
            "Stage 'staging' is not assigned to a version 'v1.2.3'",
        ),
        (
            ["deprecate", "rf", "--force", "--simple", "true"],
            "Can't use 'force' with 'simple=True'",
        ),
    ],
)
def test_refused_writes_change_nothing(showcase: Path, args: list[str], message: str) -> None:
    before = snapshot(showcase)
    result = gto(showcase, *args)
    assert result.exit_code == 1, result.stdout
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(showcase) == before


def test_assign_that_must_register_writes_nothing_when_the_stage_is_refused(
    tmp_path: Path,
) -> None:
    """GTO bug 6: it kept the registration tag when the assignment then failed."""
    built = build_fixture("showcase", tmp_path / "repo")
    (built.path / ".gto").write_text("stages: [dev]\n")
    before = snapshot(built.path)
    result = gto(built.path, "assign", "brand-new", "HEAD", "--stage", "prod")
    assert (result.exit_code, "Allowed stages are: '['dev']'" in result.stderr) == (1, True)
    assert snapshot(built.path) == before


def test_existing_tag_is_never_overwritten(showcase: Path) -> None:
    first = gto(showcase, "register", "m")
    assert first.exit_code == 0
    value = snapshot(showcase)[b"refs/tags/m@v0.0.1"]
    again = gto(showcase, "register", "m", "--force", second=5)
    assert (again.exit_code, again.stderr.strip()) == (1, "tag 'm@v0.0.1' already exists")
    assert snapshot(showcase)[b"refs/tags/m@v0.0.1"] == value


def test_missing_identity_is_a_clear_error(showcase: Path, tmp_path: Path) -> None:
    before = snapshot(showcase)
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "none"),
        "EMAIL": "",
    }
    # The fixture writes user.name/email into .git/config; remove them for this test.
    config = showcase / ".git" / "config"
    config.write_text(
        "\n".join(
            line
            for line in config.read_text().splitlines()
            if "name =" not in line and "email =" not in line
        )
        + "\n"
    )
    result = run_cli(["register", "m"], cwd=showcase, env=env)
    assert result.exit_code == 1
    assert "Tagger identity unknown" in result.stderr
    assert snapshot(showcase) == before


def test_explicit_author_overrides_configuration(showcase: Path) -> None:
    event = api.register(showcase, "m", author="Bot", author_email="bot@example.com")
    assert (event.author, event.author_email, event.tag) == ("Bot", "bot@example.com", "m@v0.0.1")
    assert tag_object(showcase, "m@v0.0.1").tagger == b"Bot <bot@example.com>"


def test_api_write_functions_return_the_event_and_print_nothing(
    showcase: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = api.assign(showcase, "rf", "qa", version="v1.2.3")
    assert (event.kind.value, event.tag, event.version) == ("assignment", "rf#qa#5", "v1.2.3")
    gone = api.unassign(showcase, "rf", version="v1.2.3", stage="qa", delete=True)
    assert gone is None
    with pytest.raises(GTOError):
        api.deregister(showcase, "rf", version="v0.0.9")
    assert capsys.readouterr() == ("", "")


def test_write_without_git_on_path(showcase: Path) -> None:
    from tests.helpers import run_process

    result = run_process(["register", "m"], cwd=showcase, env=at(0))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Created git tag 'm@v0.0.1'")


def _race(path: Path, argv_list: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start all processes at once and wait for all of them."""
    script = str(Path(sys.executable).parent / "gto")
    env = {**os.environ, **at(0), "GTO_EMOJIS": "false"}
    procs = [
        subprocess.Popen(
            [script, *argv],
            cwd=path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argv_list
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_concurrent_assignments_get_distinct_counters(showcase: Path) -> None:
    stages = [f"s{i}" for i in range(8)]
    results = _race(
        showcase, [["assign", "rf", "--version", "v1.2.4", "--stage", s] for s in stages]
    )
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    tags = [r.stdout.split("'")[1] for r in results]
    assert len(set(tags)) == 8
    assert sorted(int(t.rsplit("#", 1)[1]) for t in tags) == list(range(5, 13))
    history = json.loads(gto(showcase, "history", "rf", "--json").stdout)
    assigned = {row["ref"] for row in history if row["event"] == "assignment"}
    assert set(tags) <= assigned


def test_concurrent_registrations_of_one_version_one_wins(showcase: Path) -> None:
    results = _race(showcase, [["register", "race", "--version", "v1.0.0"]] * 2)
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 1)
    assert loser.stderr.strip() in {
        "tag 'race@v1.0.0' already exists",
        "'race' is already registered in this commit with version 'v1.0.0'",
    }
    assert "Traceback" not in loser.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="no git binary to cross-check with")
def test_written_tags_pass_git_fsck(showcase: Path) -> None:
    gto(showcase, "register", "m")
    gto(showcase, "assign", "m", "--version", "v0.0.1", "--stage", "prod", second=1)
    gto(showcase, "deprecate", "m", second=2)
    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=showcase, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:short) %(*objecttype)", "refs/tags/m*"],
        cwd=showcase,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert "m@v0.0.1 commit" in listed


# -- push and artifacts.yaml through the CLI --------------------------------------


@pytest.mark.parametrize("transport", ["file", "http"])
def test_push_lands_exactly_the_created_tag(tmp_path: Path, transport: str) -> None:
    from tests.servers import make_pair, ref_dict, serve_http, set_origin

    pair = make_pair(tmp_path)
    before = ref_dict(pair.remote)
    with contextlib.ExitStack() as stack:
        if transport == "http":
            server = stack.enter_context(serve_http(pair.remote))
            set_origin(pair.local, server.url)
        result = gto(pair.local, "register", "model", "--push")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == (
            "Created git tag 'model@v0.0.1' that registers version\n"
            "Running `git push origin model@v0.0.1`\n"
            "Successfully pushed git tag model@v0.0.1 on remote.\n"
        )
        after = ref_dict(pair.remote)
        assert set(after) - set(before) == {b"refs/tags/model@v0.0.1"}
        assert after[b"refs/tags/model@v0.0.1"] == snapshot(pair.local)[b"refs/tags/model@v0.0.1"]
        deleted = gto(pair.local, "deprecate", "model", "v0.0.1", "--delete", "--push", second=1)
        assert deleted.exit_code == 0, deleted.stderr
        assert deleted.stdout.splitlines()[-1] == (
            "Successfully deleted git tag model@v0.0.1 on remote."
        )
        assert ref_dict(pair.remote) == before


def test_rejected_push_keeps_the_local_tag_and_fails_in_one_line(tmp_path: Path) -> None:
    from tests.servers import make_pair, ref_dict

    pair = make_pair(tmp_path)
    # The remote already has model@v0.0.1, made elsewhere (another tag object).
    (tmp_path / "other").mkdir()
    other = make_pair(tmp_path / "other", url=pair.remote.as_uri())
    assert gto(other.local, "register", "model", "--push", second=5).exit_code == 0
    remote_before = ref_dict(pair.remote)
    result = gto(pair.local, "register", "model", "--push")
    assert result.exit_code == 1
    assert result.stderr.startswith("The command `git push origin model@v0.0.1` failed.")
    assert len(result.stderr.strip().splitlines()) == 1
    assert b"refs/tags/model@v0.0.1" in snapshot(pair.local)
    assert ref_dict(pair.remote) == remote_before


def test_annotate_and_remove_edit_artifacts_yaml(showcase: Path) -> None:
    result = gto(
        showcase,
        "annotate",
        "new",
        "--type",
        "model",
        "--path",
        "models/random-forest.pkl",
        "--allow-same-path",
        "--label",
        "b",
        "--label",
        "a",
        "-d",
        "Fresh",
        "-c",
        '{"k": 1}',
    )
    assert result.exit_code == 0, result.stderr
    text = (showcase / "artifacts.yaml").read_text()
    assert text.endswith(
        "new:\n  type: model\n  path: models/random-forest.pkl\n  labels:\n    - a\n    - b\n"
        "  description: Fresh\n  custom:\n    k: 1\n"
    )
    refused = gto(showcase, "annotate", "new", "--type", "bad type")
    assert (refused.exit_code, (showcase / "artifacts.yaml").read_text()) == (1, text)
    assert gto(showcase, "remove", "new").exit_code == 0
    assert "new:" not in (showcase / "artifacts.yaml").read_text()
    missing = gto(showcase, "remove", "new")
    assert (missing.exit_code, missing.stderr.strip()) == (
        1,
        "Cannot find artifact 'new' in artifacts.yaml",
    )


def test_a_stale_lock_is_named_and_left_alone(showcase: Path) -> None:
    lock = showcase / ".git" / "refs" / "tags" / "m@v0.0.1.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("left by a crashed writer\n")
    before = snapshot(showcase)
    result = run_cli(
        ["register", "m"], cwd=showcase, env={**at(0), "GTO_DULWICH_LOCK_TIMEOUT": "0.2"}
    )
    assert result.exit_code == 1
    assert str(lock) in result.stderr
    assert "locked by another process" in result.stderr
    assert lock.read_text() == "left by a crashed writer\n"
    assert snapshot(showcase) == before


def test_a_tag_name_that_clashes_with_a_directory_is_refused(showcase: Path) -> None:
    assert gto(showcase, "register", "a", "--version", "v1.0.0").exit_code == 0
    # Stage names may hold '/': refs/tags/a#x/y#2 makes refs/tags/a#x a directory.
    assign = gto(showcase, "assign", "a", "--version", "v1.0.0", "--stage", "x/y", second=1)
    assert assign.exit_code == 0, assign.stderr
    before = snapshot(showcase)
    result = gto(
        showcase,
        "assign",
        "a",
        "--version",
        "v1.0.0",
        "--stage",
        "x",
        "--simple",
        "true",
        second=2,
    )
    assert (result.exit_code, result.stderr.strip()) == (
        1,
        "'refs/tags/a#x' conflicts with an existing tag name",
    )
    assert snapshot(showcase) == before
