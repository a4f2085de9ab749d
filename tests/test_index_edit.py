"""Editing ``artifacts.yaml`` in the work tree: GTO's historical ``annotate`` and ``remove``."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich import porcelain

from gto_dulwich.annotations import Annotation, parse_index
from gto_dulwich.config import Config
from gto_dulwich.errors import AnnotationsError, GTOError, InvalidName
from gto_dulwich.index_edit import IndexLocked, annotate, locked, remove
from gto_dulwich.repo import GitRepo

IDENTITY = b"Test User <test@example.com>"
START = 1_700_000_000
CONFIG = Config()

# Comments everywhere, a 4-space entry, quoted strings, a folded scalar, a flow entry.
ORIGINAL = """\
# Registry of artifacts: keep it tidy!
model-a:   # the first one
    type: model        # odd 4-space indentation
    path: "models/a.pkl"
    labels:
        - prod
        - 'baseline'
    description: >-
      A folded
      description

# --- datasets ---
data/raw:dataset: {type: dataset, path: 'data/raw.csv',  labels: [raw,  v1]}   # flow
'quoted-name':
  type: model
  path: models/q.pkl
  custom: {a: 1, "b": [x, y]}   # flow custom
  # comment inside the entry
# end of file
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """A work tree whose only commit holds ``files`` (no commit when there are none)."""
    root.mkdir(parents=True, exist_ok=True)
    porcelain.init(str(root)).close()
    if files:
        for name, text in files.items():
            _write(root / name, text)
        porcelain.add(str(root), paths=[str(root / name) for name in files])
        porcelain.commit(
            str(root),
            message=b"initial",
            author=IDENTITY,
            committer=IDENTITY,
            author_timestamp=START,
            commit_timestamp=START,
            author_timezone=0,
            commit_timezone=0,
            no_verify=True,
            sign=False,
        )
    return root


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return _make_repo(
        tmp_path / "repo",
        {"models/a.pkl": "a\n", "models/b.pkl": "b\n", "data/raw.csv": "x,y\n"},
    )


@contextlib.contextmanager
def _git(path: Path) -> Iterator[GitRepo]:
    with GitRepo.open(path) as git:
        yield git


def _index_text(root: Path) -> str:
    return (root / "artifacts.yaml").read_bytes().decode("utf-8")


def _entries(root: Path) -> dict[str, Annotation]:
    return dict(parse_index((root / "artifacts.yaml").read_bytes()).artifacts)


# -- annotate: new entries and merges -----------------------------------------------


def test_new_entry_creates_the_file_with_only_the_given_keys(work: Path) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG, type="model", path="models/a.pkl")
    assert _index_text(work) == "rf:\n  type: model\n  path: models/a.pkl\n"
    assert result == Annotation(type="model", path="models/a.pkl")
    assert _entries(work) == {"rf": result}


def test_new_entry_without_fields_is_an_empty_mapping(work: Path) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG)
    assert _index_text(work) == "rf: {}\n"
    assert result == Annotation()


def test_new_entry_lists_keys_in_gto_order(work: Path) -> None:
    with _git(work) as git:
        annotate(
            git,
            "dir/sub:nn",
            config=CONFIG,
            custom={"k": [1, 2]},
            description="about",
            labels=["b", "a"],
            must_exist=True,
            path="models/b.pkl",
            type="model",
        )
    assert _index_text(work) == (
        "dir/sub:nn:\n"
        "  type: model\n"
        "  path: models/b.pkl\n"
        "  virtual: false\n"
        "  labels:\n"
        "    - a\n"
        "    - b\n"
        "  description: about\n"
        "  custom:\n"
        "    k:\n"
        "      - 1\n"
        "      - 2\n"
    )


def test_merge_replaces_given_fields_and_keeps_the_rest(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model", path="models/a.pkl", description="one")
        result = annotate(git, "rf", config=CONFIG, type="dataset", custom={"owner": "me"})
    assert result == Annotation(
        type="dataset", path="models/a.pkl", description="one", custom={"owner": "me"}
    )
    assert _entries(work) == {"rf": result}


def test_labels_are_unioned_and_sorted(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, labels=["prod", "cv"])
        result = annotate(git, "rf", config=CONFIG, labels=["alpha", "prod", "alpha"])
    assert result.labels == ("alpha", "cv", "prod")
    assert _entries(work)["rf"].labels == ("alpha", "cv", "prod")


def test_labels_that_look_like_other_types_stay_strings(work: Path) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG, labels=["true", "10", "null"], type="no")
    assert result.labels == ("10", "null", "true")
    assert result.type == "no"


