"""gto_dulwich.dvc: artifacts declared in dvc.yaml, read from git objects."""

from __future__ import annotations

import json
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
    from gto_dulwich.remote.reader import RemoteRepo
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


# -- walking, caching, hostile input -------------------------------------------------------


def _repo(tmp_path: Path, files: dict[str, str], *, bare: bool = False, name: str = "repo") -> Path:
    from gto_dulwich.builder import build_repo

    spec = {
        "name": "t",
        "commits": [
            {"id": "c1", "message": "m", "time": "2024-01-01T00:00:00+00:00", "files": files}
        ],
        "tags": [{"name": "m@v1.0.0", "target": "c1", "time": "2024-01-01T01:00:00+00:00"}],
    }
    return build_repo(spec, tmp_path / name, bare=bare).path


class _Counting(GitRepo):
    trees = 0
    blobs = 0

    def tree_entries(self, tree: str) -> list[tuple[str, int, str]] | None:
        type(self).trees += 1
        return super().tree_entries(tree)

    def read_blob(self, sha: str) -> bytes | None:
        type(self).blobs += 1
        return super().read_blob(sha)


def _read(path: Path, *, cache: bool = True) -> tuple[dict[str, str | None], list[str]]:
    with GitRepo.open(path) as git:
        head = git.head()
        assert head is not None
        reader = DvcReader(git, cache=cache)
        found = reader.read(head)
        reader.save()
    return (
        {name: art.annotation.path for name, art in found.artifacts.items()},
        [f"{p.file}: {p.detail}" for p in found.problems],
    )


def test_walked_trees_and_parsed_files_are_cached_by_object_id(tmp_path: Path) -> None:
    files = {".dvc/config": ""}
    for n in range(20):
        files[f"p{n}/dvc.yaml"] = f"artifacts:\n  m:\n    path: m{n}.pkl\n"
        files[f"p{n}/src/a.py"] = "x\n"
    path = _repo(tmp_path, files)
    repo = _Counting(GitRepo.open(path).dulwich)
    head = repo.head()
    assert head is not None
    reader = DvcReader(repo)
    first = reader.read(head)
    reader.save()
    assert len(first.artifacts) == 20
    assert _Counting.trees > 40
    assert _Counting.blobs == 20
    _Counting.trees = _Counting.blobs = 0
    again = DvcReader(repo)  # a new process: only the cache file
    assert again.read(head) == first
    assert (_Counting.trees, _Counting.blobs) == (1, 0)  # the root, to see it is a DVC project
    repo.close()
    # A damaged cache file is ignored, never trusted.
    (path / ".git" / "gto_dulwich-dvc.json").write_text('{"format": "x"')
    assert _read(path)[0] == {f"p{n}:m": f"p{n}/m{n}.pkl" for n in range(20)}


def test_a_repository_without_dvc_files_is_not_walked(tmp_path: Path) -> None:
    path = _repo(tmp_path, {"a/b/c/d.txt": "x", "artifacts.yaml": "m: {}\n"})
    repo = _Counting(GitRepo.open(path).dulwich)
    _Counting.trees = 0
    head = repo.head()
    assert head is not None
    assert DvcReader(repo, cache=False).read(head).artifacts == {}
    assert _Counting.trees == 1
    repo.close()


def test_nested_project_has_its_own_dvcignore(tmp_path: Path) -> None:
    path = _repo(
        tmp_path,
        {
            ".dvc/config": "",
            ".dvcignore": "tmp\n",
            "tmp/dvc.yaml": "artifacts:\n  a:\n    path: a\n",
            "sub/.dvc/config": "",
            "sub/.dvcignore": "/skip\n",
            "sub/tmp/dvc.yaml": "artifacts:\n  b:\n    path: b\n",
            "sub/skip/dvc.yaml": "artifacts:\n  c:\n    path: c\n",
            "sub/dvc.yaml": "artifacts:\n  d:\n    path: ../d\n",
            ".git2/dvc.yaml": "artifacts:\n  e:\n    path: e\n",
            ".dvc/dvc.yaml": "artifacts:\n  f:\n    path: f\n",
        },
    )
    names, problems = _read(path)
    assert names == {"sub:d": "d", "sub/tmp:b": "sub/tmp/b", ".git2:e": ".git2/e"}
    assert problems == []


