"""``--repo URL``: every read equals the same read on a local clone; writes are one push.

The "server" is each fixture built bare (what a hosting service holds); the
"clone" is the same fixture built as a work tree without its untracked files
(a clone carries only what was committed).  Servers are ``file://`` URLs and
dulwich's smart-HTTP server on 127.0.0.1, started and stopped by the tests.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dulwich.objects import ObjectID

from gto_dulwich.builder import build_repo, load_spec
from gto_dulwich.remote import is_url
from gto_dulwich.remote.reader import RemoteRepo
from tests.helpers import FIXTURES, Result, build_fixture, run_cli, run_process
from tests.servers import HttpRemote, closed_port, ref_dict, serve_http

GOLDEN = FIXTURES / "golden"
IDENTITY = {"GIT_COMMITTER_NAME": "Remote Tester", "GIT_COMMITTER_EMAIL": "rt@example.com"}
ENV = {"GTO_EMOJIS": "false", "COLUMNS": "120", "TZ": "UTC"}


def _commands(fixture: str, limit: int) -> list[list[str]]:
    """At most ``limit`` of the fixture's captured read commands, evenly spread."""
    data = json.loads((GOLDEN / f"{fixture}.json").read_text())
    reads = [
        list(command["args"])
        for command in data["commands"]
        if command["args"][0] not in ("--version", "--traceback", "parse-tag")
        and "GTO_CONFIG_FILE_NAME" not in command.get("env", {})
        and not {"-r", "--repo"} & set(command["args"])
    ]
    step = max(1, -(-len(reads) // limit))
    return reads[::step]


FIXTURE_NAMES = sorted(p.stem for p in GOLDEN.glob("*.json"))


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """fixture name -> (bare server repository, local clone)."""
    root = tmp_path_factory.mktemp("remote-read")
    built = {}
    for name in FIXTURE_NAMES:
        spec = load_spec(FIXTURES / f"{name}.yaml")
        server, clone = root / f"{name}.git", root / name
        build_repo(spec, server, bare=True)
        build_repo({k: v for k, v in spec.items() if k != "worktree"}, clone)
        built[name] = (server, clone)
    return built


def _same(local: Result, remote: Result) -> None:
    assert (remote.exit_code, remote.stdout) == (local.exit_code, local.stdout)
    assert "Traceback" not in remote.stderr


def _compare(args: list[str], clone: Path, url: str, scratch: Path) -> None:
    local = run_cli(args, cwd=clone, env=ENV)
    remote = run_cli([*args, "-r", url], cwd=scratch, env=ENV)
    _same(local, remote)


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_file_remote_reads_equal_a_local_clone(
    fixture: str, repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    server, clone = repos[fixture]
    for args in _commands(fixture, limit=20):
        _compare(args, clone, server.as_uri(), tmp_path)


@pytest.mark.parametrize("fixture", FIXTURE_NAMES)
def test_http_remote_reads_equal_a_local_clone(
    fixture: str, repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    server, clone = repos[fixture]
    with serve_http(server) as http:
        for args in _commands(fixture, limit=8):
            _compare(args, clone, http.url, tmp_path)


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_commands_gto_lacks_read_remotes_too(
    scheme: str, repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    server, clone = repos["showcase"]
    commands = [
        ["latest", "rf"],
        ["latest", "rf", "--ref"],
        ["which", "rf", "production"],
        ["which", "rf", "staging", "--ref"],
        ["describe", "rf"],
        ["describe", "rf@v1.2.3"],
        ["describe", "nn#staging"],
        ["show", "rf@latest", "--ref"],
        ["show", "rf#production", "--version"],
        ["show", "rf", "--json"],
        ["history", "--json"],
        ["stages", "--used"],
    ]
    with serve_http(server) as http:
        url = server.as_uri() if scheme == "file" else http.url
        for args in commands:
            _compare(args, clone, url, tmp_path)


def test_remote_config_comes_from_the_default_branch(tmp_path: Path) -> None:
    """A committed `.gto` on the remote is honoured, like in a clone of it."""
    spec = load_spec(FIXTURES / "config_stages.yaml")
    committed = dict(spec)
    commits = [dict(c) for c in spec["commits"]]
    commits[-1] = {
        **commits[-1],
        "files": {**commits[-1]["files"], ".gto": spec["worktree"][".gto"]},
    }
    committed["commits"] = commits
    del committed["worktree"]
    server, clone = tmp_path / "server.git", tmp_path / "clone"
    build_repo(committed, server, bare=True)
    build_repo(committed, clone)
    for args in (["stages"], ["show", "--plain"], ["doctor"]):
        _compare(args, clone, server.as_uri(), tmp_path)
    assert run_cli(["stages", "-r", server.as_uri()]).stdout == "dev\nprod\nstaging\n"


# -- what is fetched ----------------------------------------------------------


def test_one_artifact_commands_fetch_only_that_artifacts_tags(
    repos: dict[str, tuple[Path, Path]],
) -> None:
    server, _clone = repos["showcase"]
    all_tags = ref_dict(server)
    with RemoteRepo.open_url(server.as_uri()) as remote:
        entries = remote.tag_refs(["rf@", "rf#"])
        store = remote.dulwich.object_store
        fetched = {name for name, sha in all_tags.items() if ObjectID(sha) in store}
    assert {e.name for e in entries} == {
        n.decode()[len("refs/tags/") :] for n in all_tags if n.startswith(b"refs/tags/rf")
    }
    tag_refs = {n for n in all_tags if n.startswith(b"refs/tags/")}
    assert {n for n in fetched if n in tag_refs} == {
        n for n in tag_refs if n.startswith(b"refs/tags/rf")
    }


def test_the_temporary_store_is_removed(
    repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    server, _clone = repos["showcase"]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_process(
        ["show", "-r", server.as_uri()], cwd=tmp_path, env={"TMPDIR": str(scratch)}
    )
    assert result.exit_code == 0, result.stderr
    assert "rf" in result.stdout
    assert list(scratch.iterdir()) == []


def test_remote_reads_need_no_git(repos: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    server, clone = repos["showcase"]
    with serve_http(server) as http:
        for args in (["show", "--json"], ["history", "rf"], ["check-ref", "rf@v1.2.4", "--json"]):
            local = run_process(args, cwd=clone, env=ENV)
            remote = run_process([*args, "-r", http.url], cwd=tmp_path, env=ENV)
            _same(local, remote)


# -- URLs and paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "remote"),
    [
        ("https://github.com/iterative/example-gto.git", True),
        ("http://127.0.0.1:8080/repo", True),
        ("git://example.com/repo.git", True),
        ("ssh://git@example.com/repo.git", True),
        ("git@github.com:iterative/example-gto.git", True),
        ("file:///srv/repo.git", True),
        (".", False),
        ("some/dir", False),
        ("/abs/path/repo", False),
        ("./host:path", False),
        ("C:\\repos\\x", False),
    ],
)
def test_which_locations_are_urls(location: str, remote: bool) -> None:
    assert is_url(location) is remote


def test_an_existing_local_folder_with_a_colon_stays_local(tmp_path: Path) -> None:
    folder = tmp_path / "host:path"
    build_fixture("showcase", folder)
    with contextlib.chdir(tmp_path):
        assert not is_url("host:path")
    result = run_cli(["show", "-r", "host:path", "--plain"], cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "rf" in result.stdout


# -- writes -----------------------------------------------------------------------


def _new_refs(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in after.items() if before.get(k) != v}


@pytest.fixture
def server(tmp_path: Path) -> Path:
    path = tmp_path / "server.git"
    build_repo(load_spec(FIXTURES / "showcase.yaml"), path, bare=True)
    return path


def test_register_through_http_lands_exactly_one_ref(server: Path, tmp_path: Path) -> None:
    before = ref_dict(server)
    with serve_http(server) as http:
        result = run_cli(["register", "newart", "-r", http.url], cwd=tmp_path, env=IDENTITY)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            "Created git tag 'newart@v0.0.1' that registers version",
            "Running `git push origin newart@v0.0.1`",
            "Successfully pushed git tag newart@v0.0.1 on remote.",
        ]
        added = _new_refs(before, ref_dict(server))
        assert list(added) == [b"refs/tags/newart@v0.0.1"]
        shown = run_cli(["history", "newart", "-r", http.url, "--json"], cwd=tmp_path)
    events = json.loads(shown.stdout)
    assert [e["event"] for e in events] == ["registration"]
    assert events[0]["author"] == "Remote Tester"


def test_assign_and_deprecate_through_file_url(server: Path, tmp_path: Path) -> None:
    url = server.as_uri()
    before = ref_dict(server)
    result = run_cli(
        ["assign", "rf", "--version", "v1.2.4", "--stage", "qa", "-r", url], env=IDENTITY
    )
    assert result.exit_code == 0, result.stderr
    added = _new_refs(before, ref_dict(server))
    assert len(added) == 1
    assert next(iter(added)).startswith(b"refs/tags/rf#qa#")
    middle = ref_dict(server)
    result = run_cli(["deprecate", "rf", "v1.2.4", "qa", "-r", url], env=IDENTITY)
    assert result.exit_code == 0, result.stderr
    assert len(_new_refs(middle, ref_dict(server))) == 1
    result = run_cli(["deprecate", "nn", "--delete", "-r", url], env=IDENTITY)
    assert result.exit_code == 0, result.stderr
    after = ref_dict(server)
    assert not any(name.startswith(b"refs/tags/nn") for name in after)
    assert all(after.get(k) == v for k, v in middle.items() if not k.startswith(b"refs/tags/nn"))


class ReadOnly:
    """Middleware refusing pushes (a read-only token): 403 on receive-pack."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "git-receive-pack" in environ.get("PATH_INFO", "") + environ.get("QUERY_STRING", ""):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"read only\n"]
        return self.app(environ, start_response)


def test_rejected_push_is_one_line_and_changes_nothing(server: Path, tmp_path: Path) -> None:
    before = ref_dict(server)
    with serve_http(server, wrap=ReadOnly) as http:
        result = run_cli(["register", "newart", "-r", http.url], cwd=tmp_path, env=IDENTITY)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert ref_dict(server) == before


def test_annotate_refuses_a_url(server: Path, tmp_path: Path) -> None:
    result = run_cli(["annotate", "x", "--type", "model", "-r", server.as_uri()], cwd=tmp_path)
    assert result.exit_code == 1
    assert "needs a local repository" in result.stderr
    assert not (tmp_path / "artifacts.yaml").exists()


# -- authentication and failures ------------------------------------------------------


TOKEN = "s3cret-t0ken-value"


@pytest.fixture
def private(server: Path) -> Iterator[HttpRemote]:
    with serve_http(server, username="x-access-token", password=TOKEN) as http:
        yield http


def _no_secret(result: Result) -> None:
    assert TOKEN not in result.stdout + result.stderr


def test_auth_failure_names_the_variables(private: HttpRemote, tmp_path: Path) -> None:
    result = run_cli(["show", "-r", private.url], cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"❌ authentication failed for {private.url}; set GTO_DULWICH_TOKEN (or "
        "GTO_DULWICH_USERNAME and GTO_DULWICH_PASSWORD); in CI, GTO_DULWICH_CI_TOKEN=1 uses "
        "GITHUB_TOKEN or CI_JOB_TOKEN"
    ]


@pytest.mark.parametrize(
    "env",
    [
        {"GTO_DULWICH_TOKEN": TOKEN},
        {"GTO_DULWICH_USERNAME": "x-access-token", "GTO_DULWICH_PASSWORD": TOKEN},
        {"GTO_DULWICH_CI_TOKEN": "1", "GITHUB_TOKEN": TOKEN},
    ],
    ids=["token", "username-password", "ci-token"],
)
def test_credentials_from_the_environment(
    private: HttpRemote, tmp_path: Path, env: dict[str, str]
) -> None:
    result = run_cli(["show", "rf", "--plain", "-r", private.url], cwd=tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    assert "v1.2.4" in result.stdout
    _no_secret(result)


def test_ci_tokens_are_used_only_when_asked(private: HttpRemote, tmp_path: Path) -> None:
    result = run_cli(["show", "-r", private.url], cwd=tmp_path, env={"GITHUB_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert "authentication failed" in result.stderr


def test_wrong_token_is_rejected_without_showing_it(private: HttpRemote, tmp_path: Path) -> None:
    result = run_cli(
        ["show", "-r", private.url], cwd=tmp_path, env={"GTO_DULWICH_TOKEN": "wrong-" + TOKEN}
    )
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("the server rejected the credentials (GTO_DULWICH_TOKEN)")
    _no_secret(result)


def test_write_with_a_token_pushes(private: HttpRemote, server: Path, tmp_path: Path) -> None:
    env = {**IDENTITY, "GTO_DULWICH_TOKEN": TOKEN}
    before = ref_dict(server)
    result = run_cli(["register", "newart", "-r", private.url], cwd=tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    assert list(_new_refs(before, ref_dict(server))) == [b"refs/tags/newart@v0.0.1"]
    _no_secret(result)


@pytest.mark.parametrize("scheme", ["http", "git"])
def test_unreachable_host_is_one_line_quickly(scheme: str, tmp_path: Path) -> None:
    url = f"{scheme}://127.0.0.1:{closed_port()}/repo.git"
    started = time.monotonic()
    result = run_process(["show", "-r", url], cwd=tmp_path)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"❌ cannot reach {url}: Connection refused"]


def test_not_a_repository_url(tmp_path: Path) -> None:
    url = (tmp_path / "nothing-here").as_uri()
    result = run_cli(["show", "-r", url], cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"❌ cannot read {url}: no git repository there"


def test_credentials_in_the_url_are_never_printed(private: HttpRemote, tmp_path: Path) -> None:
    url = private.url.replace("http://", f"http://x-access-token:{TOKEN}@")
    good = run_cli(["show", "rf", "--plain", "-r", url], cwd=tmp_path)
    assert good.exit_code == 0, good.stderr
    bad = run_cli(["show", "-r", url.replace(TOKEN, "nope-" + TOKEN)], cwd=tmp_path)
    assert bad.exit_code == 1
    _no_secret(good)
    _no_secret(bad)
    assert "nope-" not in bad.stderr


# -- a real git server that honours object filters (skipped without git) -----------------


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[int]:
    """``git daemon`` on 127.0.0.1 exporting ``base``; only the tests use git, never the product."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (needed only to run a real git server)")
    port = closed_port()
    daemon = subprocess.Popen(
        [
            git,
            "daemon",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            "--export-all",
            "--reuseaddr",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@contextlib.contextmanager
def served_by_git(git_dir: Path, tmp_path: Path, name: str, *options: str) -> Iterator[str]:
    """A copy of ``git_dir`` served by ``git daemon`` as ``name``, with each of git's
    ``options`` (``uploadpack.allowFilter``, ...) set true: its URL."""
    import shutil
    import subprocess

    served = tmp_path / "srv" / name
    shutil.copytree(git_dir, served)
    with git_daemon(served.parent) as port:  # skips without git
        for key in options:
            subprocess.run(["git", "-C", str(served), "config", key, "true"], check=True)
        yield f"git://127.0.0.1:{port}/{name}"


def test_a_filtering_server_sends_no_files_of_tagged_commits(
    repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    server, clone = repos["showcase"]
    options = ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant")
    with served_by_git(server, tmp_path, "showcase.git", *options) as url:
        for args in (["show", "--json"], ["show", "rf", "--json"], ["stages"]):
            _compare(args, clone, url, tmp_path)
        with RemoteRepo.open_url(url) as remote:
            remote.tag_refs()
            store = remote.dulwich.object_store
            blobs = sum(1 for sha in store if store[sha].type_name == b"blob")
            trees = sum(1 for sha in store if store[sha].type_name == b"tree")
            assert (blobs, trees) == (0, 0)  # tag objects and commits only
            head = remote.head()
            assert head is not None
            assert remote.read_file(head, "artifacts.yaml") is not None
            blobs = sum(1 for sha in store if store[sha].type_name == b"blob")
            assert blobs == 1  # just the file that was read


def test_a_git_daemon_read_of_thousands_of_tags_equals_the_local_read(tmp_path: Path) -> None:
    """Past the sizes where the client works in pieces: a listing and a want list of many
    64 kB sends and receives, a pack indexed in many steps while it arrives."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_generate", Path(__file__).resolve().parents[1] / "bench" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate  # its dataclasses look their module up
    try:
        spec.loader.exec_module(generate)
    finally:
        del sys.modules[spec.name]
    clone = tmp_path / "registry"
    assert generate.generate(clone, 3000) > 2500
    options = ("uploadpack.allowFilter", "uploadpack.allowAnySHA1InWant")
    with served_by_git(clone / ".git", tmp_path, "registry.git", *options) as url:
        for args in (["show", "--json"], ["history", "--json"]):
            _compare(args, clone, url, tmp_path)
        with RemoteRepo.open_url(url) as remote:
            assert len(remote.tag_refs()) > 2500
            assert remote.bytes_received > 256 * 1024


def test_a_git_daemon_sends_every_tag_in_one_fetch_with_include_tag(
    repos: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    """Reading every tag wants the commits they point at; the server adds the annotated
    tags on them (include-tag): one fetch, nothing left to want by id."""
    server, _clone = repos["showcase"]
    served = served_by_git(server, tmp_path, "showcase.git", "uploadpack.allowFilter")
    with served as url, RemoteRepo.open_url(url) as remote:
        entries = remote.tag_refs()
        assert remote.fetches == 1
        annotated = [e for e in entries if e.peeled and e.peeled != e.sha]
        assert annotated
        store = remote.dulwich.object_store
        assert all(ObjectID(e.sha.encode()) in store for e in entries)
        blobs = sum(1 for sha in store if store[sha].type_name == b"blob")
        assert blobs == 0