def test_empty_description_removes_the_key(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model", description="first")
        result = annotate(git, "rf", config=CONFIG, description="")
    assert _index_text(work) == "rf:\n  type: model\n"
    assert result.description == ""


def test_multiline_description_is_a_literal_block(work: Path) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG, description="line one\nline two")
    assert _index_text(work) == "rf:\n  description: |-\n    line one\n    line two\n"
    assert result.description == "line one\nline two"


def test_annotate_that_changes_nothing_does_not_rewrite_the_file(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model", labels=["a"])
        before = os.stat(work / "artifacts.yaml")
        result = annotate(git, "rf", config=CONFIG, type="model", labels=["a"])
    after = os.stat(work / "artifacts.yaml")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert result == Annotation(type="model", labels=("a",))


# -- must_exist and paths -----------------------------------------------------------


@pytest.mark.parametrize("path", ["models/a.pkl", "models", "./models/a.pkl"])
def test_must_exist_marks_a_committed_path_not_virtual(work: Path, path: str) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG, path=path, must_exist=True)
    assert result == Annotation(path=path, virtual=False)


def test_must_exist_uses_the_annotated_path_when_none_is_given(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, path="models/a.pkl")
        result = annotate(git, "rf", config=CONFIG, must_exist=True)
    assert result == Annotation(path="models/a.pkl", virtual=False)


def test_must_exist_rejects_a_path_only_in_the_work_tree(work: Path) -> None:
    _write(work / "models" / "new.pkl", "uncommitted\n")
    with _git(work) as git, pytest.raises(GTOError, match=r"'models/new.pkl' is not committed"):
        annotate(git, "rf", config=CONFIG, path="models/new.pkl", must_exist=True)
    assert not (work / "artifacts.yaml").exists()


def test_must_exist_in_a_repository_without_commits(tmp_path: Path) -> None:
    root = _make_repo(tmp_path / "empty")
    with _git(root) as git, pytest.raises(GTOError, match="no commits yet"):
        annotate(git, "rf", config=CONFIG, path="models/a.pkl", must_exist=True)


def test_must_exist_without_any_path(work: Path) -> None:
    with _git(work) as git, pytest.raises(GTOError, match="it has no path"):
        annotate(git, "rf", config=CONFIG, must_exist=True)


def test_must_exist_false_accepts_an_uncommitted_path(work: Path) -> None:
    with _git(work) as git:
        result = annotate(git, "rf", config=CONFIG, path="not/there.pkl")
    assert result == Annotation(path="not/there.pkl", virtual=True)
    assert "virtual" not in _index_text(work)


def test_must_exist_false_keeps_virtual_false_for_the_same_path(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, path="models/a.pkl", must_exist=True)
        kept = annotate(git, "rf", config=CONFIG, type="model")
        moved = annotate(git, "rf", config=CONFIG, path="models/elsewhere.pkl")
    assert kept.virtual is False
    # The old claim was about the old path: a new, unchecked path is virtual again.
    assert moved == Annotation(type="model", path="models/elsewhere.pkl", virtual=True)


def test_a_path_used_by_another_artifact_is_rejected(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, path="models/a.pkl")
        before = _index_text(work)
        with pytest.raises(GTOError, match="already used by artifact 'rf'"):
            annotate(git, "nn", config=CONFIG, path="./models/a.pkl")
    assert _index_text(work) == before


def test_allow_same_path_shares_a_path(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, path="models/a.pkl")
        annotate(git, "nn", config=CONFIG, path="models/a.pkl", allow_same_path=True)
        # Re-annotating an artifact with its own path is not a new conflict.
        annotate(git, "nn", config=CONFIG, path="models/a.pkl", type="model")
    assert {e.path for e in _entries(work).values()} == {"models/a.pkl"}


# -- validation -----------------------------------------------------------------------


def test_type_must_be_allowed_by_config(work: Path) -> None:
    config = Config(types=("model", "dataset"))
    with _git(work) as git:
        with pytest.raises(GTOError) as caught:
            annotate(git, "rf", config=config, type="other")
        assert str(caught.value) == "Allowed types are: '['model', 'dataset']'"
        assert annotate(git, "rf", config=config, type="dataset").type == "dataset"


def test_an_empty_types_list_forbids_every_type(work: Path) -> None:
    with _git(work) as git, pytest.raises(GTOError, match=r"Allowed types are: '\[\]'"):
        annotate(git, "rf", config=Config(types=()), type="model")


