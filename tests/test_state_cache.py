"""The state cache (what ``show`` prints, by fingerprint) never changes an answer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, ObjectID, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from gto_dulwich import api, registry, statecache
from gto_dulwich.config import Config
from gto_dulwich.facts import RefEntry, TagFact
from gto_dulwich.repo import GitRepo
from tests.helpers import FIXTURES, build_fixture, run_cli, run_process

COMMANDS = [
    ["show", "--json"],
    ["show", "-d", "--plain"],
    ["-v", "show", "--plain"],
    ["show", "--vs", "-1", "--av", "1", "--sort", "semver", "--ro", "--json"],
    ["stages", "--json"],
    ["history", "--json"],
    ["history", "--asc", "--plain"],
    ["-v", "history", "--plain"],
]
# doctor prints its configuration before it reads the tags only when the read is lazy
# (caches on), so it is held to its own cold answer, not to --no-cache's.
CACHED_COMMANDS = [*COMMANDS, ["doctor"]]
FIXTURE_NAMES = sorted(p.stem for p in (FIXTURES / "golden").glob("*.json"))
OFF = {"GTO_DULWICH_NO_CACHE": "1"}
Outputs = list[tuple[int, str, str]]


def outputs(
    repo: Path,
    env: dict[str, str] | None = None,
    flags: Sequence[str] = (),
    commands: Sequence[list[str]] = COMMANDS,
) -> Outputs:
    results = []
    for args in commands:
        result = run_cli([*flags, *args], cwd=repo, env={"GTO_EMOJIS": "false", **(env or {})})
        results.append((result.exit_code, result.stdout, result.stderr))
    return results


def state_file(repo: Path) -> Path:
    return repo / ".git" / statecache.FILE_NAME


def entries(repo: Path) -> list[dict[str, object]]:
    path = state_file(repo)
    return json.loads(path.read_bytes())["entries"] if path.exists() else []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_cold_warm_corrupt_foreign_and_off_give_the_same_output(name: str, tmp_path: Path) -> None:
    repo = build_fixture(name, tmp_path / "repo").path
    without = outputs(repo, OFF)
    assert outputs(repo, flags=["--no-cache"]) == without
    assert not state_file(repo).exists()
    assert outputs(repo) == without  # cold: computed and stored
    assert outputs(repo) == without  # warm: from the cache
    text = state_file(repo).read_text() if state_file(repo).exists() else ""
    for damaged in (
        b"\x00 not json",
        text.replace('"version":1', '"version":999').encode(),
        text.replace('"views":{', '"views":{"0 -1 1 timestamp":[[],[[1,2,3,4,5]]],', 1).encode(),
        text.replace('"diagnostics":[', '"diagnostics":[7,', 1).encode(),
    ):
        state_file(repo).write_bytes(damaged)
        assert outputs(repo) == without


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_doctor_answers_the_same_warm(name: str, tmp_path: Path) -> None:
    repo = build_fixture(name, tmp_path / "repo").path
    cold = run_cli(["doctor"], cwd=repo, env={"GTO_EMOJIS": "false"})
    warm = run_cli(["doctor"], cwd=repo, env={"GTO_EMOJIS": "false"})
    assert (warm.exit_code, warm.stdout, warm.stderr) == (cold.exit_code, cold.stdout, cold.stderr)


def test_a_warm_show_reads_no_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = build_fixture("showcase", tmp_path / "repo").path
    expected = outputs(repo, flags=(), commands=CACHED_COMMANDS)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the registry was read")

    monkeypatch.setattr(registry, "read_state", fail)
    monkeypatch.setattr(GitRepo, "tag_ref_map", fail)
    env = {"GTO_EMOJIS": "false"}  # part of the config, so of the fingerprint
    # history, doctor and -v included: their answers are kept under the same fingerprint.
    again = [run_cli(c, cwd=repo, env=env) for c in CACHED_COMMANDS]
    assert [(r.exit_code, r.stdout, r.stderr) for r in again] == expected


@pytest.mark.parametrize("name", ["showcase", "every_event", "tag_of_tag", "frozen"])
def test_a_damaged_or_stale_history_file_is_a_miss(name: str, tmp_path: Path) -> None:
    repo = build_fixture(name, tmp_path / "repo").path
    without = outputs(repo, OFF)
    assert outputs(repo) == without
    path = repo / ".git" / statecache.HISTORY_FILE_NAME
    text = path.read_text()
    assert '"events":[' in text
    for damaged in (
        b"[]",
        text.replace('"key":"', '"key":"0', 1).encode(),
        text.replace('"events":[', '"events":[7,', 1).encode(),
        text.replace('"events":["', '"events":["nonsense\\u0000', 1).encode(),
        text.replace("+00:00", "+99:99").encode(),  # timestamps that do not parse
        text.replace('"events":["', '"events":["x\\u0000', 1).encode(),
    ):
        path.write_bytes(damaged)
        state_file(repo).unlink()
        assert outputs(repo) == without


def _add_tag(repo: Path, name: str, target: str, when: int) -> str:
    """An annotated tag object and its loose ref, as a fetch or another writer leaves them."""
    with Repo(str(repo)) as dulwich_repo:
        tag = Tag()
        tag.name = name.encode()
        tag.object = (Commit, target.encode())
        tag.tagger = b"Someone <someone@example.com>"
        tag.tag_time = when
        tag.tag_timezone = 0
        tag.message = b"added later\n"
        dulwich_repo.object_store.add_object(tag)
        ref = repo / ".git" / "refs" / "tags" / name
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_bytes(tag.id + b"\n")
        return tag.id.decode()


@pytest.mark.parametrize("name", ["showcase", "every_event", "detached_packed"])
def test_adding_and_removing_tags_is_seen(name: str, tmp_path: Path) -> None:
    built = build_fixture(name, tmp_path / "repo")
    repo = built.path
    assert outputs(repo) == outputs(repo, OFF)
    commit = next(iter(built.commits.values()))
    for number, tag in enumerate(["late@v1.0.0", "late#prod#1", "late@v1.0.0!"]):
        _add_tag(repo, tag, commit, 1_900_000_000 + number)
        without = outputs(repo, OFF)
        assert outputs(repo) == without
        assert outputs(repo) == without  # warm
    # Removing a loose tag ref, then a packed one.
    (repo / ".git" / "refs" / "tags" / "late#prod#1").unlink()
    assert outputs(repo) == outputs(repo, OFF)
    packed = repo / ".git" / "packed-refs"
    if packed.exists():
        lines = packed.read_bytes().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if b" refs/tags/" in line)
        end = at + 2 if at + 1 < len(lines) and lines[at + 1].startswith(b"^") else at + 1
        packed.write_bytes(b"".join(lines[:at] + lines[end:]))
        assert outputs(repo) == outputs(repo, OFF)
    else:
        tags = sorted((repo / ".git" / "refs" / "tags").rglob("*@*"))
        tags[0].unlink()
        assert outputs(repo) == outputs(repo, OFF)


def test_moving_head_and_changing_config_are_seen(tmp_path: Path) -> None:
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    head_file = repo / ".git" / "HEAD"
    assert outputs(repo) == outputs(repo, OFF)
    for commit in built.commits.values():  # detached at each commit: artifacts.yaml differs
        head_file.write_text(commit + "\n")
        assert outputs(repo) == outputs(repo, OFF)
    head_file.write_text("ref: refs/heads/main\n")
    for env in ({"GTO_STAGES": '["production"]'}, {"GTO_INDEX": "other.yaml"}, {}):
        assert outputs(repo, env) == outputs(repo, {**OFF, **env})
    (repo / ".gto").write_text("stages: [staging]\n")
    assert outputs(repo) == outputs(repo, OFF)
    assert len(entries(repo)) <= statecache.MAX_ENTRIES


def test_a_read_with_a_missing_object_is_not_stored(tmp_path: Path) -> None:
    """A tag whose object has not arrived yet must not freeze the answer."""
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    commit = built.commits["c2"]
    tag = Tag()
    tag.name = b"rf@v9.0.0"
    tag.object = (Commit, commit.encode())
    tag.tagger = b"Someone <someone@example.com>"
    tag.tag_time = 1_900_000_000
    tag.tag_timezone = 0
    tag.message = b"fetched later\n"
    (repo / ".git" / "refs" / "tags" / "rf@v9.0.0").write_bytes(tag.id + b"\n")
    state_file(repo).unlink(missing_ok=True)
    before = outputs(repo)
    assert before == outputs(repo, OFF)
    assert entries(repo) == []
    with Repo(str(repo)) as dulwich_repo:
        dulwich_repo.object_store.add_object(tag)
    after = outputs(repo)
    assert after == outputs(repo, OFF)
    assert after != before


def test_a_missing_commit_is_not_stored(tmp_path: Path) -> None:
    """An assignment to a commit we do not have (a shallow clone): read, not cached."""
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    absent = Commit()
    absent.tree = _tree_of(repo, built.commits["c3"])
    absent.parents = [ObjectID(built.commits["c3"].encode())]
    absent.author = absent.committer = b"Someone <someone@example.com>"
    absent.author_time = absent.commit_time = 1_800_000_000
    absent.author_timezone = absent.commit_timezone = 0
    absent.message = b"not fetched\n"
    _add_tag(repo, "rf#qa#9", absent.id.decode(), 1_900_000_000)
    state_file(repo).unlink(missing_ok=True)
    # Rows do not depend on commit metadata: the per-artifact path answers and stores them.
    assert outputs(repo) == outputs(repo, OFF)
    assert not full_read_stores(repo)
    with Repo(str(repo)) as dulwich_repo:
        dulwich_repo.object_store.add_object(absent)
    assert full_read_stores(repo)
    assert outputs(repo) == outputs(repo, OFF)


def test_a_commit_without_its_tree_is_not_stored(tmp_path: Path) -> None:
    """A partial clone (``--filter=tree:0``) has the commit, not yet its artifacts.yaml."""
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    blob = Blob.from_string(b"rf:\n  type: model\n  path: later.pkl\n")
    tree = Tree()
    tree.add(b"artifacts.yaml", 0o100644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.parents = [ObjectID(built.commits["c3"].encode())]
    commit.author = commit.committer = b"Someone <someone@example.com>"
    commit.author_time = commit.commit_time = 1_800_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"tree not fetched\n"
    with Repo(str(repo)) as dulwich_repo:
        dulwich_repo.object_store.add_object(commit)
    _add_tag(repo, "rf#qa#9", commit.id.decode(), 1_900_000_000)
    state_file(repo).unlink(missing_ok=True)
    assert outputs(repo) == outputs(repo, OFF)
    assert not full_read_stores(repo)
    with Repo(str(repo)) as dulwich_repo:
        dulwich_repo.object_store.add_objects([(tree, None), (blob, None)])
    assert full_read_stores(repo)
    assert outputs(repo) == outputs(repo, OFF)


def full_read_stores(repo: Path) -> bool:
    """Read the whole registry, then show: whether that answer was stored."""
    state_file(repo).unlink(missing_ok=True)
    with api.Registry.open(repo) as registry:
        assert registry.state is not None
        api.show(registry)
    return entries(repo) != []


def _tree_of(repo: Path, commit: str) -> bytes:
    with Repo(str(repo)) as dulwich_repo:
        obj = dulwich_repo[commit.encode()]
        assert isinstance(obj, Commit)
        tree: bytes = obj.tree
        return tree


def test_a_ref_written_during_the_read_is_not_filed_under_the_old_refs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    real = GitRepo.tag_ref_map
    added: list[str] = []

    def racing(
        self: GitRepo, prefixes: Sequence[str] | None = None
    ) -> dict[bytes, tuple[bytes, bytes | None]]:
        listed = real(self, prefixes)
        name = f"rf#racer#{len(added) + 1}"
        _add_tag(repo, name, built.commits["c3"], 1_900_000_000 + len(added))
        added.append(name)
        return listed

    monkeypatch.setattr(GitRepo, "tag_ref_map", racing)
    run_cli(["show", "--json"], cwd=repo)  # per-artifact summaries
    assert entries(repo) == []
    assert full_read_stores(repo) is False  # the whole registry
    monkeypatch.setattr(GitRepo, "tag_ref_map", real)
    assert len(added) == 2
    assert outputs(repo) == outputs(repo, OFF)


def test_the_fingerprint_covers_refs_head_objects_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_fixture("detached_packed", tmp_path / "repo")
    repo = built.path

    def key(config: Config | None = None, enrich_all: bool = False) -> str | None:
        with GitRepo.open(repo) as git:
            return statecache.fingerprint(git, config or Config(), enrich_all=enrich_all)

    seen = {key()}
    assert key() in seen  # stable
    changes: list[Callable[[], object]] = [
        lambda: (repo / ".git" / "packed-refs").write_bytes(
            (repo / ".git" / "packed-refs").read_bytes() + b"\n"
        ),
        lambda: (repo / ".git" / "refs" / "tags" / "x").write_text("0" * 40 + "\n"),
        lambda: (repo / ".git" / "HEAD").write_text("ref: refs/heads/other\n"),
        lambda: (repo / ".git" / "shallow").write_text("1" * 40 + "\n"),
    ]
    for change in changes:
        change()
        assert key() not in seen
        seen.add(key())
    assert key(Config(stages=("prod",))) not in seen
    assert key(enrich_all=True) not in seen
    monkeypatch.setattr(statecache, "__version__", "another")
    assert key() not in seen  # another release of ours never reads this one's answers


def test_concurrent_processes_agree_and_leave_a_whole_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = build_fixture("every_event", tmp_path / "repo").path
    expected = run_cli(["show", "--json"], cwd=repo, env=OFF).stdout
    script = Path(sys.executable).parent / "gto"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GTO_"))}
    processes = [
        subprocess.Popen(
            [str(script), "show", "--json"],
            cwd=repo,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        assert stdout == expected
    assert len(entries(repo)) == 1
    assert run_process(["show", "--json"], cwd=repo).stdout == expected


def groups_file(repo: Path) -> Path:
    return repo / ".git" / statecache.GROUPS_FILE_NAME


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_per_artifact_summaries_give_the_full_answer(name: str, tmp_path: Path) -> None:
    repo = build_fixture(name, tmp_path / "repo").path
    without = outputs(repo, OFF)
    assert outputs(repo) == without
    state_file(repo).unlink(missing_ok=True)  # only the per-artifact summaries are left
    assert outputs(repo) == without
    text = groups_file(repo).read_text() if groups_file(repo).exists() else ""
    for damaged in (
        text.replace('"clean":true', '"clean":1').encode(),
        text.replace('"first":[', '"first":["x",', 1).encode(),
        text.replace('"used":[', '"used":[7,', 1).encode(),
    ):
        groups_file(repo).write_bytes(damaged)
        state_file(repo).unlink(missing_ok=True)
        assert outputs(repo) == without


def test_one_new_tag_reads_only_its_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    assert outputs(repo) == outputs(repo, OFF)
    read: list[str] = []
    real = GitRepo.read_tag

    def counting(
        self: GitRepo, entry: RefEntry, location: tuple[int, int] | None = None
    ) -> TagFact:
        read.append(entry.name)
        return real(self, entry, location)

    monkeypatch.setattr(GitRepo, "read_tag", counting)
    _add_tag(repo, "nn#production#9", built.commits["c2"], 1_900_000_000)
    result = run_cli(["show", "--json"], cwd=repo)
    assert read
    assert all(name.startswith(("nn@", "nn#")) for name in read)
    monkeypatch.setattr(GitRepo, "read_tag", real)
    assert result.stdout == run_cli(["show", "--json"], cwd=repo, env=OFF).stdout


def test_a_tag_object_named_for_another_artifact_reads_everything(tmp_path: Path) -> None:
    """Its event belongs to the artifact its object names: the summaries give up."""
    built = build_fixture("showcase", tmp_path / "repo")
    repo = built.path
    sha = _add_tag(repo, "nn@v7.0.0", built.commits["c3"], 1_900_000_000)
    (repo / ".git" / "refs" / "tags" / "nn@v7.0.0").unlink()
    (repo / ".git" / "refs" / "tags" / "zz@v7.0.0").write_text(sha + "\n")
    assert outputs(repo) == outputs(repo, OFF)
    assert outputs(repo) == outputs(repo, OFF)


@pytest.mark.parametrize("seed", range(8))
def test_random_registries_read_the_same_every_way(seed: int, tmp_path: Path) -> None:
    """Ties in time (also across time zones), every event kind, several artifacts."""
    import random

    rng = random.Random(seed)
    repo = tmp_path / "repo"
    dulwich_repo = Repo.init(str(repo), mkdir=True)
    commits: list[Commit] = []
    with dulwich_repo:
        for number in range(3):
            listed = rng.sample(["a", "b", "d:c", "x/y", "only"], rng.randint(0, 5))
            blob = Blob.from_string("".join(f"{n}:\n  type: model\n" for n in listed).encode())
            tree = Tree()
            tree.add(b"artifacts.yaml", 0o100644, blob.id)
            commit = Commit()
            commit.tree = tree.id
            commit.parents = [commits[-1].id] if commits else []
            commit.author = commit.committer = b"Someone <someone@example.com>"
            commit.author_time = commit.commit_time = 1_700_000_000 + number
            commit.author_timezone = commit.commit_timezone = 0
            commit.message = f"commit {number}\n".encode()
            dulwich_repo.object_store.add_objects([(blob, None), (tree, None), (commit, None)])
            commits.append(commit)
        dulwich_repo.refs[Ref(b"refs/heads/master")] = commits[-1].id
        dulwich_repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/master"))
        names: set[str] = set()
        for _ in range(rng.randint(5, 40)):
            artifact = rng.choice(["a", "b", "d=c", "x/y"])
            kind = rng.randrange(5)
            counter = rng.randint(1, 99)
            stage = rng.choice(["dev", "prod"])
            version = f"v{rng.randint(0, 2)}.{rng.randint(0, 2)}.0"
            name = (
                f"{artifact}@{version}",
                f"{artifact}@{version}!",
                f"{artifact}#{stage}#{counter}",
                f"{artifact}#{stage}!#{counter}",
                f"{artifact}@deprecated",
            )[kind]
            if name in names:
                continue
            names.add(name)
            tag = Tag()
            tag.name = name.encode()
            tag.object = (Commit, rng.choice(commits).id)
            tag.tagger = b"Someone <someone@example.com>"
            tag.tag_timezone = rng.choice([0, 3600, -7200])
            tag.tag_time = 1_800_000_000 + rng.randint(0, 3) * 3600 - tag.tag_timezone
            tag.message = b"m\n"
            dulwich_repo.object_store.add_object(tag)
            dulwich_repo.refs[Ref(b"refs/tags/" + name.encode())] = tag.id
    without = outputs(repo, OFF)
    assert outputs(repo) == without
    state_file(repo).unlink()
    assert outputs(repo) == without


def test_a_state_file_entry_round_trips_and_a_damaged_one_is_a_miss() -> None:
    from gto_dulwich.events import Diagnostic
    from gto_dulwich.queries import RegistryRow

    entry = statecache.Entry(
        "k",
        (Diagnostic("refs/tags/x", "why", "error"),),
        ("prod",),
        {
            "0 -1 1 timestamp": (
                ("prod",),
                (RegistryRow("a", "v1.0.0", {"prod": ["v1.0.0"]}, True, True),),
            )
        },
    )
    assert statecache.Entry.from_dict(entry.to_dict()) == entry
    damaged = entry.to_dict()
    damaged["views"]["0 -1 1 timestamp"][1][0][3] = "yes"
    assert statecache.Entry.from_dict(damaged) is None


def test_a_group_summary_round_trips_and_a_damaged_one_is_read_again() -> None:
    summary = statecache.Summary(
        True,
        "a",
        (None, (1700000000, "a@v1.0.0"), None),
        ("prod",),
        {"0 -1 1 timestamp": ("v1.0.0", {"prod": ["v1.0.0"]}, True, True)},
    )
    assert statecache.Summary.from_dict(summary.to_dict()) == summary
    assert statecache.Summary.from_dict({"clean": False, "junk": 1}) == statecache.Summary(False)
    damaged = summary.to_dict()
    damaged["first"] = [None, None, None]
    assert statecache.Summary.from_dict(damaged) is None


def _history_rows(repo: Path) -> list[str]:
    assert run_cli(["history", "--json"], cwd=repo).exit_code == 0
    path = repo / ".git" / statecache.HISTORY_FILE_NAME
    rows = json.loads(path.read_bytes())["events"]
    assert rows
    assert all(isinstance(row, str) for row in rows)
    return [str(row) for row in rows]


@pytest.mark.parametrize("name", ["showcase", "every_event"])
def test_a_history_row_is_one_record_both_ways(name: str, tmp_path: Path) -> None:
    rows = _history_rows(build_fixture(name, tmp_path / "repo").path)
    for row in rows:
        event = statecache.from_row(row)
        assert event is not None
        assert statecache.to_row(event) == row


def test_a_malformed_history_row_is_none(tmp_path: Path) -> None:
    row = _history_rows(build_fixture("every_event", tmp_path / "repo").path)[0]
    fields = row.split("\x00")

    def changed(index: int, value: str) -> str:
        return "\x00".join([*fields[:index], value, *fields[index + 1 :]])

    for damaged in (
        None,
        7,
        ["a"],
        row.encode(),
        "",
        row + "\x00",
        "\x00".join(fields[:-1]),
        changed(0, "promoted"),  # no such kind
        changed(4, "2024-01-01T00:00:00"),  # no zone
        changed(4, "2024-01-01T00:00:00+99:99"),
        changed(4, "yesterday"),
        changed(8, "1.0.0"),  # a version is stored as v1.0.0
        changed(9, "prod"),  # a stage as sprod
        changed(10, "-1"),
        changed(10, " 1"),
        changed(10, "1.0"),
        changed(10, "١"),  # a digit, but not one the writer writes
    ):
        assert statecache.from_row(damaged) is None, damaged


def test_an_event_with_a_nul_is_not_stored(tmp_path: Path) -> None:
    row = _history_rows(build_fixture("showcase", tmp_path / "repo").path)[0]
    event = statecache.from_row(row)
    assert event is not None
    assert statecache.to_row(event._replace(message="a\x00b")) is None


def test_a_history_file_that_is_not_a_regular_file_is_a_miss(tmp_path: Path) -> None:
    repo = build_fixture("showcase", tmp_path / "repo").path
    without = outputs(repo, OFF)
    path = repo / ".git" / statecache.HISTORY_FILE_NAME
    os.mkfifo(path)  # reading it would wait for a writer forever
    assert outputs(repo) == without
    assert path.is_file()  # replaced by a whole file (a rename, never a write into the FIFO)
