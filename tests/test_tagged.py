"""Tagged artifacts: names carry the commit and a stable config hash, read at call time.

Every test runs with a PATH that holds no ``git`` and a HOME with no git
config (see ``_no_git_binary_and_no_user_config``); repositories are built
with dulwich only.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, assert_type

import pytest
from click.testing import CliRunner
from dulwich import porcelain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gto_dulwich
from gto_dulwich import Artifact
from gto_dulwich.errors import (
    ArtifactArgumentError,
    DirtyWorkTreeError,
    GTOError,
    NoCommitsError,
    NotARepository,
    TaggedFileNotFoundError,
    UnsupportedConfigValue,
)
from gto_dulwich.tagged import (
    DirtyArtifactWarning,
    canonical_config,
    config_hash,
    provenance_path,
    read_repo_state,
    resolve,
    split_suffix,
    tagged_name,
    tagged_path,
)
from gto_dulwich.tagged.cli import tag_path

PROJECT_ROOT = Path(gto_dulwich.__file__).resolve().parent.parent
README = PROJECT_ROOT / "README.md"


def _doc() -> str:
    """The README's "Tagged artifacts" section (up to the next top-level section)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Tagged artifacts\n", 1)[1]
    return section.split("\n## ", 1)[0]


IDENTITY = b"Test Author <author@example.com>"
START = 1_700_000_000
EMPTY_HASH = "a4d0fee78b2337975cb0f31fd773edd750fe0e3acdb1efa214ab8b3cd32fea38"
CONFIG: dict[str, Any] = {"lr": 0.001, "layers": [64, 32], "model": "resnet"}
CONFIG_CANONICAL = (
    '["dict",[[["str","layers"],["list",[["int","64"],["int","32"]]]],'
    '[["str","lr"],["float","0.001"]],[["str","model"],["str","resnet"]]]]'
)
CONFIG_HASH = "c7db56be4893f20e14270c7f763d40d2d32d81b6e0f0bb351d84a6d750b5b42b"
H10 = CONFIG_HASH[:10]


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    ONE = 1


@dataclasses.dataclass(frozen=True)
class Optimizer:
    name: str
    betas: tuple[float, float]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_git_binary_and_no_user_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("bin-without-git")))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _add(root: Path, *names: str) -> None:
    porcelain.add(str(root), paths=[str(root / name) for name in names])


def _commit(root: Path, message: str, offset: int = 0) -> str:
    sha = porcelain.commit(
        str(root),
        message=message.encode(),
        author=IDENTITY,
        committer=IDENTITY,
        author_timestamp=START + offset,
        commit_timestamp=START + offset,
        author_timezone=0,
        commit_timezone=0,
        no_verify=True,
        sign=False,
    )
    return sha.decode("ascii")