@pytest.mark.parametrize(
    ("name", "type_", "labels", "bad"),
    [
        ("-rf", None, [], "-rf"),
        ("a:b:c", None, [], "a:b:c"),
        ("rf", "my type", [], "my type"),
        ("rf", "model", ["ok", "not ok!"], "not ok!"),
        ("rf", None, ["trailing-"], "trailing-"),
    ],
)
def test_invalid_names_are_rejected_before_the_file_is_touched(
    work: Path, name: str, type_: str | None, labels: list[str], bad: str
) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)
    with _git(work) as git, pytest.raises(InvalidName) as caught:
        annotate(git, name, config=CONFIG, type=type_, labels=labels)
    assert caught.value.value == bad
    assert _index_text(work) == ORIGINAL


def test_custom_must_be_plain_data(work: Path) -> None:
    with _git(work) as git, pytest.raises(GTOError, match="plain YAML data"):
        annotate(git, "rf", config=CONFIG, custom={"when": object()})


# -- remove ---------------------------------------------------------------------------


def test_remove_an_existing_entry(work: Path) -> None:
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model")
        annotate(git, "nn", config=CONFIG, type="model")
        assert remove(git, "rf", config=CONFIG) is True
    assert _index_text(work) == "nn:\n  type: model\n"


def test_remove_a_missing_entry_changes_nothing(work: Path) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)
    with _git(work) as git:
        assert remove(git, "absent", config=CONFIG) is False
    assert _index_text(work) == ORIGINAL


def test_remove_without_a_file_creates_none(work: Path) -> None:
    with _git(work) as git:
        assert remove(git, "rf", config=CONFIG) is False
    assert not (work / "artifacts.yaml").exists()


def test_remove_validates_the_name(work: Path) -> None:
    with _git(work) as git, pytest.raises(InvalidName):
        remove(git, "no good", config=CONFIG)


# -- layout preservation ----------------------------------------------------------------


def _edit_original(work: Path) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)