def test_hostile_dvc_files_become_one_line_problems(tmp_path: Path) -> None:
    path = _repo(
        tmp_path,
        {
            ".dvc/config": "",
            "dvc.yaml": "artifacts:\n  ok:\n    path: ok.pkl\n",
            "up/dvc.yaml": "artifacts:\n  m:\n    path: ../../../etc/passwd\n",
            "abs/dvc.yaml": "artifacts:\n  m:\n    path: /etc/passwd\n",
            "badid/dvc.yaml": "artifacts:\n  -bad-:\n    path: x\n",
            "list/dvc.yaml": "- 1\n- 2\n",
            "arts/dvc.yaml": "artifacts: [1, 2]\n",
            "labels/dvc.yaml": "artifacts:\n  m:\n    path: x\n    labels: [1]\n",
            "tabs/dvc.yaml": "artifacts:\n\tm: {path: x}\n",
            "big/dvc.yaml": "# " + "x" * (1 << 20) + "\n",
            "empty/dvc.yaml": "",
            "stages/dvc.yaml": "stages:\n  s:\n    cmd: x\nvars: [a.yaml]\nplots: [p.json]\n",
        },
    )
    names, problems = _read(path, cache=False)
    assert names == {"ok": "ok.pkl"}
    assert all("\n" not in p for p in problems)
    files = sorted(p.split(":")[0] for p in problems)
    assert files == [
        "abs/dvc.yaml",
        "arts/dvc.yaml",
        "badid/dvc.yaml",
        "big/dvc.yaml",
        "labels/dvc.yaml",
        "list/dvc.yaml",
        "tabs/dvc.yaml",
        "up/dvc.yaml",
    ]
    result = run_process(["-v", "show", "--json"], cwd=path)
    assert result.exit_code == 0
    assert "Traceback" not in result.stderr


def test_remotes_config_local_remote_urls_and_bare_repositories(tmp_path: Path) -> None:
    files = {
        ".dvc/config": (
            "[core]\n    remote = main\n"
            "['remote \"main\"']\n    url = remote://base/sub/dir\n"
            "['remote \"base\"']\n    url = https://h.example/root/\n"
            "['remote \"va\"']\n    url = s3://b/p\n    version_aware = true\n"
            "['remote \"rel\"']\n    url = ../store\n"
        ),
        "dvc.yaml": (
            "stages:\n  s:\n    cmd: x\n    outs:\n    - va.pkl:\n        remote: va\n"
            "    - rel.pkl:\n        remote: rel\n    - m.pkl\n"
            "artifacts:\n  m:\n    path: m.pkl\n  va:\n    path: va.pkl\n"
            "  rel:\n    path: rel.pkl\n"
        ),
        "dvc.lock": (
            "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs:\n"
            + "".join(
                f"    - path: {n}.pkl\n      md5: {'ab' * 16}\n      size: 3\n"
                for n in ("m", "va", "rel")
            )
        ),
    }
    path = _repo(tmp_path, files)
    root = str(path)
    url = run_cli(["describe", "m", "--url", "-r", root])
    assert url.stdout == f"https://h.example/root/sub/dir/ab/{'ab' * 15}\n"  # DVC 2 layout
    va = run_cli(["describe", "va", "--url", "-r", root])
    assert va.exit_code == 1
    assert "version_aware" in va.stderr
    rel = run_cli(["describe", "rel", "--url", "-r", root])
    assert rel.stdout == f"{path / 'store'}/ab/{'ab' * 15}\n"
    # config.local of the work tree overrides the committed default remote.
    (path / ".dvc" / "config.local").write_text("[core]\n    remote = base\n")
    assert run_cli(["describe", "m", "--url", "-r", root]).stdout == (
        f"https://h.example/root/ab/{'ab' * 15}\n"
    )
    # A bare repository has no .dvc/ folder to resolve a relative remote against.
    bare = _repo(tmp_path, files, bare=True, name="bare.git")
    result = run_cli(["describe", "rel", "--url", "-r", str(bare)])
    assert result.exit_code == 1
    assert "relative path and there is no work tree" in result.stderr


def test_url_refuses_a_deregistered_version_and_an_empty_stage(tmp_path: Path) -> None:
    """dvc artifacts get resolves a version from raw tags, so it can pick a deregistered one
    or land on an unassignment; we answer from the registry's state and refuse instead."""
    from gto_dulwich import api

    built = build_fixture("dvc/get_started", tmp_path / "repo")
    api.deregister(
        built.path, "pool-segmentation", version="v1.0.0", author="a", author_email="a@b"
    )
    root = str(built.path)
    for name in ("pool-segmentation@v1.0.0", "pool-segmentation#prod", "pool-segmentation@v7.0.0"):
        result = run_process(["describe", name, "--url", "-r", root], cwd=built.path)
        assert (result.exit_code, result.stdout) == (1, "")
        assert "matches no registered version" in result.stderr
    latest = run_cli(["describe", "pool-segmentation@latest", "--url", "-r", root])
    assert latest.stdout.strip().endswith("/9f/3cd1f7e8a5b2f0c6d4e2a1b3c5d7e9")


