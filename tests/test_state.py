"""The event log and the reducer on small real repositories: GTO's rules and our fixes.

Each test that pins a fix of a GTO 1.10.1 bug names the bug (numbers from the
README's "Differences from GTO").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gto_dulwich import api
from gto_dulwich.builder import BuiltRepo, build_repo
from gto_dulwich.reducer import Version
from tests.helpers import run_cli

ARTIFACTS = "rf: {type: model, path: models/rf.pkl}\n"


def repo(tmp_path: Path, tags: list[dict[str, Any]], **extra: Any) -> BuiltRepo:
    """Commits c1, c2 dated before every tag and c3 after them (HEAD), plus ``tags``."""
    spec: dict[str, Any] = {
        "name": "t",
        "commits": [
            {
                "id": "c1",
                "message": "one",
                "time": "2024-01-01T00:00:00+00:00",
                "files": {"models/rf.pkl": "1", "artifacts.yaml": ARTIFACTS},
            },
            {
                "id": "c2",
                "message": "two",
                "time": "2024-01-02T00:00:00+00:00",
                "files": {"models/rf.pkl": "2"},
            },
            {
                "id": "c3",
                "message": "three",
                "time": "2026-01-01T00:00:00+00:00",
                "files": {"README": "later"},
            },
        ],
        "tags": tags,
        **extra,
    }
    return build_repo(spec, tmp_path / "repo")


def tag(name: str, target: str, second: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "target": target, "time": f"2025-01-01T00:00:{second:02d}+00:00", **extra}


def show_json(path: Path, *args: str) -> Any:
    result = run_cli(["show", *args, "--json"], cwd=path)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_lightweight_and_foreign_tags_are_skipped_and_reported(tmp_path: Path) -> None:
    built = repo(
        tmp_path,
        [
            tag("rf@v1.0.0", "c1", 1),
            {"name": "rf@v2.0.0", "target": "c2", "lightweight": True},
            {"name": "v1.0.0", "target": "c2", "lightweight": True},
        ],
    )
    assert show_json(built.path)["rf"]["version"] == "v1.0.0"
    verbose = run_cli(["-v", "show"], cwd=built.path)
    assert "rf@v2.0.0: lightweight tag" in verbose.stderr
    doctor = run_cli(["doctor"], cwd=built.path)
    assert doctor.exit_code == 0  # a warning, not an unreadable tag
    assert doctor.stdout.endswith("1 warning(s) found\n")
    assert "rf@v2.0.0: lightweight tag" in doctor.stdout
    assert "v1.0.0: not a GTO tag name" in doctor.stdout


def test_created_tag_does_not_break_reads_gto_bug_2(tmp_path: Path) -> None:
    built = repo(
        tmp_path, [tag("rf@v1.0.0", "c1", 1), tag("x@created", "c1", 2, message="made by hand")]
    )
    assert show_json(built.path)["rf"]["version"] == "v1.0.0"
    doctor = run_cli(["doctor"], cwd=built.path)
    assert "x@created" in doctor.stdout


def test_unregistered_assignments_share_one_version_gto_bug_3(tmp_path: Path) -> None:
    built = repo(
        tmp_path, [tag("rf#dev#1", "c1", 1), tag("rf#prod#2", "c1", 2), tag("rf#qa#3", "c1", 3)]
    )
    versions = show_json(built.path, "rf")
    c1 = built.commits["c1"]
    assert [v["version"] for v in versions].count(c1) == 1
    hexsha = next(v for v in versions if v["version"] == c1)
    assert sorted(s["stage"] for s in hexsha["stages"]) == ["dev", "prod", "qa"]


def test_two_versions_on_one_commit_do_not_break_reads(tmp_path: Path) -> None:
    built = repo(
        tmp_path, [tag("rf@v1.0.0", "c1", 1), tag("rf@v2.0.0", "c1", 2), tag("rf#prod#3", "c1", 3)]
    )
    assert show_json(built.path)["rf"]["version"] == "v2.0.0"
    verbose = run_cli(["-v", "show"], cwd=built.path)
    assert "rf#prod#3: skipped: commit" in verbose.stderr


def test_new_head_commit_does_not_undeprecate_gto_bug_4(tmp_path: Path) -> None:
    # A commit newer than the deprecation tag still lists rf in artifacts.yaml:
    # GTO let that commit's date resurrect rf; only a newer *tag* may do that.
    built = repo(tmp_path, [tag("rf@v1.0.0", "c1", 1), tag("rf@deprecated", "c1", 2)], head="c3")
    assert "rf" not in show_json(built.path)
    assert show_json(built.path, "-d")["rf"]["active"] is False


def test_registration_after_deprecation_reactivates(tmp_path: Path) -> None:
    built = repo(
        tmp_path,
        [tag("rf@v1.0.0", "c1", 1), tag("rf@deprecated", "c1", 2), tag("rf@v1.1.0", "c2", 3)],
    )
    assert show_json(built.path)["rf"]["active"] is True


def test_deregistration_reveals_the_previous_stage_holder(tmp_path: Path) -> None:
    built = repo(
        tmp_path,
        [
            tag("rf@v1.0.0", "c1", 1),
            tag("rf@v2.0.0", "c2", 2),
            tag("rf#prod#1", "c1", 3),
            tag("rf#prod#2", "c2", 4),
        ],
    )
    assert show_json(built.path)["rf"]["stage"]["prod"] == "v2.0.0"
    built2 = repo(
        tmp_path / "b",
        [
            tag("rf@v1.0.0", "c1", 1),
            tag("rf@v2.0.0", "c2", 2),
            tag("rf#prod#1", "c1", 3),
            tag("rf#prod#2", "c2", 4),
            tag("rf@v2.0.0!", "c2", 5),
        ],
    )
    state = show_json(built2.path)["rf"]
    assert (state["version"], state["stage"]["prod"]) == ("v1.0.0", "v1.0.0")


def test_unassignment_reveals_the_previous_stage_holder(tmp_path: Path) -> None:
    built = repo(
        tmp_path,
        [
            tag("rf@v1.0.0", "c1", 1),
            tag("rf@v2.0.0", "c2", 2),
            tag("rf#prod#1", "c1", 3),
            tag("rf#prod#2", "c2", 4),
            tag("rf#prod!#3", "c2", 5),
        ],
    )
    assert show_json(built.path)["rf"]["stage"]["prod"] == "v1.0.0"


def test_unassignment_wins_an_exact_time_tie(tmp_path: Path) -> None:
    built = repo(
        tmp_path, [tag("rf@v1.0.0", "c1", 1), tag("rf#dev#3", "c1", 2), tag("rf#dev!#4", "c1", 2)]
    )
    assert "dev" not in show_json(built.path)["rf"]["stage"]


def test_tag_of_a_blob_is_skipped_with_a_reason(tmp_path: Path) -> None:
    built = repo(tmp_path, [tag("rf@v1.0.0", "c1", 1)])
    from dulwich.objects import Blob, Tag
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    with Repo(str(built.path)) as r:
        blob = Blob.from_string(b"data")
        t = Tag()
        t.name, t.object = b"rf@v9.0.0", (Blob, blob.id)
        t.tagger, t.tag_time, t.tag_timezone = b"A <a@b>", 1700000000, 0
        t.message = b"blob\n"
        r.object_store.add_objects([(blob, None), (t, None)])
        r.refs[Ref(b"refs/tags/rf@v9.0.0")] = t.id
    assert show_json(built.path)["rf"]["version"] == "v1.0.0"
    assert "rf@v9.0.0: tag points at a blob" in run_cli(["doctor"], cwd=built.path).stdout


def test_long_versions_are_not_truncated_gto_bug_1(tmp_path: Path) -> None:
    built = repo(tmp_path, [tag("rf@v0.0.200", "c1", 1), tag("rf#prod#1", "c1", 2)])
    table = run_cli(["show", "--plain"], cwd=built.path).stdout
    assert table.splitlines()[1].split() == ["rf", "v0.0.200", "v0.0.200"]


def test_corrupt_annotations_in_an_old_commit_are_skipped_gto_bug_12(tmp_path: Path) -> None:
    spec_tags = [tag("rf@v1.0.0", "c1", 1), tag("rf@v1.1.0", "c2", 2)]
    # c1's artifacts.yaml is broken, HEAD's is fine.
    spec: dict[str, Any] = {
        "commits": [
            {
                "id": "c1",
                "time": "2024-01-01T00:00:00+00:00",
                "message": "one",
                "files": {"artifacts.yaml": "rf: [not, a, mapping\n"},
            },
            {
                "id": "c2",
                "time": "2024-01-02T00:00:00+00:00",
                "message": "two",
                "files": {"artifacts.yaml": ARTIFACTS},
            },
        ],
        "tags": spec_tags,
    }
    built = build_repo(spec, tmp_path / "broken")
    versions = show_json(built.path, "rf")
    assert [v["version"] for v in versions] == ["v1.1.0", "v1.0.0"]
    assert versions[1]["enrichments"][0]["enrichments"] == []
    doctor = run_cli(["doctor"], cwd=built.path).stdout
    assert "annotations skipped" in doctor


def test_registry_snapshot_answers_many_questions_from_one_read(tmp_path: Path) -> None:
    built = repo(
        tmp_path, [tag("rf@v1.0.0", "c1", 1), tag("rf@v1.1.0", "c2", 2), tag("rf#prod#1", "c1", 3)]
    )
    with api.Registry.open(built.path) as registry:
        latest = api.find_latest_version(registry, "rf")
        in_prod = api.find_versions_in_stage(registry, "rf", "prod")
        events = api.check_ref(registry, "refs/tags/rf#prod#1")
        history = api.history(registry)
    assert isinstance(latest, Version)
    assert latest.version == "v1.1.0"
    assert in_prod is not None
    assert [s.version for s in in_prod] == ["v1.0.0"]
    assert [e.check_ref_dict()["event"] for e in events] == ["assignment"]
    assert [row.to_dict()["ref"] for row in history] == ["rf#prod#1", "rf@v1.1.0", "rf@v1.0.0"]
