"""Hostile repositories and bad input: nothing crashes, nothing is lost.

Every repository is built on disk with dulwich (explicit timestamps) and then
damaged the way real ones get damaged: objects written by hand or missing,
odd ref names, shallow clones, odd layouts, corrupt files, read-only files and
locks left behind.  For each, reads keep working, ``doctor`` names every
skipped tag and why, no command prints a traceback, and every refused write
is one line on stderr, exit 1, with nothing under ``refs/``, in
``packed-refs`` or in ``artifacts.yaml`` changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from dulwich import porcelain
from dulwich.objects import ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

import gto_dulwich.registry
from gto_dulwich.builder import build_repo
from gto_dulwich.cache import FILE_NAME, INDEX_FILE_NAME
from tests.helpers import Result, path_without_git, run_cli, run_process, unprivileged

IDENTITY = {"GIT_COMMITTER_NAME": "Writer", "GIT_COMMITTER_EMAIL": "writer@example.com"}
ENV = {
    **IDENTITY,
    "GIT_COMMITTER_DATE": "1800000000 +0000",
    "GTO_EMOJIS": "false",
    "GTO_DULWICH_LOCK_TIMEOUT": "0.05",
}
ARTIFACTS = "rf: {type: model, path: models/rf.pkl, description: Random forest}\n"
# Control characters that must never reach a terminal (TAB and LF are allowed in output
# only as the layout's own; repository text has them escaped).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def spec(**extra: Any) -> dict[str, Any]:
    """c1 holds rf@v1.0.0 and rf#prod#1; c2 (HEAD) has no version."""
    return {
        "commits": [
            {
                "id": "c1",
                "message": "one",
                "time": "2024-01-01T00:00:00+00:00",
                "files": {"artifacts.yaml": ARTIFACTS, "models/rf.pkl": "1"},
            },
            {
                "id": "c2",
                "message": "two",
                "time": "2024-01-02T00:00:00+00:00",
                "files": {"models/rf.pkl": "2"},
            },
        ],
        "tags": [
            {"name": "rf@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00+00:00"},
            {"name": "rf#prod#1", "target": "c1", "time": "2025-01-01T00:00:01+00:00"},
        ],
        **extra,
    }


def git_dir(path: Path) -> Path:
    dot_git = path / ".git"
    return dot_git if dot_git.is_dir() else path


def write_object(path: Path, kind: bytes, body: bytes) -> str:
    """Store a loose object exactly as given (dulwich would refuse to make a broken one)."""
    data = kind + b" " + str(len(body)).encode() + b"\0" + body
    sha = hashlib.sha1(data).hexdigest()
    target = git_dir(path) / "objects" / sha[:2] / sha[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zlib.compress(data))
    return sha


def tag_body(
    target: str, name: str, *, tagger: bytes | None, message: bytes = b"hand made"
) -> bytes:
    lines = [b"object " + target.encode(), b"type commit", b"tag " + name.encode()]
    if tagger is not None:
        lines.append(b"tagger " + tagger)
    return b"\n".join(lines) + b"\n\n" + message + b"\n"


def set_tag_ref(path: Path, name: str, sha: str) -> None:
    ref = git_dir(path) / "refs" / "tags" / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(sha + "\n")


def drop_objects(path: Path, *shas: str) -> None:
    """Rewrite the object store without ``shas`` (as a shallow clone lacks them)."""
    unwanted = {ObjectID(sha.encode()) for sha in shas}
    with Repo(str(path)) as repo:
        keep = [repo.object_store[sha] for sha in repo.object_store if sha not in unwanted]
    objects = git_dir(path) / "objects"
    for child in objects.iterdir():
        if child.name not in ("info", "pack"):
            shutil.rmtree(child)
    shutil.rmtree(objects / "pack")
    (objects / "pack").mkdir()
    with Repo(str(path)) as repo:
        repo.object_store.add_objects([(obj, None) for obj in keep])
        assert not any(sha in repo.object_store for sha in unwanted)


def state_files(path: Path) -> dict[str, bytes]:
    """Every file under refs/, packed-refs and the work tree's artifacts.yaml, by name."""
    gitdir = git_dir(path)
    files = {
        str(f.relative_to(gitdir)): f.read_bytes()
        for f in sorted((gitdir / "refs").rglob("*"))
        if f.is_file()
    }
    for extra in (gitdir / "packed-refs", path / "artifacts.yaml"):
        if extra.is_file():
            files[extra.name] = extra.read_bytes()
    return files