def test_an_artifacts_yaml_path_is_looked_up_in_the_dvc_lock_above_it(tmp_path: Path) -> None:
    path = _repo(
        tmp_path,
        {
            ".dvc/config": "[core]\n  remote = s\n['remote \"s\"']\n  url = https://x.example/s\n",
            "artifacts.yaml": "m:\n  path: models/deep/m.pkl\n",
            "models/dvc.yaml": "stages:\n  t:\n    cmd: x\n    outs: [deep/m.pkl]\n",
            "models/dvc.lock": (
                "schema: '2.0'\nstages:\n  t:\n    cmd: x\n    outs:\n"
                f"    - path: deep/m.pkl\n      hash: md5\n      md5: {'cd' * 16}\n"
            ),
        },
    )
    result = run_cli(["describe", "m", "-r", str(path)])
    data = json.loads(result.stdout)
    assert data["source"] == "artifacts.yaml"
    assert data["dvc"]["source"] == "models/dvc.lock"
    assert data["dvc"]["url"] == f"https://x.example/s/files/md5/cd/{'cd' * 15}"


def test_a_tree_nested_too_deep_is_reported_not_a_crash(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 400)
    path = _repo(
        tmp_path,
        {".dvc/config": "", f"{deep}/dvc.yaml": "artifacts:\n  m:\n    path: m\n"},
    )
    names, problems = _read(path, cache=False)
    assert names == {}
    assert len(problems) == 1
    assert "nested more than 100 folders deep" in problems[0]
    result = run_process(["doctor"], cwd=path)
    assert result.exit_code == 0
    assert "Traceback" not in result.stderr


def test_an_output_in_a_nested_project_uses_that_projects_remote(tmp_path: Path) -> None:
    path = _repo(
        tmp_path,
        {
            ".dvc/config": "[core]\n  remote = a\n['remote \"a\"']\n  url = https://a.example\n",
            "sub/.dvc/config": "[core]\n  remote = b\n['remote \"b\"']\n  url = https://b.example\n",
            "sub/data.bin.dvc": f"outs:\n- md5: {'ef' * 16}\n  size: 1\n  path: data.bin\n",
            "artifacts.yaml": "x:\n  path: sub/data.bin\n",
        },
    )
    result = run_cli(["describe", "x", "--url", "-r", str(path)])
    assert result.stdout == f"https://b.example/ef/{'ef' * 15}\n"


def test_an_oversized_dvc_file_is_refused_from_its_header(tmp_path: Path) -> None:
    """A blob of 8 MB of one byte compresses to a few KB: it must not be inflated."""
    path = _repo(
        tmp_path,
        {
            ".dvc/config": "",
            "dvc.yaml": "artifacts:\n  m:\n    path: m.pkl\n",
            "dvc.lock": "#" * (8 << 20),
            "a/dvc.yaml": "#" * (8 << 20),
        },
    )
    names, problems = _read(path, cache=False)
    assert names == {"m": "m.pkl"}
    assert problems == [
        "a/dvc.yaml: 8,388,608 bytes, more than the 1,048,576 allowed (GTO_DULWICH_YAML_MAX_BYTES)"
    ]
    result = run_cli(["-v", "describe", "m", "-r", str(path)])
    assert result.exit_code == 0
    assert "dvc.lock at commit" in result.stderr
    assert "more than the 1,048,576 allowed" in result.stderr


def test_show_from_every_cache_path_lists_dvc_yaml_artifacts(tmp_path: Path) -> None:
    """The state cache, the per-artifact summaries and a full read agree (statecache
    lists names declared only in dvc.yaml after those of artifacts.yaml)."""
    from gto_dulwich import api
    from gto_dulwich.statecache import FILE_NAME

    built = build_fixture("dvc/both", tmp_path / "repo")
    root = str(built.path)
    expected = run_cli(["--no-cache", "show", "--json", "-r", root]).stdout
    assert list(json.loads(expected)) == ["churn", "drift"]
    assert run_cli(["show", "--json", "-r", root]).stdout == expected  # fills the caches
    assert run_cli(["show", "--json", "-r", root]).stdout == expected  # the state cache
    (built.path / ".git" / FILE_NAME).unlink()  # only the per-artifact summaries left
    with api.Registry.open(root) as registry:
        assert registry.views is not None
        assert api.show(registry).to_dict() == json.loads(expected)
    api.register(root, "drift", version="v0.1.0", author="a", author_email="a@b")
    after = run_cli(["show", "--json", "-r", root]).stdout
    assert after == run_cli(["--no-cache", "show", "--json", "-r", root]).stdout
    assert json.loads(after)["drift"]["version"] == "v0.1.0"
