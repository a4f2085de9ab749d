"""The fixture builder writes real, deterministic repositories (checked with dulwich)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dulwich import porcelain
from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich.builder import (
    PACKED_REFS_HEADER,
    BuiltRepo,
    SpecError,
    build_repo,
    default_tag_message,
    load_spec,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN = FIXTURES / "golden"
# registry descriptions: fixtures/*.yaml with a `commits:` key (other YAML may live there)
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.yaml") if "commits" in load_spec(p))
GOLDEN_NAMES = sorted(p.stem for p in GOLDEN.glob("*.json"))
DEFAULT_TAGGER = b"GTO Tester <gtotester@example.com>"


def spec_of(name: str) -> dict[str, Any]:
    return load_spec(FIXTURES / f"{name}.yaml")


def ident(value: Mapping[str, str] | None, default: bytes) -> bytes:
    return default if value is None else f"{value['name']} <{value['email']}>".encode()


def when(value: str | dt.datetime) -> tuple[int, int]:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    offset = moment.utcoffset()
    assert offset is not None
    return int(moment.timestamp()), int(offset.total_seconds())


def obj(repo: Repo, sha: str | bytes) -> ShaFile:
    return repo[sha.encode() if isinstance(sha, str) else sha]


def read_file(repo: Repo, tree_id: bytes, path: str) -> bytes | None:
    node = obj(repo, tree_id)
    for part in path.split("/"):
        if not isinstance(node, Tree) or part.encode() not in node:
            return None
        _mode, sha = node[part.encode()]
        node = obj(repo, sha)
    return node.data if isinstance(node, Blob) else None


def snapshot(repo: Repo, tree_id: bytes, prefix: str = "") -> dict[str, bytes]:
    tree = obj(repo, tree_id)
    assert isinstance(tree, Tree)
    files: dict[str, bytes] = {}
    for entry in tree.items():
        path = prefix + entry.path.decode()
        child = obj(repo, entry.sha)
        if isinstance(child, Tree):
            files.update(snapshot(repo, child.id, path + "/"))
        else:
            assert isinstance(child, Blob)
            files[path] = child.data
    return files


# --------------------------------------------------------------------------- fixtures


def test_every_fixture_has_a_golden_and_vice_versa() -> None:
    assert FIXTURE_NAMES, "no fixtures found"
    assert FIXTURE_NAMES == GOLDEN_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_builds_deterministically(name: str, tmp_path: Path) -> None:
    spec = spec_of(name)
    assert spec["name"] == name
    first = build_repo(spec, tmp_path / "a")
    second = build_repo(spec, tmp_path / "b")
    bare = build_repo(spec, tmp_path / "c", bare=True)
    assert first.commits == second.commits == bare.commits
    assert first.tags == second.tags == bare.tags
    assert set(first.commits) == {c["id"] for c in spec.get("commits") or []}
    assert set(first.tags) == {t["name"] for t in spec.get("tags") or []}


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_commits_match_the_builder(name: str, tmp_path: Path) -> None:
    """A builder change that would invalidate the captured goldens must fail here."""
    golden = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert golden["gto_version"] == "1.10.1"
    assert golden["fixture"] == name
    built = build_repo(spec_of(name), tmp_path / "repo")
    assert golden["commits"] == built.commits
    listed = [c["args"] for c in golden["commands"]]
    assert len(listed) == len(spec_of(name).get("commands") or [])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_commits_carry_the_described_metadata(name: str, tmp_path: Path) -> None:
    spec = spec_of(name)
    default = ident(spec.get("identity"), DEFAULT_TAGGER)
    built = build_repo(spec, tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        for item in spec.get("commits") or []:
            commit = obj(repo, built.commits[item["id"]])
            assert isinstance(commit, Commit)
            commit.check()
            assert commit.author == ident(item.get("author"), default)
            assert commit.committer == ident(item.get("committer"), default)
            seconds, offset = when(item["time"])
            assert (commit.author_time, commit.author_timezone) == (seconds, offset)
            assert (commit.commit_time, commit.commit_timezone) == (seconds, offset)
            message = item["message"]
            assert (
                commit.message == (message if message.endswith("\n") else message + "\n").encode()
            )
            for path, content in (item.get("files") or {}).items():
                expected = None if content is None else content.encode()
                assert read_file(repo, commit.tree, path) == expected


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_tags_carry_tagger_time_zone_and_message(name: str, tmp_path: Path) -> None:
    spec = spec_of(name)
    default = ident(spec.get("identity"), DEFAULT_TAGGER)
    built = build_repo(spec, tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        for item in spec.get("tags") or []:
            tag_name = item["name"]
            ref_target = repo.refs[Ref(f"refs/tags/{tag_name}".encode())]
            assert ref_target.decode() == built.tags[tag_name]
            target = obj(repo, ref_target)
            if "target" in item:
                expected_object = built.commits[item["target"]].encode()
            else:
                expected_object = built.tags[item["target_tag"]].encode()
            if item.get("lightweight"):
                assert ref_target == expected_object
                continue
            assert isinstance(target, Tag)
            target.check()
            assert target.name == tag_name.encode()
            assert target.object[1] == expected_object
            assert target.tagger == ident(item.get("tagger"), default)
            assert (target.tag_time, target.tag_timezone) == when(item["time"])
            message = item.get("message")
            if message is None:
                message = default_tag_message(tag_name, "v")
                assert message is not None
                assert target.message.decode().startswith(message.rsplit("version", 1)[0])
            else:
                assert (
                    target.message
                    == (message if message.endswith("\n") else message + "\n").encode()
                )


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_work_tree_is_checked_out_and_clean(name: str, tmp_path: Path) -> None:
    spec = spec_of(name)
    built = build_repo(spec, tmp_path / "repo")
    worktree: Mapping[str, str | None] = spec.get("worktree") or {}
    with Repo(str(built.path)) as repo:
        head_id = spec.get("head")
        if head_id in built.commits:
            head_sha = built.commits[head_id]
        else:
            branch = (spec.get("branch") or "main").encode()
            head_sha = repo.refs[Ref(b"refs/heads/" + branch)].decode()
        assert repo.head().decode() == head_sha
        commit = obj(repo, head_sha)
        assert isinstance(commit, Commit)
        for path, data in snapshot(repo, commit.tree).items():
            if path not in worktree:
                assert (built.path / path).read_bytes() == data
        for path, text in worktree.items():
            if text is not None:
                assert (built.path / path).read_text(encoding="utf-8") == text
        status = porcelain.status(repo)
        assert status.staged == {"add": [], "delete": [], "modify": []}
        assert status.unstaged == []
        assert sorted(
            p.decode() if isinstance(p, bytes) else p for p in status.untracked
        ) == sorted(p for p, c in worktree.items() if c is not None)


# --------------------------------------------------------------------------- specific facts


def test_showcase_matches_gto_default_messages(tmp_path: Path) -> None:
    built = build_repo(spec_of("showcase"), tmp_path / "repo")
    expected = {
        "rf@v1.2.3": "Registering artifact rf version v1.2.3\n",
        "nn#staging#1": "Assigning stage staging to artifact nn version v0.0.1\n",
        "rf#production#3": "Assigning stage production to artifact rf version v1.2.4\n",
        "rf#production#4": "Assigning stage production to artifact rf version v1.2.3\n",
    }
    with Repo(str(built.path)) as repo:
        for tag_name, message in expected.items():
            tag = obj(repo, built.tags[tag_name])
            assert isinstance(tag, Tag)
            assert tag.message == message.encode()
            assert tag.tagger == DEFAULT_TAGGER
        config = repo.get_config()
        assert config.get((b"user",), b"name") == b"GTO Tester"
        assert config.get((b"user",), b"email") == b"gtotester@example.com"
    assert (built.path / ".gto").read_bytes() == b""


def test_sr_assignment_message_names_the_commit(tmp_path: Path) -> None:
    built = build_repo(spec_of("sr_duplicates"), tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        tag = obj(repo, built.tags["s1#dev#1"])
        assert isinstance(tag, Tag)
        sha = built.commits["c1"]
        assert tag.message == f"Assigning stage dev to artifact s1 version {sha}\n".encode()


@pytest.mark.parametrize(
    ("tag_name", "version", "message"),
    [
        ("m@v1.0.0", "None", "Registering artifact m version v1.0.0"),
        ("m@v1.0.0#3", "None", "Registering artifact m version v1.0.0"),
        ("a/b=m@v1.0.0!", "None", "Deregistering artifact a/b:m version v1.0.0"),
        ("m#prod#2", "v1.0.0", "Assigning stage prod to artifact m version v1.0.0"),
        ("m#prod!#3", "v1.0.0", "Unassigning stage 'prod' to artifact 'm' version 'v1.0.0'"),
        ("m#prod!", "v1.0.0", "Unassigning stage 'prod' to artifact 'm' version 'v1.0.0'"),
        ("m@deprecated", "None", "Deprecating artifact 'm'"),
        ("m@deprecated#4", "None", "Deprecating artifact 'm'"),
        ("m@created", "None", None),
        ("m@1.0.0", "None", None),
        ("v1.0.0", "None", None),
    ],
)
def test_default_tag_message(tag_name: str, version: str, message: str | None) -> None:
    assert default_tag_message(tag_name, version) == message


def test_time_zones_are_kept(tmp_path: Path) -> None:
    built = build_repo(spec_of("frozen"), tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        old = obj(repo, built.tags["churn#prod#2"])
        new = obj(repo, built.tags["model-a#prod!#3"])
        assert isinstance(old, Tag)
        assert isinstance(new, Tag)
        assert old.tag_timezone == 3 * 3600
        assert new.tag_timezone == 5 * 3600 + 45 * 60
        assert new.tagger == b"Amrit Ghimire <mail@amritghimire.com>"
        assert old.message == b"Promoting churn version v3.0.0 to stage prod\n"
        side = obj(repo, built.commits["renovate"])
        assert isinstance(side, Commit)
        assert side.parents == [built.commits["deprecation"].encode()]
        assert repo.refs[Ref(b"refs/heads/renovate/configure")] == side.id
        assert repo.refs.read_ref(Ref(b"HEAD")) == b"ref: refs/heads/main"


def test_packed_refs_match_git_pack_refs_format(tmp_path: Path) -> None:
    spec = spec_of("detached_packed")
    assert spec["packed_refs"] is True
    built = build_repo(spec, tmp_path / "repo")
    git_dir = built.path / ".git"
    packed = (git_dir / "packed-refs").read_bytes()
    lines = packed.splitlines(keepends=True)
    assert lines[0] == PACKED_REFS_HEADER == b"# pack-refs with: peeled fully-peeled sorted \n"
    refs = [line.split(b" ", 1)[1].rstrip(b"\n") for line in lines[1:] if not line.startswith(b"^")]
    assert refs == sorted(refs)
    assert b"refs/heads/main" in refs
    assert b"refs/heads/feature" in refs
    # every annotated tag is followed by its peeled commit; lightweight tags are not
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith(b"^"):
            continue
        sha, ref = line.rstrip(b"\n").split(b" ", 1)
        following = lines[index + 1] if index + 1 < len(lines) else b""
        name = ref.decode().removeprefix("refs/tags/")
        if ref.startswith(b"refs/tags/") and name != "lw@v1.0.0":
            target = next(t["target"] for t in spec["tags"] if t["name"] == name)
            assert following == b"^" + built.commits[target].encode() + b"\n"
            assert sha.decode() == built.tags[name]
        else:
            assert not following.startswith(b"^")
    assert not any((git_dir / "refs" / "tags").iterdir())
    assert not any((git_dir / "refs" / "heads").iterdir())
    with Repo(str(built.path)) as repo:
        assert repo.refs[Ref(b"refs/tags/a@v1.0.0")].decode() == built.tags["a@v1.0.0"]
        peeled = repo.get_peeled(Ref(b"refs/tags/a@v1.0.0"))
        assert peeled.decode() == built.commits["c1"]


def test_detached_head(tmp_path: Path) -> None:
    built = build_repo(spec_of("detached_packed"), tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        assert repo.refs.read_ref(Ref(b"HEAD")) == built.commits["c2"].encode()
        assert repo.head().decode() == built.commits["c2"]
        # the branches keep their own tips
        assert repo.refs[Ref(b"refs/heads/main")].decode() == built.commits["c3"]
        assert repo.refs[Ref(b"refs/heads/feature")].decode() == built.commits["f1"]
    text = (built.path / "artifacts.yaml").read_text(encoding="utf-8")
    assert "late" not in text  # the work tree is HEAD's (c2), not a branch tip's


def test_tag_of_tag_points_at_the_inner_tag(tmp_path: Path) -> None:
    built = build_repo(spec_of("tag_of_tag"), tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        outer = obj(repo, built.tags["nested#prod#1"])
        middle = obj(repo, built.tags["nested@v1.0.0"])
        assert isinstance(outer, Tag)
        assert isinstance(middle, Tag)
        assert outer.object == (Tag, built.tags["nested@v1.0.0"].encode())
        assert middle.object == (Tag, built.tags["rf@v1.0.0"].encode())
        peeled = repo.get_peeled(Ref(b"refs/tags/nested#prod#1"))
        assert peeled.decode() == built.commits["c1"]


def test_lightweight_tags_point_at_commits(tmp_path: Path) -> None:
    built = build_repo(spec_of("every_event"), tmp_path / "repo")
    assert built.tags["lw@v1.0.0"] == built.commits["c1"]
    with Repo(str(built.path)) as repo:
        assert isinstance(obj(repo, built.tags["lw@v1.0.0"]), Commit)
        assert isinstance(obj(repo, built.tags["v1.0.0"]), Tag)


def test_bare_build_has_no_work_tree(tmp_path: Path) -> None:
    built = build_repo(spec_of("showcase"), tmp_path / "bare.git", bare=True)
    assert not (built.path / ".gto").exists()
    assert not (built.path / "artifacts.yaml").exists()
    with Repo(str(built.path)) as repo:
        assert repo.bare
        assert repo.head().decode() == built.commits["c3"]


# --------------------------------------------------------------------------- spec handling


def minimal(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "commits": [
            {"id": "c1", "message": "one", "time": "2024-01-01T10:00:00+00:00", "files": {"a": "1"}}
        ]
    }
    spec.update(extra)
    return spec


def test_unquoted_yaml_timestamps_and_branches(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "commits:\n"
        "  - {id: c1, message: one, time: 2024-01-01T10:00:00+05:45, files: {a/b.txt: x}}\n"
        "  - {id: c2, branch: dev, message: two, time: 2024-01-02T10:00:00-05:00,"
        " files: {a/b.txt: null, c.txt: y}}\n"
        "  - {id: c3, message: three, time: 2024-01-03T10:00:00+00:00, files: {d.txt: z}}\n"
        "  - {id: m1, parents: [c3, c2], message: merge, time: 2024-01-04T10:00:00+00:00}\n"
        "tags:\n"
        "  - {name: a@v1.0.0, target: c1, time: 2025-01-01T10:00:00+05:45}\n",
        encoding="utf-8",
    )
    built = build_repo(load_spec(spec_file), tmp_path / "repo")
    with Repo(str(built.path)) as repo:
        c1, c2, c3, m1 = (obj(repo, built.commits[i]) for i in ("c1", "c2", "c3", "m1"))
        assert isinstance(c1, Commit)
        assert isinstance(c2, Commit)
        assert isinstance(c3, Commit)
        assert isinstance(m1, Commit)
        assert c1.author_timezone == 20700
        assert c2.parents == [c1.id]  # a new branch forks from the default branch tip
        assert c3.parents == [c1.id]
        assert m1.parents == [c3.id, c2.id]
        assert snapshot(repo, c2.tree) == {"c.txt": b"y"}
        assert snapshot(repo, m1.tree) == {"a/b.txt": b"x", "d.txt": b"z"}
        assert repo.refs[Ref(b"refs/heads/dev")] == c2.id
        assert repo.refs[Ref(b"refs/heads/main")] == m1.id
        tag = obj(repo, built.tags["a@v1.0.0"])
        assert isinstance(tag, Tag)
        assert tag.tag_timezone == 20700


def test_worktree_null_removes_a_checked_out_file(tmp_path: Path) -> None:
    built = build_repo(minimal(worktree={"a": None, "new/file.txt": "n"}), tmp_path / "repo")
    assert not (built.path / "a").exists()
    assert (built.path / "new" / "file.txt").read_text(encoding="utf-8") == "n"


def test_empty_history_leaves_head_unborn(tmp_path: Path) -> None:
    built = build_repo({"commits": []}, tmp_path / "repo")
    assert built.commits == {}
    with Repo(str(built.path)) as repo:
        assert repo.refs.read_ref(Ref(b"HEAD")) == b"ref: refs/heads/main"
        with pytest.raises(KeyError):
            repo.head()


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (minimal(bogus=1), "unknown key"),
        ({"commits": [{"id": "c1", "message": "m"}]}, "'time' is required"),
        (
            {"commits": [{"id": "c1", "message": "m", "time": "2024-01-01T10:00:00"}]},
            "explicit UTC offset",
        ),
        (
            {"commits": [{"id": "c1", "message": "m", "time": "2024-01-01T10:00:00+00:00"}] * 2},
            "duplicate commit id",
        ),
        (
            {
                "commits": [
                    {
                        "id": "c1",
                        "message": "m",
                        "time": "2024-01-01T10:00:00Z",
                        "files": {"x": None},
                    }
                ]
            },
            "cannot delete",
        ),
        (
            {
                "commits": [
                    {
                        "id": "c1",
                        "message": "m",
                        "time": "2024-01-01T10:00:00Z",
                        "files": {"../x": "1"},
                    }
                ]
            },
            "invalid file path",
        ),
        (
            minimal(tags=[{"name": "a@v1.0.0", "target": "c9", "time": "2025-01-01T00:00:00Z"}]),
            "unknown target",
        ),
        (minimal(tags=[{"name": "a@v1.0.0", "target": "c1"}]), "'time' is required"),
        (
            minimal(tags=[{"name": "v1", "target": "c1", "time": "2025-01-01T00:00:00Z"}]),
            "'message' is required",
        ),
        (
            minimal(
                tags=[{"name": "lw", "target": "c1", "lightweight": True, "message": "m"}],
            ),
            "lightweight tag takes no",
        ),
        (
            minimal(
                tags=[
                    {"name": "a@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00Z"},
                    {"name": "a@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00Z"},
                ]
            ),
            "defined twice",
        ),
        (
            minimal(tags=[{"name": "t", "target_tag": "nope", "time": "2025-01-01T00:00:00Z"}]),
            "unknown target_tag",
        ),
        (minimal(head="nope"), "neither a commit id nor a branch"),
        (minimal(worktree={"/abs": "x"}), "invalid file path"),
        (minimal(worktree={"a": 1}), "must be a string or null"),
        (minimal(packed_refs="yes"), "'packed_refs' must be true or false"),
        (
            minimal(
                tags=[
                    {
                        "name": "a@v1.0.0",
                        "target": "c1",
                        "time": "2025-01-01T00:00:00Z",
                        "tagger": {"name": "x"},
                    }
                ]
            ),
            "identity",
        ),
    ],
)
def test_invalid_specs_are_rejected(spec: dict[str, Any], error: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=error):
        build_repo(spec, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_destination_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "x").write_text("x", encoding="utf-8")
    with pytest.raises(SpecError, match="not empty"):
        build_repo(minimal(), tmp_path / "repo")


def test_load_spec_requires_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="mapping"):
        load_spec(path)


def test_built_repo_is_frozen(tmp_path: Path) -> None:
    built = build_repo(minimal(), tmp_path / "repo")
    assert isinstance(built, BuiltRepo)
    with pytest.raises(AttributeError):
        built.path = tmp_path  # type: ignore[misc]