def test_new_entry_leaves_every_other_byte_alone(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        annotate(git, "fresh", config=CONFIG, type="model", labels=["x"])
    head, _ = ORIGINAL.split("# end of file\n")
    # Four-space indentation, as the file's first block entry uses.
    added = "fresh:\n    type: model\n    labels:\n        - x\n"
    assert _index_text(work) == head + added + "# end of file\n"


def test_editing_a_field_changes_only_its_line(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        annotate(git, "model-a", config=CONFIG, type="dataset")
    expected = ORIGINAL.replace("    type: model        # odd", "    type: dataset        # odd")
    assert _index_text(work) == expected


def test_new_fields_go_after_the_entry_and_labels_replace_their_block(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        annotate(git, "model-a", config=CONFIG, labels=["new"], custom={"k": "v"})
    expected = ORIGINAL.replace(
        "        - prod\n        - 'baseline'\n",
        "        - baseline\n        - new\n        - prod\n",
    ).replace("      description\n", "      description\n    custom:\n        k: v\n")
    assert _index_text(work) == expected


def test_a_flow_entry_is_rewritten_in_flow_style_on_its_own_line(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        annotate(git, "data/raw:dataset", config=CONFIG, labels=["zz"])
    old_line = (
        "data/raw:dataset: {type: dataset, path: 'data/raw.csv',  labels: [raw,  v1]}   # flow\n"
    )
    new_line = (
        "data/raw:dataset: {type: dataset, path: data/raw.csv, labels: [raw, v1, zz]}   # flow\n"
    )
    assert _index_text(work) == ORIGINAL.replace(old_line, new_line)


def test_a_flow_field_keeps_flow_style_and_its_comment(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        annotate(git, "quoted-name", config=CONFIG, custom={"a": 2})
    expected = ORIGINAL.replace(
        '  custom: {a: 1, "b": [x, y]}   # flow custom', "  custom: {a: 2}   # flow custom"
    )
    assert _index_text(work) == expected


def test_remove_takes_the_entry_and_its_indented_comments_only(work: Path) -> None:
    _edit_original(work)
    with _git(work) as git:
        assert remove(git, "quoted-name", config=CONFIG)
        assert remove(git, "model-a", config=CONFIG)
    assert _index_text(work) == (
        "# Registry of artifacts: keep it tidy!\n"
        "\n"
        "# --- datasets ---\n"
        "data/raw:dataset: {type: dataset, path: 'data/raw.csv',  labels: [raw,  v1]}   # flow\n"
        "# end of file\n"
    )


def test_crlf_line_endings_are_kept(work: Path) -> None:
    (work / "artifacts.yaml").write_bytes(b"a:\r\n  type: x\r\nb: {}\r\n")
    with _git(work) as git:
        annotate(git, "a", config=CONFIG, path="p")
        annotate(git, "c", config=CONFIG)
    assert (work / "artifacts.yaml").read_bytes() == (
        b"a:\r\n  type: x\r\n  path: p\r\nb: {}\r\nc: {}\r\n"
    )


def test_a_missing_final_newline_is_added(work: Path) -> None:
    (work / "artifacts.yaml").write_bytes(b"a:\n  type: x")
    with _git(work) as git:
        annotate(git, "b", config=CONFIG)
    assert _index_text(work) == "a:\n  type: x\nb: {}\n"


def test_a_flow_style_document_falls_back_to_a_round_trip(work: Path) -> None:
    _write(work / "artifacts.yaml", "{a: {type: x}}  # all in one\n")
    with _git(work) as git:
        annotate(git, "b", config=CONFIG, type="y")
        annotate(git, "a", config=CONFIG, labels=["l"])
    assert _entries(work) == {
        "a": Annotation(type="x", labels=("l",)),
        "b": Annotation(type="y"),
    }
    assert "# all in one" in _index_text(work)


def test_a_comment_only_file_gets_its_first_entry(work: Path) -> None:
    _write(work / "artifacts.yaml", "# artifacts go here\n")
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model")
    assert _index_text(work) == "# artifacts go here\nrf:\n  type: model\n"


def test_an_entry_shared_through_an_anchor_is_not_changed_behind_the_users_back(
    work: Path,
) -> None:
    text = "a: &shared\n  type: x\nb: *shared\n"
    _write(work / "artifacts.yaml", text)
    with _git(work) as git, pytest.raises(GTOError, match="share YAML anchors"):
        annotate(git, "a", config=CONFIG, type="y")
    assert _index_text(work) == text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_file_mode_survives_the_atomic_replace(work: Path) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)
    os.chmod(work / "artifacts.yaml", 0o640)
    with _git(work) as git:
        annotate(git, "fresh", config=CONFIG)
    assert stat.S_IMODE(os.stat(work / "artifacts.yaml").st_mode) == 0o640
    assert sorted(p.name for p in work.iterdir() if p.name != ".git") == [
        "artifacts.yaml",
        "data",
        "models",
    ]


def test_a_configured_index_file_in_a_subdirectory(work: Path) -> None:
    config = Config(index="meta/registry.yaml")
    with _git(work) as git:
        annotate(git, "rf", config=config, type="model")
    assert (work / "meta" / "registry.yaml").read_text() == "rf:\n  type: model\n"
    assert not (work / "meta" / "registry.yaml.lock").exists()


def test_an_index_outside_the_work_tree_is_refused(work: Path) -> None:
    with _git(work) as git, pytest.raises(GTOError, match="inside the work tree"):
        annotate(git, "rf", config=Config(index="../outside.yaml"))


# -- safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: [unclosed\n",
        "- just\n- a list\n",
        "rf:\n  type: model\n  colour: red\n",
        "not valid!: {}\n",
        "rf:\n  labels: notalist\n",
        "rf: {}\nrf: {}\n",
    ],
    ids=["bad-yaml", "not-a-mapping", "unknown-field", "bad-name", "bad-labels", "duplicate"],
)
def test_a_corrupt_file_is_reported_and_left_untouched(work: Path, text: str) -> None:
    (work / "artifacts.yaml").write_bytes(text.encode())
    with _git(work) as git:
        with pytest.raises(AnnotationsError, match="doesn't conform to GTO format"):
            annotate(git, "other", config=CONFIG, type="model")
        with pytest.raises(AnnotationsError):
            remove(git, "rf", config=CONFIG)
    assert (work / "artifacts.yaml").read_bytes() == text.encode()
    assert not (work / "artifacts.yaml.lock").exists()


def test_a_bare_repository_has_no_file_to_edit(tmp_path: Path) -> None:
    porcelain.init(str(tmp_path / "bare.git"), bare=True).close()
    with _git(tmp_path / "bare.git") as git:
        with pytest.raises(GTOError, match="bare repository"):
            annotate(git, "rf", config=CONFIG, type="model")
        with pytest.raises(GTOError, match="bare repository"):
            remove(git, "rf", config=CONFIG)


def test_a_stale_lock_is_reported_and_kept(work: Path) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)
    lock = work / "artifacts.yaml.lock"
    lock.write_text("someone else\n")
    with _git(work) as git, pytest.raises(IndexLocked) as caught:
        annotate(git, "rf", config=CONFIG, type="model", lock_timeout=0.2)
    assert str(caught.value) == (
        f"artifacts.yaml is locked by another process ({lock}); remove it if no gto is running"
    )
    assert "\n" not in str(caught.value)
    assert lock.read_text() == "someone else\n"
    assert _index_text(work) == ORIGINAL


def test_a_lock_released_while_waiting_is_taken(work: Path) -> None:
    lock = work / "artifacts.yaml.lock"
    lock.write_text("")
    release = threading.Timer(0.2, lock.unlink)
    release.start()
    try:
        with _git(work) as git:
            annotate(git, "rf", config=CONFIG, type="model", lock_timeout=5)
    finally:
        release.join()
    assert _entries(work) == {"rf": Annotation(type="model")}
    assert not lock.exists()


def test_the_lock_is_removed_after_a_failure(work: Path) -> None:
    with _git(work) as git, pytest.raises(GTOError):
        annotate(git, "rf", config=CONFIG, path="nowhere", must_exist=True)
    assert not (work / "artifacts.yaml.lock").exists()


def test_a_lock_replaced_by_another_process_is_not_deleted(tmp_path: Path) -> None:
    target = tmp_path / "artifacts.yaml"
    lock = tmp_path / "artifacts.yaml.lock"
    with locked(target, timeout=0):
        assert lock.exists()
        # Someone declared ours stale, removed it and took the lock themselves.
        lock.unlink()
        lock.write_text("theirs\n")
    assert lock.read_text() == "theirs\n"


_WORKER = """
import sys
from gto_dulwich.config import Config
from gto_dulwich.index_edit import annotate
from gto_dulwich.repo import GitRepo
import ruamel.yaml

root, name = sys.argv[1], sys.argv[2]
with GitRepo.open(root) as git:
    sys.stdin.readline()  # start together, to contend for the lock
    annotate(git, name, config=Config(), type="model", path=f"models/{name}.pkl", lock_timeout=30)
"""


def test_concurrent_annotations_are_all_kept(work: Path) -> None:
    _write(work / "artifacts.yaml", ORIGINAL)
    names = [f"model-{i}" for i in range(6)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTO_")}
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", _WORKER, str(work), name],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
            for name in names
        ]
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
    entries = _entries(work)
    assert set(names) <= set(entries)
    assert {entries[n].path for n in names} == {f"models/{n}.pkl" for n in names}
    assert {"model-a", "data/raw:dataset", "quoted-name"} <= set(entries)
    assert _index_text(work).startswith(ORIGINAL.split("# end of file\n", maxsplit=1)[0])
    assert not (work / "artifacts.yaml.lock").exists()


def test_a_comment_after_a_replaced_value_stays_with_its_key(work: Path) -> None:
    _write(work / "artifacts.yaml", "rf:  # the model\nnn:\n  labels: [a]  # few\n")
    with _git(work) as git:
        annotate(git, "rf", config=CONFIG, type="model")
        annotate(git, "nn", config=CONFIG, labels=["b"])
        annotate(git, "nn", config=CONFIG, description="two\nlines")
    assert _index_text(work) == (
        "rf:  # the model\n"
        "  type: model\n"
        "nn:\n"
        "  labels: [a, b]  # few\n"
        "  description: |-\n"
        "    two\n"
        "    lines\n"
    )


def test_a_byte_order_mark_is_kept(work: Path) -> None:
    (work / "artifacts.yaml").write_bytes("\ufeffa:\n  type: x\n".encode())
    with _git(work) as git:
        annotate(git, "b", config=CONFIG)
        assert remove(git, "a", config=CONFIG)
    assert (work / "artifacts.yaml").read_bytes() == "\ufeffb: {}\n".encode()


def test_a_stale_index_lock_is_named_after_gto_dulwich_lock_timeout(tmp_path: Path) -> None:
    """`annotate` on the CLI waits as long as every writer does, then names the lock."""
    from tests.helpers import build_fixture, run_cli

    repo = tmp_path / "repo"
    build_fixture("showcase", repo)
    (repo / "artifacts.yaml.lock").write_text("12345 stale\n")
    before = (repo / "artifacts.yaml").read_bytes()
    result = run_cli(
        ["annotate", "new", "--type", "model"],
        cwd=repo,
        env={"GTO_DULWICH_LOCK_TIMEOUT": "0.1"},
    )
    assert result.exit_code == 1
    assert "artifacts.yaml.lock" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (repo / "artifacts.yaml").read_bytes() == before
    assert (repo / "artifacts.yaml.lock").exists()
