"""gto_dulwich.dvc: artifacts declared in dvc.yaml, read from git objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from gto_dulwich.dvc import (
    DvcReader,
    dvc_output,
    is_ignored,
    object_url,
    parse_config,
    parse_dvcyaml,
    parse_ignore,
)
from gto_dulwich.repo import GitRepo
from tests.helpers import build_fixture


def test_object_url_dvc3_and_dvc2_layouts() -> None:
    md5 = "cfa72ff6e2575c44f78f423cada5b783"
    url = "https://remote.dvc.org/get-started"
    # The worked example of DVC's docs.
    assert object_url(url, md5, True) == f"{url}/files/md5/cf/a72ff6e2575c44f78f423cada5b783"
    assert object_url(url + "/", md5, False) == f"{url}/cf/a72ff6e2575c44f78f423cada5b783"
    assert object_url(url, md5 + ".dir", True).endswith(
        "/files/md5/cf/a72ff6e2575c44f78f423cada5b783.dir"
    )


@pytest.mark.parametrize(
    ("patterns", "path", "is_dir", "ignored"),
    [
        ("data", "data", True, True),
        ("data", "a/b/data", True, True),
        ("/data", "a/data", True, False),
        ("/data", "data", True, True),
        ("data/", "data", False, False),
        ("data/", "x/data", True, True),
        ("a/b", "a/b", True, True),
        ("a/b", "x/a/b", True, False),
        ("*.yaml", "x/dvc.yaml", False, True),
        ("*.yaml\n!dvc.yaml", "x/dvc.yaml", False, False),
        ("**/tmp", "a/b/tmp", True, True),
        ("a/**/z", "a/z", True, True),
        ("a/**/z", "a/b/c/z", True, True),
        ("a/**", "a/b", True, True),
        ("exp?", "exp1", True, True),
        ("exp[0-9]", "expa", True, False),
        ("exp[!0-9]", "expa", True, True),
        ("# comment\n\n", "# comment", True, False),
        ("\\#x", "#x", True, True),
        ("\\!x", "!x", True, True),
        ("x   ", "x", True, True),
    ],
)
def test_dvcignore_subset(patterns: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert is_ignored(parse_ignore(patterns), path, is_dir) is ignored


def test_dvcignore_in_a_subdirectory_is_relative_to_it() -> None:
    rules = parse_ignore("/data\n", "sub/")
    assert is_ignored(rules, "sub/data", True)
    assert not is_ignored(rules, "data", True)
    assert not is_ignored(rules, "other/data", True)


def test_config_sections_quotes_and_comments() -> None:
    config = parse_config(
        "[core]\n    remote = storage\n# c\n['remote \"storage\"']\n    url = 's3://b/p'\n"
        '[remote "other"]\nurl=/abs\n'
    )
    assert config[("core", "remote")] == "storage"
    assert config[(("remote", "storage"), "url")] == "s3://b/p"
    assert config[(("remote", "other"), "url")] == "/abs"


def test_dvcyaml_path_is_relative_to_its_directory() -> None:
    found, problems = parse_dvcyaml(
        b"artifacts:\n  m:\n    path: ../models/m.pkl\n", "a/b/dvc.yaml"
    )
    assert problems == []
    assert found[0][0] == "a/b:m"
    assert found[0][1]["path"] == "a/models/m.pkl"


def test_get_started_layout(tmp_path: Path) -> None:
    built = build_fixture("dvc/get_started", tmp_path / "repo")
    with GitRepo.open(built.path) as git:
        found = DvcReader(git, cache=False).read(built.commits["c2"])
        art = found.artifacts["pool-segmentation"]
        assert art.annotation.path == "models/model.pkl"
        assert art.annotation.source == "dvc.yaml"
        out = dvc_output(git, built.commits["c2"], art.annotation)
    assert out is not None
    assert out.url == (
        "https://remote.dvc.org/get-started-pools/files/md5/6a/28c9d55e9ae0ae4e4c9b3bc7e1a2f1"
    )
    assert (out.dvc3, out.is_dir, out.source, out.remote) == (True, False, "dvc.lock", "storage")
