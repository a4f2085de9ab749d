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
from tests.helpers import build_fixture, run_cli, run_process


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


# -- where the answers show ------------------------------------------------------------


def test_check_ref_github_output_has_the_repo_relative_path(tmp_path: Path) -> None:
    """gto-action joined a subdirectory artifact's path to the repo root, not its dvc.yaml."""
    built = build_fixture("dvc/monorepo", tmp_path / "repo")
    out = tmp_path / "github_output"
    env = {"GITHUB_REF": "refs/tags/models/churn=churn#prod#1", "GITHUB_OUTPUT": str(out)}
    result = run_process(["check-ref", "--github-output"], cwd=built.path, env=env)
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert text.startswith(
        "event=assignment\nname=models/churn:churn\nversion=v1.0.0\nstage=prod\n"
        "type=model\npath=models/churn/model.pkl\ndescription=Churn classifier\n"
    )
    out.unlink()
    env["GITHUB_REF"] = "refs/tags/data=features@v0.1.0"
    assert run_process(["check-ref", "--github-output"], cwd=built.path, env=env).exit_code == 0
    lines = out.read_text().splitlines()
    assert "path=data/features" in lines
    # A multi-line description goes into a delimited block, not a broken key=value line.
    start = lines.index(next(line for line in lines if line.startswith("description<<")))
    assert lines[start + 1 : start + 3] == [
        "Features for every model.",
        "One parquet file per month.",
    ]


def test_describe_at_a_version_reads_that_commit(tmp_path: Path) -> None:
    built = build_fixture("dvc/get_started", tmp_path / "repo")
    root = str(built.path)
    old = run_cli(["describe", "pool-segmentation@v1.0.0", "--url", "-r", root]).stdout
    new = run_cli(["describe", "pool-segmentation#dev", "--url", "-r", root]).stdout
    at_rev = run_cli(
        ["describe", "pool-segmentation", "--rev", built.commits["c2"], "--url", "-r", root]
    ).stdout
    assert old == at_rev != new
    assert old.strip().endswith("/6a/28c9d55e9ae0ae4e4c9b3bc7e1a2f1")
    # No version, no annotation: nothing printed, exit 0 (as describe does for artifacts.yaml).
    before = run_cli(["describe", "pool-segmentation", "--rev", built.commits["c1"], "-r", root])
    assert (before.exit_code, before.stdout) == (0, "")


def test_library_api(tmp_path: Path) -> None:
    from gto_dulwich import api

    built = build_fixture("dvc/monorepo", tmp_path / "repo")
    annotation = api.describe(built.path, "models/fraud:fraud")
    assert annotation is not None
    assert (annotation.path, annotation.source) == ("shared/fraud.onnx", "models/fraud/dvc.yaml")
    found = api.describe_artifact(built.path, "subrepo/sub:segmenter@v2.0.0")
    assert found.output is not None
    assert (
        found.output.url
        == "https://sub.example.com/store/files/md5/a1/b2c3d4e5f60718293a4b5c6d7e8f90"
    )
    assert found.output.source == "subrepo/sub/dvc.lock"
    with GitRepo.open(built.path) as git:
        assert (
            dvc_output(git, built.commits["c1"], annotation)
            == api.describe_artifact(built.path, "models/fraud:fraud").output
        )
    listed = api.show(built.path).to_dict()
    assert "models/fraud:fraud" in listed  # declared, no tag yet
    assert not {"legacy:old-model", "scratch:scratch-model"} & set(listed)  # .dvcignore'd


# -- -r URL: no clone, only the DVC files fetched -----------------------------------------


def test_remote_reads_equal_local_ones(tmp_path: Path) -> None:
    from gto_dulwich.builder import build_repo, load_spec
    from tests.helpers import FIXTURES
    from tests.servers import serve_http

    spec = load_spec(FIXTURES / "dvc" / "monorepo.yaml")
    server = tmp_path / "server.git"
    build_repo(spec, server, bare=True)
    local = build_repo(spec, tmp_path / "clone").path
    commands = [
        ["show", "--json"],
        ["describe", "models/churn:churn"],
        ["describe", "subrepo/sub:segmenter@v2.0.0", "--url"],
        ["describe", "data:features#prod"],
        ["describe", "models/fraud:fraud", "--source"],
        ["-v", "doctor"],
    ]
    with serve_http(server) as remote:
        for args in commands:
            here = run_cli(args, cwd=local)
            there = run_cli([*args, "-r", remote.url], cwd=tmp_path)
            assert (there.exit_code, there.stdout) == (here.exit_code, here.stdout), args


def test_a_filtering_server_sends_only_the_dvc_files(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from gto_dulwich import api
    from gto_dulwich.builder import build_repo, load_spec
    from gto_dulwich.mirror import RemoteRepo
    from tests.helpers import FIXTURES
    from tests.test_remote_read import git_daemon

    spec = load_spec(FIXTURES / "dvc" / "monorepo.yaml")
    spec["commits"][0]["files"]["models/churn/train.py"] = "print('big source file')\n" * 100
    served = tmp_path / "srv" / "mono.git"
    build_repo(spec, served, bare=True)
    git = shutil.which("git")
    with git_daemon(served.parent) as port:
        assert git is not None
        for key in ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant"):
            subprocess.run([git, "-C", str(served), "config", key, "true"], check=True)
        with RemoteRepo.open_url(f"git://127.0.0.1:{port}/mono.git") as remote:
            found = api.describe_artifact(remote, "models/churn:churn@v1.0.0")
            assert found.output is not None
            assert found.output.url is not None
            store = remote.dulwich.object_store
            blobs = {sha.decode() for sha in store if store[sha].type_name == b"blob"}
            head = remote.head()
            assert head is not None
            names = _blob_paths(remote, head)
    fetched = sorted(names[sha] for sha in blobs)
    assert fetched == [
        ".dvc/config",
        ".dvcignore",
        "data/dvc.yaml",
        "models/churn/dvc.lock",
        "models/churn/dvc.yaml",
        "models/fraud/dvc.yaml",
        "subrepo/sub/dvc.yaml",
    ]


def _blob_paths(git: GitRepo, commit: str) -> dict[str, str]:
    """blob id -> path, for every file of ``commit`` (trees only are read)."""
    paths: dict[str, str] = {}

    def walk(tree: str, prefix: str) -> None:
        for name, mode, sha in git.tree_entries(tree) or []:
            if mode == 0o040000:
                walk(sha, prefix + name + "/")
            else:
                paths.setdefault(sha, prefix + name)

    tree = git.commit_tree(commit)
    assert tree is not None
    walk(tree, "")
    return paths