def gto(path: Path, *args: str, cwd: Path | None = None) -> Result:
    return run_cli(list(args), cwd=cwd or path, env=ENV)


def clean(result: Result, *codes: int) -> Result:
    """An expected outcome: no traceback, no unexpected error, an error in one line."""
    assert result.exit_code in (codes or (0,)), (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert "Unexpected error" not in result.stderr
    if result.exit_code == 1:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result


def refused(path: Path, args: Sequence[str], message: str, *, cwd: Path | None = None) -> Result:
    """A write (or read) that must fail in one line and change nothing."""
    before = state_files(path)
    result = clean(gto(path, *args, cwd=cwd), 1)
    if args[0] != "doctor":  # doctor prints its header before it reads anything
        assert result.stdout == ""
    assert message in result.stderr, result.stderr
    assert state_files(path) == before
    return result


READS = (
    ["show"],
    ["show", "--json"],
    ["show", "rf"],
    ["show", "rf", "--json"],
    ["show", "rf", "--plain"],
    ["history"],
    ["history", "--json"],
    ["stages"],
    ["latest", "rf"],
    ["which", "rf", "prod"],
    ["describe", "rf"],
    ["check-ref", "rf@v1.0.0"],
    ["-v", "show"],
)


def reads_work(path: Path, *, cwd: Path | None = None) -> dict[str, Result]:
    """Every read command succeeds and still sees rf@v1.0.0."""
    results = {" ".join(args): clean(gto(path, *args, cwd=cwd)) for args in READS}
    assert json.loads(results["show --json"].stdout)["rf"]["version"] == "v1.0.0"
    assert results["latest rf"].stdout == "v1.0.0\n"
    return results


def doctor_lines(path: Path) -> list[str]:
    result = clean(gto(path, "doctor"), 0, 1)
    lines = result.stdout.split("-" * 33 + "\n")[-1].splitlines()
    return [line for line in lines if not line.endswith(("warning(s) found", "No issues found"))]


# -- objects and refs ---------------------------------------------------------------


def test_unicode_and_very_long_names(tmp_path: Path) -> None:
    long_name = "a" + "/b".join(["x" * 60] * 4) + "z"  # 244 characters, 4 directories deep
    tagger = {"name": "Jörg 模型 Ünïcødé", "email": "jörg@例え.jp"}
    built = build_repo(
        spec(
            tags=[
                {
                    "name": "rf@v1.0.0",
                    "target": "c1",
                    "time": "2025-01-01T00:00:00+00:00",
                    "message": "Première version ✓ 模型",
                    "tagger": tagger,
                },
                {
                    "name": f"{long_name}@v1.0.0",
                    "target": "c1",
                    "time": "2025-01-01T00:00:02+00:00",
                },
                {
                    "name": "модель@v1.0.0",
                    "target": "c1",
                    "time": "2025-01-01T00:00:03+00:00",
                    "message": "not a GTO name",
                },
            ]
        ),
        tmp_path / "repo",
    )
    path = built.path
    reads_work(path)
    assert doctor_lines(path) == ["info: модель@v1.0.0: not a GTO tag name"]
    check = json.loads(clean(gto(path, "check-ref", "rf@v1.0.0", "--json")).stdout)
    assert (check["message"], check["author"], check["author_email"]) == (
        "Première version ✓ 模型",
        tagger["name"],
        tagger["email"],
    )
    assert json.loads(gto(path, "show", "--json").stdout)[long_name]["version"] == "v1.0.0"
    created = clean(gto(path, "register", long_name, "--bump-minor"))
    assert created.stdout.startswith(f"Created git tag '{long_name}@v1.1.0'")
    # A name the file system cannot hold is refused before anything is written, even
    # when the command would register a version first.
    refused(path, ["register", "x" * 251], "is too long for this file system")
    refused(path, ["assign", "rf", "HEAD", "--stage", "s" * 250], "is too long for this file")


def test_names_with_spaces_or_control_characters_in_packed_refs(tmp_path: Path) -> None:
    path = build_repo(spec(packed_refs=True), tmp_path / "repo").path
    packed = path / ".git" / "packed-refs"
    sha = packed.read_text().split(" refs/tags/rf@v1.0.0")[0].splitlines()[-1]
    odd = [
        b"rf v2 with spaces@v2.0.0",
        b"rf\x1b[31m@v3.0.0",
        b"\x07bell\x00nul",
        b"rf@v4.0.0\t",
        b"[bold red]x[/]@v1.0.0",
        b"rf@v\xff5.0.0",
    ]
    packed.write_bytes(
        packed.read_bytes()
        + b"".join(sha.encode() + b" refs/tags/" + name + b"\n" for name in odd)
        + b"\xff\xfe not a ref line\n"
    )
    reads_work(path)
    lines = doctor_lines(path)
    assert lines == [
        "info: \\x07bell\\x00nul: not a GTO tag name",
        "info: [bold red]x[/]@v1.0.0: not a GTO tag name",
        "info: rf\\x1b[31m@v3.0.0: not a GTO tag name",
        "info: rf v2 with spaces@v2.0.0: not a GTO tag name",
        "info: rf@v4.0.0\\x09: not a GTO tag name",
        "info: rf@v\ufffd5.0.0: not a GTO tag name",
        "error: packed-refs: 1 malformed line(s) in packed-refs skipped",
    ]
    verbose = clean(gto(path, "-v", "history"))
    assert not CONTROL.search(verbose.stdout + verbose.stderr)
    assert "\t" not in verbose.stderr
    before = packed.read_bytes()
    assert clean(gto(path, "register", "rf", "--version", "v2.0.0")).stdout.startswith(
        "Created git tag 'rf@v2.0.0'"
    )
    assert packed.read_bytes() == before  # a write adds a loose ref, never rewrites this


def test_annotated_tag_whose_object_is_missing(tmp_path: Path) -> None:
    built = build_repo(spec(), tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    tagger = b"Hand <hand@example.com> 1735689600 +0000"
    absent = "e" * 40
    set_tag_ref(path, "rf@v2.0.0", "d" * 40)  # the ref names no object at all
    # The tag object is there, the commit it names is not.
    body = tag_body(absent, "rf@v0.3.0", tagger=tagger)
    set_tag_ref(path, "rf@v0.3.0", write_object(path, b"tag", body))
    # A tag of a tag whose inner tag object is missing.
    outer = tag_body(absent, "rf@v4.0.0", tagger=tagger).replace(b"type commit", b"type tag")
    set_tag_ref(path, "rf@v4.0.0", write_object(path, b"tag", outer))
    reads = reads_work(path)
    assert "rf@v0.3.0" in reads["history"].stdout  # read: only its commit is unknown
    assert doctor_lines(path) == [
        "error: rf@v2.0.0: unreadable tag: object is missing",
        "error: rf@v4.0.0: unreadable tag: tagged object eeeeeee is missing",
    ]
    assert clean(gto(path, "check-ref", "rf@v0.3.0", "--event")).stdout == "registration\n"
    refused(path, ["deprecate", "rf", "v0.3.0"], "Cannot tag commit eeeeeee")
    assert clean(gto(path, "assign", "rf", "--version", "v1.0.0", "--stage", "qa")).exit_code == 0
    assert c1  # rf@v1.0.0 is untouched by all this


def test_tag_object_without_a_tagger_or_with_a_broken_timezone(tmp_path: Path) -> None:
    built = build_repo(spec(), tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    broken = {
        "rf@v2.0.0": None,  # no tagger line
        "rf@v3.0.0": b"A <a@example.com> 1735689600 +99xx",  # dulwich cannot parse it
        "rf@v4.0.0": b"A <a@example.com> 1735689600 +0075",  # 75 minutes
        "rf@v5.0.0": b"A without email 1735689600 +0000",
        "rf@v6.0.0": b"A <a@example.com> +0000",  # no timestamp
    }
    for name, tagger in broken.items():
        set_tag_ref(path, name, write_object(path, b"tag", tag_body(c1, name, tagger=tagger)))
    reads_work(path)
    lines = doctor_lines(path)
    assert [line.split(": ")[1] for line in lines] == list(broken)
    assert all(line.startswith("error: rf@v") and ": unreadable tag: " in line for line in lines)
    assert lines[0] == "error: rf@v2.0.0: unreadable tag: tag object has no tagger"
    assert lines[2] == "error: rf@v4.0.0: unreadable tag: bad timezone '+0075'"
    verbose = clean(gto(path, "-v", "show"))
    assert verbose.stderr.splitlines() == lines
    assert clean(gto(path, "doctor"), 1).stderr == "5 error(s) and 0 warning(s) found\n"


def test_non_utf8_messages_and_names(tmp_path: Path) -> None:
    built = build_repo(spec(), tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    with Repo(str(path)) as repo:
        tree = repo[c1.encode()].tree.decode()  # type: ignore[attr-defined]
    commit = write_object(
        path,
        b"commit",
        b"tree "
        + tree.encode()
        + b"\nparent "
        + c1.encode()
        + b"\nauthor J\xf6rg <j\xf6@example.com> 1735689600 +0100"
        + b"\ncommitter J\xf6rg <j\xf6@example.com> 1735689600 +0100"
        + b"\nencoding latin-1\n\ncaf\xe9 commit\n",
    )
    tagger = b"J\xf6rg \xff <j\xf6@example.com> 1735689700 +0000"
    body = tag_body(commit, "rf@v2.0.0", tagger=tagger, message=b"caf\xe9 \xff\xfe message")
    set_tag_ref(path, "rf@v2.0.0", write_object(path, b"tag", body))
    clean(gto(path, "show"))
    check = json.loads(clean(gto(path, "check-ref", "rf@v2.0.0", "--json")).stdout)
    assert (check["message"], check["author"], check["author_email"]) == (
        "caf\ufffd \ufffd\ufffd message",
        "J\ufffdrg \ufffd",
        "j\ufffd@example.com",
    )
    versions = json.loads(clean(gto(path, "show", "rf", "--json")).stdout)
    v2 = next(v for v in versions if v["version"] == "v2.0.0")
    assert v2["enrichments"][0]["message"] == "caf\ufffd commit\n"
    assert v2["enrichments"][0]["author"] == "J\ufffdrg"
    assert "rf@v2.0.0" in clean(gto(path, "history", "--plain")).stdout
    assert doctor_lines(path) == []


def test_shallow_clone_whose_tags_point_at_commits_not_present(tmp_path: Path) -> None:
    built = build_repo(spec(), tmp_path / "repo")
    path, c1, c2 = built.path, built.commits["c1"], built.commits["c2"]
    drop_objects(path, c1)
    (path / ".git" / "shallow").write_text(c2 + "\n")
    reads = reads_work(path)
    assert f"{c1[:7]}" in reads["history"].stdout
    assert reads["which rf prod"].stdout == "v1.0.0\n"
    assert doctor_lines(path) == []
    assert clean(gto(path, "describe", "rf@v1.0.0")).stdout == ""  # its artifacts.yaml is gone
    refused(path, ["deprecate", "rf", "v1.0.0", "prod"], f"Cannot tag commit {c1[:7]}")
    refused(path, ["assign", "rf", "--version", "v1.0.0", "--stage", "qa"], "a shallow clone?")
    refused(path, ["register", "rf", c1, "--version", "v0.9.0"], f"unknown Git revision '{c1}'")
    created = clean(gto(path, "register", "rf", "--version", "v2.0.0"))
    assert created.stdout.startswith("Created git tag 'rf@v2.0.0'")


@pytest.mark.parametrize("bare", [False, True], ids=["work-tree", "bare"])
def test_empty_repository_without_commits(tmp_path: Path, bare: bool) -> None:
    path = tmp_path / ("repo.git" if bare else "repo")
    porcelain.init(str(path), bare=bare).close()
    for args in (
        ["show"],
        ["history"],
        ["stages"],
        ["doctor"],
        ["-v", "show"],
        ["describe", "rf"],
        ["check-ref", "rf@v1.0.0"],
        ["show", "--json"],
    ):
        result = clean(gto(path, *args))
        assert result.stderr == ""
    refused(path, ["register", "rf"], "unknown Git revision 'HEAD'")
    refused(path, ["assign", "rf", "--stage", "prod"], "unknown Git revision 'HEAD'")
    refused(path, ["deprecate", "rf"], "Cannot find artifact 'rf'")
    refused(path, ["latest", "rf"], "Cannot find artifact 'rf'")


def test_detached_head(tmp_path: Path) -> None:
    built = build_repo(spec(head="c2"), tmp_path / "repo")
    path, c2 = built.path, built.commits["c2"]
    head = (path / ".git" / "HEAD").read_bytes()
    assert head == c2.encode() + b"\n"
    reads_work(path)
    created = clean(gto(path, "assign", "rf", "--stage", "prod"))  # registers HEAD first
    assert created.stdout.splitlines()[0] == "Created git tag 'rf@v1.0.1' that registers version"
    with Repo(str(path)) as repo:
        tag = repo[repo.refs[Ref(b"refs/tags/rf@v1.0.1")]]
        assert isinstance(tag, Tag)
        assert tag.object[1].decode() == c2
    assert (path / ".git" / "HEAD").read_bytes() == head
    assert clean(gto(path, "which", "rf", "prod")).stdout == "v1.0.1\n"


def test_bare_repository_writes_tags_and_refuses_annotate(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "repo.git", bare=True).path
    reads_work(path)
    assert clean(gto(path, "register", "rf", "--version", "v2.0.0")).exit_code == 0
    assert clean(gto(path, "assign", "rf", "--version", "v2.0.0", "--stage", "prod")).exit_code == 0
    assert (path / "refs" / "tags" / "rf@v2.0.0").is_file()
    assert clean(gto(path, "which", "rf", "prod")).stdout == "v2.0.0\n"
    refused(path, ["annotate", "new", "--type", "model"], "in a bare repository")
    refused(path, ["remove", "rf"], "in a bare repository")
    assert doctor_lines(path) == []


def test_linked_worktree_made_by_hand(tmp_path: Path) -> None:
    built = build_repo(spec(), tmp_path / "main")
    main, c1 = built.path, built.commits["c1"]
    # What `git worktree add --detach ../wt c1` writes.
    worktree = tmp_path / "wt"
    admin = main / ".git" / "worktrees" / "wt"
    admin.mkdir(parents=True)
    (admin / "HEAD").write_text(c1 + "\n")
    (admin / "commondir").write_text("../..\n")
    (admin / "gitdir").write_text(str(worktree / ".git") + "\n")
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {admin}\n")
    (worktree / "artifacts.yaml").write_text(ARTIFACTS)
    reads = reads_work(worktree)
    assert reads["history --json"].stdout == clean(gto(main, "history", "--json")).stdout
    # A write from the worktree lands in the common refs, at the worktree's HEAD.
    assert clean(gto(worktree, "register", "wt-model")).exit_code == 0
    assert (main / ".git" / "refs" / "tags" / "wt-model@v0.0.1").is_file()
    assert not (admin / "refs").exists()
    check = json.loads(clean(gto(main, "check-ref", "wt-model@v0.0.1", "--json")).stdout)
    assert check["commit_hexsha"] == c1
    clean(gto(worktree, "annotate", "wt-model", "--type", "model"))
    assert "wt-model:" in (worktree / "artifacts.yaml").read_text()
    assert "wt-model" not in (main / "artifacts.yaml").read_text()
    assert doctor_lines(worktree) == []


def test_repository_path_with_spaces(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "dir with spaces" / "my repo").path
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    results = {
        " ".join(args): clean(gto(path, *args, "-r", str(path), cwd=outside))
        for args in (["show", "--json"], ["history", "--plain"], ["doctor"])
    }
    assert json.loads(results["show --json"].stdout)["rf"]["version"] == "v1.0.0"
    created = clean(
        gto(path, "register", "rf", "--version", "v2.0.0", "-r", str(path), cwd=outside)
    )
    assert created.stdout.startswith("Created git tag 'rf@v2.0.0'")
    clean(gto(path, "annotate", "new one", "-r", str(path), cwd=outside), 1)
    clean(gto(path, "annotate", "new", "--type", "model", "-r", str(path), cwd=outside))
    assert "new:" in (path / "artifacts.yaml").read_text()
    # And as a real process, from a subdirectory whose name has spaces too.
    sub = path / "models" / "sub dir"
    sub.mkdir()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gto"), "latest", "rf"],
        cwd=sub,
        env={**os.environ, "PATH": path_without_git()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "v2.0.0\n", "")


# -- corrupt files ----------------------------------------------------------------------


def test_corrupt_artifacts_yaml_at_head_refuses_every_command_in_one_line(tmp_path: Path) -> None:
    broken = spec()
    broken["commits"][1]["files"]["artifacts.yaml"] = "rf: [unclosed\n"
    path = build_repo(broken, tmp_path / "repo").path
    for args in (
        ["history"],
        ["doctor"],
        ["stages"],
        ["latest", "rf"],
        ["describe", "rf"],
        ["check-ref", "rf@v1.0.0"],
        ["register", "rf", "--version", "v2.0.0"],
        ["assign", "rf", "--version", "v1.0.0", "--stage", "qa"],
        ["deprecate", "rf", "v1.0.0", "--delete"],
        ["annotate", "x", "--type", "model"],
    ):
        refused(path, args, "artifacts.yaml file doesn't conform to GTO format")


def test_corrupt_artifacts_yaml_at_a_tagged_commit_does_not_stop_writes(tmp_path: Path) -> None:
    broken = spec()
    broken["commits"][0]["files"]["artifacts.yaml"] = "rf: {type: [unclosed\n"
    broken["commits"][1]["files"]["artifacts.yaml"] = ARTIFACTS
    built = build_repo(broken, tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    reads_work(path)
    assert doctor_lines(path) == [
        f"warning: {c1[:7]}: artifacts.yaml file doesn't conform to GTO format at commit "
        f"{c1[:7]}: invalid YAML (while parsing a flow sequence); annotations skipped"
    ]
    assert clean(gto(path, "assign", "rf", "--version", "v1.0.0", "--stage", "qa")).exit_code == 0
    assert clean(gto(path, "register", "rf", "--bump-major")).stdout.startswith(
        "Created git tag 'rf@v2.0.0'"
    )


def test_corrupt_gto_config_refuses_every_command_in_one_line(tmp_path: Path) -> None:
    path = build_repo(spec(worktree={".gto": "stages: [unclosed\n"}), tmp_path / "repo").path
    for args in (
        ["history"],
        ["doctor"],
        ["stages"],
        ["check-ref", "rf@v1.0.0"],
        ["register", "rf", "--version", "v2.0.0"],
        ["assign", "rf", "--version", "v1.0.0", "--stage", "qa"],
        ["deprecate", "rf"],
        ["annotate", "x", "--type", "model"],
        ["remove", "rf"],
    ):
        refused(path, args, "Wrong config file")


CACHE_COMMANDS = (["show", "--json"], ["show", "rf", "--json"], ["history", "--json"], ["doctor"])


def _outputs(path: Path, **env: str) -> list[tuple[int, str, str]]:
    results = [run_cli(args, cwd=path, env={**ENV, **env}) for args in CACHE_COMMANDS]
    return [(r.exit_code, r.stdout, r.stderr) for r in results]


def _cache_variants(tags: dict[str, Any], indexes: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "directory", None
    yield "json-list", b"[1, 2, 3]"
    yield "random-bytes", bytes(range(256)) * 3
    yield "truncated", json.dumps(tags).encode()[:50]
    wrong = {**tags, "tags": {sha: [1, 2, 3, 4, 5, 6, 7, 8] for sha in tags["tags"]}}
    yield "tag-entries-of-wrong-types", json.dumps(wrong).encode()
    yield "sections-of-wrong-types", json.dumps({**indexes, "indexes": [], "tags": "x"}).encode()


def test_corrupt_cache_files_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        gto_dulwich.registry, "CACHE_THRESHOLD", 0
    )  # use the tag cache on a small repository
    path = build_repo(spec(), tmp_path / "repo").path
    caches = [path / ".git" / FILE_NAME, path / ".git" / INDEX_FILE_NAME]
    expected = _outputs(path, GTO_DULWICH_NO_CACHE="1")
    assert _outputs(path) == expected  # writes both files
    tags, indexes = (json.loads(cache.read_bytes()) for cache in caches)
    for name, content in _cache_variants(tags, indexes):
        for cache in caches:
            if cache.is_dir():
                cache.rmdir()
            else:
                cache.unlink(missing_ok=True)
            if content is None:
                cache.mkdir()
            else:
                cache.write_bytes(content)
        assert _outputs(path) == expected, name


def test_a_damaged_entry_in_the_annotations_cache_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    expected = _outputs(path, GTO_DULWICH_NO_CACHE="1")
    _outputs(path)
    cache = path / ".git" / INDEX_FILE_NAME
    data = json.loads(cache.read_bytes())
    data["indexes"] = {key: {"rf": "not a mapping"} for key in data["indexes"]}
    cache.write_text(json.dumps(data))
    assert _outputs(path) == expected


# -- permissions and locks ----------------------------------------------------------------


def _chmod_tree(path: Path, remove_write: bool) -> None:
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files, "."]:
            target = Path(root) / name
            mode = stat.S_IMODE(target.lstat().st_mode)
            write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
            target.chmod(mode & ~write if remove_write else mode | stat.S_IWUSR)


def test_read_only_repository(tmp_path: Path) -> None:
    prefix = unprivileged()
    path = build_repo(spec(), tmp_path / "repo").path

    def run(*args: str) -> Result:
        return run_process(args, cwd=path, env=ENV, prefix=prefix)

    expected = {args: run(*args).stdout for args in (("show", "--json"), ("history", "--json"))}
    before = state_files(path)
    _chmod_tree(path, remove_write=True)
    try:
        for args, out in expected.items():
            assert clean(run(*args)).stdout == out
        doctor = clean(run("doctor"))
        assert doctor.stdout.endswith("No issues found\n")
        for write in (
            ("register", "rf", "--version", "v2.0.0"),
            ("assign", "rf", "--version", "v1.0.0", "--stage", "qa"),
            ("deprecate", "rf", "v1.0.0", "prod", "--delete"),
            ("deprecate", "rf"),
            ("annotate", "new", "--type", "model"),
            ("remove", "rf"),
        ):
            result = clean(run(*write), 1)
            assert result.stderr.startswith("Cannot write to the repository: Permission denied (")
            assert str(path) in result.stderr
    finally:
        _chmod_tree(path, remove_write=False)
    assert state_files(path) == before


@pytest.mark.parametrize(
    ("lock", "args"),
    [
        ("gto-counter.lock", ["assign", "rf", "--version", "v1.0.0", "--stage", "qa"]),
        # assign registers HEAD first: the stale counter lock must stop both tags.
        ("gto-counter.lock", ["assign", "rf", "HEAD", "--stage", "qa"]),
        ("refs/tags/rf#prod#1.lock", ["deprecate", "rf", "v1.0.0", "prod", "--delete"]),
        # --delete of a version removes its stage tags too: none goes if one is locked.
        ("refs/tags/rf@v1.0.0.lock", ["deprecate", "rf", "v1.0.0", "--delete"]),
        ("refs/tags/rf#prod#1.lock", ["deprecate", "rf", "v1.0.0", "--delete"]),
        ("packed-refs.lock", ["deprecate", "rf", "v1.0.0", "prod", "--delete"]),
    ],
)
def test_a_lock_left_behind_refuses_the_write_naming_it(
    tmp_path: Path, lock: str, args: list[str]
) -> None:
    path = build_repo(spec(packed_refs=lock == "packed-refs.lock"), tmp_path / "repo").path
    lock_path = path / ".git" / lock
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_bytes(b"left by a writer that crashed\n")
    refused(path, args, f"'{lock_path}' is locked by another process")
    assert lock_path.read_bytes() == b"left by a writer that crashed\n"


# -- terminal safety ------------------------------------------------------------------------

ESCAPES = "\x1b[2J\r\x1b]0;pwned\x07\x9b31m\x08"
MARKUP = "[bold red]boom[/bold red] [link=https://evil.example]x[/link]"


def _hostile_text_repository(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Repository text full of escapes and Rich markup, everywhere a repository has text."""
    description = f"{MARKUP} desc{ESCAPES}"
    artifacts = (
        "rf:\n"
        "  type: model\n"
        f"  path: {json.dumps('models/rf' + ESCAPES + '.pkl')}\n"
        f"  description: {json.dumps(description)}\n"
        "  labels: [fast, small]\n"
        f"  custom: {{note: {json.dumps(MARKUP + ESCAPES)}}}\n"
    )
    hostile = spec(
        identity={"name": f"Eve {MARKUP}{ESCAPES}", "email": f"eve{ESCAPES}@example.com"}
    )
    hostile["commits"][0]["files"]["artifacts.yaml"] = artifacts
    hostile["commits"][0]["message"] = f"commit {MARKUP}{ESCAPES}"
    hostile["commits"][1]["files"]["artifacts.yaml"] = artifacts
    message = f"message {MARKUP}{ESCAPES}"
    hostile["tags"][0]["message"] = message
    built = build_repo(hostile, tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    # A tag object whose own name is hostile: its diagnostic quotes that name.
    inner = f"x{ESCAPES}{MARKUP}"
    body = tag_body(c1, inner, tagger=b"A <a@example.com> 1735689600 +0000")
    set_tag_ref(path, "rf@v9.0.0", write_object(path, b"tag", body))
    (path / ".git" / "packed-refs").write_bytes(
        built.tags["rf@v1.0.0"].encode() + f" refs/tags/{MARKUP}\x1b[31m\x07@v1\n".encode()
    )
    raw = {
        "description": description,
        "message": message,
        "author": f"Eve {MARKUP}{ESCAPES}",
        "email": f"eve{ESCAPES}@example.com",
        "custom": MARKUP + ESCAPES,
        "path": "models/rf" + ESCAPES + ".pkl",
    }
    return path, raw


TEXT_COMMANDS = (
    ["show"],
    ["show", "--plain"],
    ["show", "rf"],
    ["show", "rf", "--plain"],
    ["show", "rf", "--ref"],
    ["history"],
    ["history", "--plain"],
    ["history", "rf"],
    ["describe", "rf", "--description"],
    ["describe", "rf", "--path"],
    ["check-ref", "rf@v1.0.0"],
    ["doctor"],
    ["-v", "show"],
    ["-v", "history", "rf"],
    ["stages"],
    ["latest", "rf", "--ref"],
    ["which", "rf", "prod", "--ref"],
)


def test_terminal_output_escapes_repository_text_and_json_stays_exact(tmp_path: Path) -> None:
    path, raw = _hostile_text_repository(tmp_path)
    for args in TEXT_COMMANDS:
        result = clean(gto(path, *args), 0, 1)
        text = result.stdout + result.stderr
        assert not CONTROL.search(text), (args, text)
        assert "\x1b" not in text
        assert "\x9b" not in text
    doctor = "\n".join(doctor_lines(path))
    assert "x\\x1b[2J\\x0d\\x1b]0;pwned\\x07\\x9b31m\\x08[bold red]" in doctor
    assert f"info: {MARKUP}\\x1b[31m\\x07@v1: not a GTO tag name" in doctor
    assert MARKUP in doctor  # printed as text, never interpreted
    described = gto(path, "describe", "rf", "--description").stdout
    assert described == f"{MARKUP} desc\\x1b[2J\\x0d\\x1b]0;pwned\\x07\\x9b31m\\x08\n"
    # JSON is exact: every raw string comes back from json.loads unchanged.
    check = json.loads(gto(path, "check-ref", "rf@v1.0.0", "--json").stdout)
    assert (check["message"], check["author"], check["author_email"]) == (
        raw["message"],
        raw["author"],
        raw["email"],
    )
    annotation = json.loads(gto(path, "describe", "rf").stdout)
    assert (annotation["description"], annotation["path"], annotation["custom"]) == (
        raw["description"],
        raw["path"],
        {"note": raw["custom"]},
    )
    versions = json.loads(gto(path, "show", "rf", "--json").stdout)
    v1 = next(v for v in versions if v["version"] == "v1.0.0")
    assert v1["message"] == raw["message"]
    assert v1["enrichments"][0]["message"] == f"commit {MARKUP}{ESCAPES}\n"
    history = json.loads(gto(path, "history", "--json").stdout)
    assert {row["author"] for row in history} == {raw["author"]}
    for args in (["show", "rf", "--json"], ["history", "--json"], ["describe", "rf"]):
        assert "\x1b" not in gto(path, *args).stdout  # escaped as \u001b by JSON


def test_error_messages_escape_repository_text(tmp_path: Path) -> None:
    hostile = spec()
    hostile["commits"][1]["files"]["artifacts.yaml"] = f"{json.dumps('bad' + ESCAPES)}: {{}}\n"
    path = build_repo(hostile, tmp_path / "repo").path
    result = refused(path, ["show"], "invalid artifact name")
    assert not CONTROL.search(result.stderr)
    assert "\\x1b[2J" in result.stderr


def test_rich_table_on_a_terminal_prints_no_escapes_from_the_repository(tmp_path: Path) -> None:
    """On a terminal the tables are Rich's: with TERM=dumb Rich adds no styling of its
    own, so any escape in the output would have come from the repository."""
    import pty

    path, _raw = _hostile_text_repository(tmp_path)
    script = str(Path(sys.executable).parent / "gto")
    env = {**os.environ, **ENV, "TERM": "dumb", "COLUMNS": "200", "PATH": path_without_git()}
    for args in (["show"], ["show", "rf"], ["history"]):
        leader, follower = pty.openpty()
        try:
            done = subprocess.run(
                [script, *args],
                cwd=path,
                env=env,
                stdout=follower,
                stderr=subprocess.PIPE,
                timeout=60,
                check=False,
            )
            os.close(follower)
            follower = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            if follower >= 0:
                os.close(follower)
            os.close(leader)
        out = b"".join(chunks).decode()
        assert done.returncode == 0, done.stderr
        assert "┃" in out or "│" in out  # Rich's table, not the box table for pipes
        assert not CONTROL.search(out.replace("\r\n", "\n")), (args, out)