def _make_repo(root: Path) -> str:
    root.mkdir(parents=True)
    porcelain.init(str(root)).close()
    _write(root / "tracked.txt", "one\n")
    _write(root / ".gitignore", "ignored/\n")
    _write(root / "src" / "code.py", "print('hi')\n")
    _add(root, "tracked.txt", ".gitignore", "src/code.py")
    return _commit(root, "initial")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean repository with one commit; the current directory is its root."""
    root = tmp_path / "repo"
    _make_repo(root)
    monkeypatch.chdir(root)
    return root


def _head(root: Path) -> str:
    return read_repo_state(root).commit


def _run_python(code: str, cwd: Path, *args: str, hash_seed: str = "0") -> tuple[int, str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def test_tests_run_without_a_git_binary_on_path() -> None:
    assert shutil.which("git") is None


# --------------------------------------------------------------------------- config hash


def test_canonical_config_and_hash_match_the_documented_example() -> None:
    assert canonical_config(CONFIG) == CONFIG_CANONICAL
    assert config_hash(CONFIG) == hashlib.sha256(CONFIG_CANONICAL.encode()).hexdigest()
    assert config_hash(CONFIG) == CONFIG_HASH
    assert config_hash({}) == EMPTY_HASH
    doc = _doc()
    for documented in (CONFIG_CANONICAL, CONFIG_HASH, EMPTY_HASH, f"plot-1a2b3c4-{H10}.png"):
        assert documented in doc


def test_config_hash_is_the_same_in_processes_with_different_hash_seeds(repo: Path) -> None:
    code = (
        "import enum, pathlib\n"
        "from gto_dulwich.tagged import tagged_path\n"
        "class Color(enum.Enum):\n"
        "    RED = 'red'\n"
        "config = {'model': 'resnet', 'tags': ['a', 'b'], 'shape': (3, 4),\n"
        "          'out': pathlib.PurePosixPath('data/x.csv'), 'color': Color.RED,\n"
        "          'nested': {'z': 1.5, 'a': None, 'm': True}}\n"
        "print(tagged_path('plot.png', config))\n"
    )
    names = set()
    for seed in ("1", "2", "12345"):
        code_rc, out, err = _run_python(code, repo, hash_seed=seed)
        assert code_rc == 0, err
        names.add(out.strip())
    assert len(names) == 1
    name = names.pop()
    assert re.fullmatch(rf"plot-{_head(repo)[:7]}-[0-9a-f]{{10}}\.png", name)


def test_config_hash_ignores_key_order_at_every_depth() -> None:
    one = {"a": 1, "b": {"x": [1, 2], "y": {"p": None, "q": "s"}}}
    two = {"b": {"y": {"q": "s", "p": None}, "x": [1, 2]}, "a": 1}
    assert config_hash(one) == config_hash(two)
    assert config_hash(OrderedDict(reversed(list(one.items())))) == config_hash(one)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    st.dictionaries(
        st.text(max_size=5),
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        max_size=8,
    )
)
def test_config_hash_does_not_depend_on_insertion_order(config: dict[str, object]) -> None:
    reordered = dict(reversed(list(config.items())))
    assert config_hash(reordered) == config_hash(config)


def test_different_values_and_types_give_different_hashes() -> None:
    values: list[object] = [
        1,
        1.0,
        True,
        "1",
        [1],
        (1,),
        None,
        "None",
        PurePosixPath("1"),
        b"1",
        Level.ONE,
        {"a": 1},
        {"a": 2},
        {"a": "1"},
        {"b": 1},
        [1, 2],
        [2, 1],
        0.1,
        0.1 + 2e-17,
    ]
    hashes = [config_hash(value) for value in values]
    assert len(set(hashes)) == len(values)


def test_supported_types_serialise_as_documented() -> None:
    value = {
        "out": PureWindowsPath("data\\x.csv"),
        "color": Color.RED,
        "level": Level.ONE,
        "opt": Optimizer("adam", (0.9, 0.999)),
        "seed": None,
        2: b"\x00\xff",
        "floats": [float("nan"), float("-inf"), -0.0, 1e16, 1e-5],
        "big": 10**30,
        "text": 'é\n"',
    }
    assert canonical_config(value) == (
        '["dict",['
        '[["int","2"],["bytes","00ff"]],'
        '[["str","big"],["int","1000000000000000000000000000000"]],'
        '[["str","color"],["enum",["Color",["str","red"]]]],'
        '[["str","floats"],["list",[["float","nan"],["float","-inf"],["float","-0.0"],'
        '["float","1e+16"],["float","1e-05"]]]],'
        '[["str","level"],["enum",["Level",["int","1"]]]],'
        '[["str","opt"],["dataclass",["Optimizer",[["betas",["tuple",[["float","0.9"],'
        '["float","0.999"]]]],["name",["str","adam"]]]]]],'
        '[["str","out"],["path","data/x.csv"]],'
        '[["str","seed"],["none",null]],'
        '[["str","text"],["str","é\\n\\""]]'
        "]]"
    )


def test_unsupported_value_is_an_error_naming_its_key_path() -> None:
    with pytest.raises(UnsupportedConfigValue) as caught:
        config_hash({"model": {"layers": [1, {2, 3}]}})
    message = str(caught.value)
    assert "config['model']['layers'][1]" in message
    assert "builtins.set" in message
    assert "sorted list" in message
    assert isinstance(caught.value, TypeError)


def test_arbitrary_objects_are_rejected_rather_than_repr_hashed() -> None:
    with pytest.raises(UnsupportedConfigValue, match=r"config\['when'\]: unsupported type"):
        config_hash({"when": object()})


def test_a_config_that_contains_itself_is_an_error() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    with pytest.raises(UnsupportedConfigValue, match="contains itself"):
        config_hash({"loop": loop})


def test_unhashable_config_fails_when_decorating() -> None:
    with pytest.raises(UnsupportedConfigValue, match=r"config\['s'\]"):
        Artifact(config={"s": {1}})


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plot.png", "plot-1a2b3c4-5d6e7f8a9b.png"),
        ("model.tar.gz", "model-1a2b3c4-5d6e7f8a9b.tar.gz"),
        ("data.csv.ZST", "data-1a2b3c4-5d6e7f8a9b.csv.ZST"),
        ("run.2024.01.csv", "run.2024.01-1a2b3c4-5d6e7f8a9b.csv"),
        ("Makefile", "Makefile-1a2b3c4-5d6e7f8a9b"),
        (".env", ".env-1a2b3c4-5d6e7f8a9b"),
        (".env.local", ".env-1a2b3c4-5d6e7f8a9b.local"),
        ("archive.gz", "archive-1a2b3c4-5d6e7f8a9b.gz"),
        ("notes.", "notes.-1a2b3c4-5d6e7f8a9b"),
    ],
)
def test_tagged_name_goes_between_stem_and_suffix(name: str, expected: str) -> None:
    commit = "1a2b3c4" + "0" * 33
    digest = "5d6e7f8a9b" + "0" * 54
    assert tagged_name(name, commit=commit, config_hash=digest) == expected


def test_dirty_marker_follows_the_commit() -> None:
    name = tagged_name("plot.png", commit="1a2b3c4d" * 5, config_hash="5d6e7f8a9b" * 7, dirty=True)
    assert name == "plot-1a2b3c4-dirty-5d6e7f8a9b.png"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_split_suffix_rejects_names_that_are_not_one_file_name(name: str) -> None:
    with pytest.raises(ValueError, match="Cannot tag"):
        split_suffix(name)


def _identity_writer(keyword: str = "outpath", **options: Any) -> Callable[..., object]:
    @Artifact(keyword=keyword, **options)
    def write(outpath: object) -> object:
        return outpath

    return write


def test_str_path_gives_str_and_keeps_its_parent(repo: Path) -> None:
    c7 = _head(repo)[:7]

    @Artifact(keyword="outpath", config=CONFIG)
    def save(outpath: str) -> str:
        return outpath

    result = save("out/plots/plot.png")
    assert isinstance(result, str)
    assert result == f"out/plots/plot-{c7}-{H10}.png"
    assert save("./plot.png") == f"./plot-{c7}-{H10}.png"


def test_pathlib_path_gives_path(repo: Path) -> None:
    c7 = _head(repo)[:7]

    @Artifact(keyword="outpath", config=CONFIG)
    def save(outpath: Path) -> Path:
        return outpath

    result = save(repo / "out" / "model.tar.gz")
    assert type(result) is type(repo)
    assert result == repo / "out" / f"model-{c7}-{H10}.tar.gz"


def test_directory_output_is_tagged_and_keeps_its_parent(repo: Path) -> None:
    c7 = _head(repo)[:7]
    assert tagged_path("out/run/", CONFIG) == f"out/run-{c7}-{H10}/"
    assert tagged_path(Path("out/run"), CONFIG) == Path(f"out/run-{c7}-{H10}")


def test_path_argument_may_be_passed_by_position_or_by_keyword(repo: Path) -> None:
    c7 = _head(repo)[:7]

    @Artifact(keyword="outpath", config=CONFIG)
    def save(data: str, outpath: str, mode: str = "w") -> str:
        with open(outpath, mode, encoding="utf-8") as handle:
            handle.write(data)
        return outpath

    expected = f"plot-{c7}-{H10}.png"
    assert save("x", "plot.png") == expected
    assert save("x", outpath="plot.png") == expected
    assert save(data="x", outpath="plot.png", mode="a") == expected
    assert (repo / expected).read_text(encoding="utf-8") == "xx"


def test_parameter_default_is_tagged_when_the_path_is_not_passed(repo: Path) -> None:
    @Artifact(keyword="outpath")
    def save(outpath: str = "report.pdf") -> str:
        return outpath

    assert save() == f"report-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.pdf"


def test_path_caught_by_var_keyword_is_tagged(repo: Path) -> None:
    @Artifact(keyword="target")
    def save(**options: str) -> str:
        return options["target"]

    assert save(target="a.txt") == f"a-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.txt"


def test_methods_can_be_decorated(repo: Path) -> None:
    class Saver:
        @Artifact(keyword="outpath")
        def save(self, outpath: str) -> str:
            return outpath

    assert Saver().save("a.txt") == f"a-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.txt"


def test_calling_without_the_path_argument_is_a_clear_error(repo: Path) -> None:
    @Artifact(keyword="outpath")
    def save(outpath: str | None = None) -> None:
        raise AssertionError("must not be called")

    with pytest.raises(ArtifactArgumentError, match="without its artifact path 'outpath'"):
        save()


def test_keyword_that_is_not_a_parameter_fails_when_decorating() -> None:
    with pytest.raises(ArtifactArgumentError, match="has no parameter 'outpath'"):

        @Artifact(keyword="outpath")
        def save(path: str) -> None:
            pass


def test_keyword_may_not_name_star_args() -> None:
    with pytest.raises(ArtifactArgumentError, match=r"not \*args or \*\*kwargs"):

        @Artifact(keyword="paths")
        def save(*paths: str) -> None:
            pass


def test_wrong_call_arguments_are_the_functions_own_type_error(repo: Path) -> None:
    save = _identity_writer()
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        save(outpath="a.txt", extra=1)


# --------------------------------------------------------------------------- dirty trees


def _stage_a_modification(root: Path) -> None:
    _write(root / "tracked.txt", "one, changed and staged\n")
    _add(root, "tracked.txt")


def _stage_a_new_file(root: Path) -> None:
    _write(root / "tracked.txt.new", "new\n")
    _add(root, "tracked.txt.new")


def _modify_without_staging(root: Path) -> None:
    _write(root / "tracked.txt", "one, changed\n")


def _delete_without_staging(root: Path) -> None:
    (root / "tracked.txt").unlink()


@pytest.mark.parametrize(
    ("change", "staged"),
    [
        (_stage_a_modification, True),
        (_stage_a_new_file, True),
        (_modify_without_staging, False),
        (_delete_without_staging, False),
    ],
)
def test_staged_and_unstaged_changes_make_the_tree_dirty(
    repo: Path, change: Callable[[Path], None], staged: bool
) -> None:
    change(repo)
    status = porcelain.status(str(repo), untracked_files="no", optional_locks=False)
    assert any(status.staged.values()) is staged
    assert bool(status.unstaged) is not staged
    save = _identity_writer()
    with pytest.raises(DirtyWorkTreeError, match=r"tracked\.txt") as caught:
        save("out.txt")
    assert caught.value.changed[0].startswith("tracked.txt")


def test_untracked_files_are_clean_by_default_and_dirty_when_included(repo: Path) -> None:
    _write(repo / "scratch" / "notes.md", "untracked\n")
    c7 = _head(repo)[:7]
    assert _identity_writer()("a.txt") == f"a-{c7}-{EMPTY_HASH[:10]}.txt"
    strict = _identity_writer(include_untracked=True)
    with pytest.raises(DirtyWorkTreeError, match=r"scratch/notes\.md"):
        strict("a.txt")


def test_ignored_files_never_make_the_tree_dirty(repo: Path) -> None:
    _write(repo / "ignored" / "plot.png", "output\n")
    save = _identity_writer(include_untracked=True)
    assert save("a.txt") == f"a-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.txt"


def test_dirty_error_names_the_first_five_files_and_counts_the_rest(repo: Path) -> None:
    names = [f"f{i}.txt" for i in range(7)]
    for name in names:
        _write(repo / name, "x\n")
    _add(repo, *names)
    with pytest.raises(DirtyWorkTreeError) as caught:
        resolve("a.txt")
    message = str(caught.value)
    assert "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 2 more" in message
    assert "allow_dirty=True" in message
    assert caught.value.changed == tuple(names)


def test_allow_dirty_warns_and_puts_the_dirty_marker_after_the_commit(repo: Path) -> None:
    _modify_without_staging(repo)
    save = _identity_writer(allow_dirty=True)
    with pytest.warns(DirtyArtifactWarning, match=r"tracked\.txt") as record:
        result = save("plot.png")
    assert result == f"plot-{_head(repo)[:7]}-dirty-{EMPTY_HASH[:10]}.png"
    assert record[0].filename == __file__


def test_clean_tree_has_no_dirty_marker(repo: Path) -> None:
    assert "dirty" not in str(_identity_writer(allow_dirty=True)("plot.png"))


# --------------------------------------------------------------------------- repository lookup


def test_commit_is_read_at_call_time_not_at_decoration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    save = _identity_writer()  # decorated where there is no repository at all
    root = tmp_path / "repo"
    first = _make_repo(root)
    monkeypatch.chdir(root)
    assert save("plot.png") == f"plot-{first[:7]}-{EMPTY_HASH[:10]}.png"
    _write(root / "tracked.txt", "two\n")
    _add(root, "tracked.txt")
    second = _commit(root, "second", offset=60)
    assert save("plot.png") == f"plot-{second[:7]}-{EMPTY_HASH[:10]}.png"
    assert first[:7] != second[:7]


def test_repository_is_found_from_a_subdirectory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "src")
    assert tagged_path("a.txt") == f"a-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.txt"


def test_repo_argument_is_used_instead_of_the_current_directory(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    save = _identity_writer(repo=repo / "src")
    assert save("a.txt") == f"a-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.txt"


def test_outside_any_repository_is_a_not_a_repository_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotARepository):
        _identity_writer()("a.txt")


def test_repository_without_commits_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    porcelain.init(str(tmp_path)).close()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoCommitsError, match="has no commits yet"):
        tagged_path("a.txt")


def test_detached_head_tags_with_the_checked_out_commit(repo: Path) -> None:
    first = _head(repo)
    _write(repo / "tracked.txt", "two\n")
    _add(repo, "tracked.txt")
    _commit(repo, "second", offset=60)
    (repo / ".git" / "HEAD").write_text(first + "\n", encoding="ascii")
    _write(repo / "tracked.txt", "one\n")  # the work tree of the first commit
    _add(repo, "tracked.txt")
    assert tagged_path("a.txt") == f"a-{first[:7]}-{EMPTY_HASH[:10]}.txt"


# --------------------------------------------------------------------------- reading back


def test_read_mode_resolves_the_name_the_writer_used(repo: Path) -> None:
    @Artifact(keyword="path", config=CONFIG)
    def save(path: str, value: str) -> None:
        Path(path).write_text(value, encoding="utf-8")

    @Artifact(keyword="path", config=CONFIG, mode="read")
    def load(path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    save("metrics.json", "42")
    assert load("metrics.json") == "42"
    assert (repo / f"metrics-{_head(repo)[:7]}-{H10}.json").exists()


def test_read_mode_missing_file_names_the_plain_and_the_tagged_path(repo: Path) -> None:
    @Artifact(keyword="path", config=CONFIG, mode="read")
    def load(path: str) -> str:
        raise AssertionError("must not be called")

    tagged = f"metrics-{_head(repo)[:7]}-{H10}.json"
    with pytest.raises(FileNotFoundError) as caught:
        load("metrics.json")
    assert isinstance(caught.value, TaggedFileNotFoundError)
    assert "'metrics.json'" in str(caught.value)
    assert f"'{tagged}'" in str(caught.value)
    assert caught.value.filename == tagged


def test_read_mode_refuses_cache_and_record() -> None:
    with pytest.raises(ValueError, match="mode='write' only"):
        Artifact(mode="read", cache=True)
    with pytest.raises(ValueError, match="mode='write' only"):
        Artifact(mode="read", record=True)


# --------------------------------------------------------------------------- caching


class _Counter:
    def __init__(self) -> None:
        self.calls = 0


def _cached_writer(counter: _Counter, **options: Any) -> Callable[[str], str | None]:
    @Artifact(keyword="outpath", config=CONFIG, cache=True, **options)
    def save(outpath: str) -> str:
        counter.calls += 1
        Path(outpath).write_text("made", encoding="utf-8")
        return outpath

    return save


def test_cache_skips_the_call_when_the_tagged_output_exists(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counter = _Counter()
    save = _cached_writer(counter)
    caplog.set_level(logging.INFO, logger="gto_dulwich.tagged")
    assert save("plot.png") == f"plot-{_head(repo)[:7]}-{H10}.png"
    assert save("plot.png") is None
    assert counter.calls == 1
    assert "cache hit" in caplog.text
    assert "not calling" in caplog.text


def test_cache_hit_returns_none_and_the_static_type_says_so(repo: Path) -> None:
    @Artifact(keyword="outpath", cache=True)
    def make(outpath: str) -> int:
        Path(outpath).write_text("x", encoding="utf-8")
        return 7

    @Artifact(keyword="outpath")
    def plain(outpath: str) -> int:
        return 7

    assert assert_type(make("a.txt"), int | None) == 7
    assert assert_type(make("a.txt"), int | None) is None
    assert assert_type(plain("a.txt"), int) == 7


def test_a_dataclass_may_be_the_whole_config(repo: Path) -> None:
    save = _identity_writer(config=Optimizer("adam", (0.9, 0.999)))
    digest = config_hash(Optimizer("adam", (0.9, 0.999)))
    assert save("a.txt") == f"a-{_head(repo)[:7]}-{digest[:10]}.txt"
    assert digest != config_hash(Optimizer("adam", (0.9, 0.99)))


def test_cache_calls_again_after_a_new_commit(repo: Path) -> None:
    counter = _Counter()
    save = _cached_writer(counter)
    save("plot.png")
    _write(repo / "tracked.txt", "two\n")
    _add(repo, "tracked.txt")
    _commit(repo, "second", offset=60)
    save("plot.png")
    assert counter.calls == 2


def test_cache_is_never_used_for_a_dirty_tree(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    counter = _Counter()
    save = _cached_writer(counter, allow_dirty=True)
    _modify_without_staging(repo)
    caplog.set_level(logging.INFO, logger="gto_dulwich.tagged")
    with pytest.warns(DirtyArtifactWarning):
        save("plot.png")
    with pytest.warns(DirtyArtifactWarning):
        save("plot.png")
    assert counter.calls == 2
    assert "working tree is dirty" in caplog.text


def test_cache_with_record_reruns_when_the_sidecar_is_missing(repo: Path) -> None:
    counter = _Counter()
    save = _cached_writer(counter, record=True)
    (repo / f"plot-{_head(repo)[:7]}-{H10}.png").write_text("half-written", encoding="utf-8")
    save("plot.png")
    save("plot.png")
    assert counter.calls == 1


def test_cache_refuses_generator_functions() -> None:
    with pytest.raises(ArtifactArgumentError, match="not a coroutine or generator"):

        @Artifact(keyword="outpath", cache=True)
        def save(outpath: str) -> Iterator[str]:
            yield outpath


# --------------------------------------------------------------------------- provenance


def test_record_writes_a_provenance_sidecar_after_the_call(repo: Path) -> None:
    @Artifact(keyword="outpath", config=CONFIG, record=True)
    def save_plot(outpath: str) -> None:
        assert not Path(provenance_path(outpath)).exists()
        Path(outpath).write_text("png", encoding="utf-8")

    save_plot("plot.png")
    head = _head(repo)
    tagged = f"plot-{head[:7]}-{H10}.png"
    sidecar = json.loads((repo / f"{tagged}.provenance.json").read_text(encoding="utf-8"))
    assert sidecar["schema"] == "gto_dulwich.tagged/1"
    assert sidecar["path"] == "plot.png"
    assert sidecar["tagged_path"] == tagged
    assert sidecar["commit"] == head
    assert sidecar["dirty"] is False
    assert sidecar["changed_files"] == []
    assert sidecar["config"] == CONFIG
    assert sidecar["config_hash"] == CONFIG_HASH
    assert hashlib.sha256(sidecar["config_canonical"].encode()).hexdigest() == CONFIG_HASH
    assert sidecar["function"].endswith("save_plot")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sidecar["created_at"])


def test_record_renders_rich_config_values_readably(repo: Path) -> None:
    config = {"out": PurePosixPath("a/b"), "color": Color.RED, "opt": Optimizer("adam", (0.9, 1.0))}

    @Artifact(keyword="outpath", config=config, record=True)
    def save(outpath: str) -> None:
        Path(outpath).write_text("x", encoding="utf-8")

    save("x.txt")
    [sidecar] = repo.glob("*.provenance.json")
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    assert data["config"] == {
        "out": "a/b",
        "color": "red",
        "opt": {"name": "adam", "betas": [0.9, 1.0]},
    }


def test_a_failing_call_writes_no_sidecar(repo: Path) -> None:
    @Artifact(keyword="outpath", record=True)
    def save(outpath: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save("plot.png")
    assert list(repo.glob("*.provenance.json")) == []


def test_a_sidecar_that_cannot_be_written_leaves_no_temporary_file(repo: Path) -> None:
    # Regression: _write_provenance left "<sidecar>.tmp<pid>" behind when the rename failed.
    @Artifact(keyword="outpath", config=CONFIG, record=True)
    def save(outpath: str) -> None:
        Path(outpath).write_text("png", encoding="utf-8")
        (Path(provenance_path(outpath)) / "blocker").mkdir(parents=True)  # a directory in the way

    before = set(repo.iterdir())
    with pytest.raises(IsADirectoryError):
        save("plot.png")
    left = {path.name for path in set(repo.iterdir()) - before}
    assert [name for name in left if "tmp" in name] == []
    assert len(left) == 2  # the output and the directory in the way, nothing else


# --------------------------------------------------------------------------- README example


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_readme_examples_run_as_written_without_git(repo: Path) -> None:
    blocks = _python_blocks(_doc())
    assert len(blocks) == 2
    c7 = _head(repo)[:7]
    for block in blocks:
        code_rc, out, err = _run_python(block, repo)
        assert code_rc == 0, err
        assert err == ""
    assert (repo / f"foo-{c7}-{EMPTY_HASH[:10]}.txt").read_text(encoding="utf-8") == "good job"
    assert (repo / f"metrics-{c7}-{H10}.json").exists()
    assert out.strip() == "{'acc': 0.9}"


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> Any:
    return CliRunner().invoke(tag_path, list(args), catch_exceptions=False)


def test_cli_prints_the_same_name_as_the_python_api(repo: Path) -> None:
    result = _cli(
        "out/plot.png", "--set", "lr=0.001", "--set", "layers=[64,32]", "--set", "model=resnet"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"out/plot-{_head(repo)[:7]}-{H10}.png\n"
    assert result.stdout.strip() == tagged_path("out/plot.png", CONFIG)


def test_cli_json_and_yaml_config_files_give_the_python_name(repo: Path) -> None:
    _write(repo / "params.json", json.dumps(CONFIG))
    _write(repo / "params.yaml", "model: resnet\nlayers: [64, 32]\nlr: 0.001\n")
    expected = f"plot-{_head(repo)[:7]}-{H10}.png\n"
    for name in ("params.json", "params.yaml"):
        result = _cli("plot.png", "--config", name)
        assert result.exit_code == 0, result.output
        assert result.stdout == expected


def test_cli_set_wins_over_the_config_file_and_dotted_keys_nest(repo: Path) -> None:
    _write(repo / "params.yaml", "lr: 1\nmodel: resnet\nopt:\n  name: sgd\n")
    result = _cli(
        "plot.png",
        "--config",
        "params.yaml",
        "--set",
        "lr=0.5",
        "--set",
        "opt.momentum=0.9",
        "--set",
        "a.b.c=x",
    )
    assert result.exit_code == 0, result.output
    expected = {"lr": 0.5, "model": "resnet", "opt": {"name": "sgd", "momentum": 0.9}}
    expected["a"] = {"b": {"c": "x"}}
    assert result.stdout.strip() == tagged_path("plot.png", expected)


@pytest.mark.parametrize(
    ("assignment", "value"),
    [
        ("k=1", 1),
        ("k=1.5", 1.5),
        ("k=true", True),
        ("k=null", None),
        ("k=[1,2]", [1, 2]),
        ('k={"a":1}', {"a": 1}),
        ('k="1"', "1"),
        ("k=abc", "abc"),
        ("k=", ""),
        ("k=a=b", "a=b"),
    ],
)
def test_cli_set_value_is_json_when_it_parses_else_a_string(
    repo: Path, assignment: str, value: object
) -> None:
    result = _cli("plot.png", "--set", assignment)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == tagged_path("plot.png", {"k": value})


@pytest.mark.parametrize("assignment", ["novalue", "=1", "a..b=1", ".a=1"])
def test_cli_bad_set_syntax_is_a_one_line_error(repo: Path, assignment: str) -> None:
    result = _cli("plot.png", "--set", assignment)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: Invalid --set")
    assert result.stderr.count("\n") == 1


def test_cli_set_below_a_non_mapping_is_an_error(repo: Path) -> None:
    result = _cli("plot.png", "--set", "a=1", "--set", "a.b=2")
    assert result.exit_code == 1
    assert "'a' is not a mapping" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json", None, "Cannot read config file"),
        ("bad.json", "{not json", "Cannot parse config file"),
        ("bad.yaml", "a: [1, 2\n", "Cannot parse config file"),
        ("list.yaml", "- 1\n- 2\n", "must hold a mapping"),
        ("dates.yaml", "when: 2024-01-01\n", "unsupported type 'datetime.date'"),
    ],
)
def test_cli_unreadable_config_file_is_a_one_line_error(
    repo: Path, name: str, content: str | None, message: str
) -> None:
    if content is not None:
        _write(repo / name, content)
    result = _cli("plot.png", "--config", name)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1


def test_cli_dirty_tree_fails_unless_allow_dirty(repo: Path) -> None:
    _modify_without_staging(repo)
    refused = _cli("plot.png")
    assert refused.exit_code == 1
    assert "tracked.txt" in refused.stderr
    assert "--allow-dirty" in refused.stderr
    allowed = _cli("plot.png", "--allow-dirty")
    assert allowed.exit_code == 0
    assert allowed.stdout == f"plot-{_head(repo)[:7]}-dirty-{EMPTY_HASH[:10]}.png\n"
    assert allowed.stderr.startswith("Warning: ")


def test_cli_include_untracked_counts_untracked_files(repo: Path) -> None:
    _write(repo / "new.txt", "x\n")
    assert _cli("plot.png").exit_code == 0
    result = _cli("plot.png", "--include-untracked")
    assert result.exit_code == 1
    assert "new.txt" in result.stderr


def test_cli_outside_a_repository_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _cli("plot.png")
    assert result.exit_code == 1
    assert result.stderr == f"Error: No Git repo found in '{os.getcwd()}'\n"


def test_cli_repo_option_selects_the_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _cli("plot.png", "-r", str(repo))
    assert result.exit_code == 0
    assert result.stdout == f"plot-{_head(repo)[:7]}-{EMPTY_HASH[:10]}.png\n"


def test_cli_runs_in_a_subprocess_without_git_on_path(repo: Path) -> None:
    code = "from gto_dulwich.tagged.cli import tag_path; tag_path()"
    args = ("model.tar.gz", "--set", "lr=0.001", "--set", "layers=[64,32]", "--set", "model=resnet")
    code_rc, out, err = _run_python(code, repo, *args)
    assert code_rc == 0, err
    assert out == f"model-{_head(repo)[:7]}-{H10}.tar.gz\n"
    _modify_without_staging(repo)
    code_rc, out, err = _run_python(code, repo, "plot.png")
    assert code_rc == 1
    assert out == ""
    assert err.startswith("Error: Working tree of")
    assert "Traceback" not in err


def test_errors_are_gto_errors() -> None:
    for error in (
        DirtyWorkTreeError,
        NoCommitsError,
        UnsupportedConfigValue,
        ArtifactArgumentError,
        TaggedFileNotFoundError,
    ):
        assert issubclass(error, GTOError)
