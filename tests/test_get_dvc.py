"""``gto get`` for DVC-tracked artifacts: ``--show-url`` as the real ``dvc get --show-url``
printed it (fixtures/dvc_get/show_url.json), and downloads of DVC 3 and DVC 2 outputs,
files and directories, from a local remote, an HTTP remote and an S3 server, with faults."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import build_repo, load_spec
from tests.helpers import FIXTURES, run_cli, run_process
from tests.servers import serve_http
from tests.static_server import serve_files, serve_s3

HERE = FIXTURES / "dvc_get"
DATA: dict[str, Any] = json.loads((HERE / "data.json").read_text())["outputs"]
CAPTURED: dict[str, Any] = json.loads((HERE / "show_url.json").read_text())


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def manifest(files: dict[str, str]) -> bytes:
    entries = [{"md5": md5(t.encode()), "relpath": r} for r, t in sorted(files.items())]
    return json.dumps(entries, sort_keys=True).encode()


def fill(root: Path, names: list[str] | None = None) -> None:
    """The objects of the outputs named (all by default) in DVC's remote layouts."""
    for name, out in DATA.items():
        if names is not None and name not in names:
            continue
        content = out["content"]
        blobs = [
            (md5(t.encode()), t.encode())
            for t in ([content] if isinstance(content, str) else content.values())
        ]
        if not isinstance(content, str):
            raw = manifest(content)
            blobs.append((md5(raw) + ".dir", raw))
        base = root / "files" / "md5" if out["dvc3"] else root
        for digest, data in blobs:
            (base / digest[:2]).mkdir(parents=True, exist_ok=True)
            (base / digest[:2] / digest[2:]).write_bytes(data)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    build_repo(load_spec(HERE / "repo.yaml"), path)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def expected(name: str) -> dict[str, bytes]:
    content = DATA[name]["content"]
    if isinstance(content, str):
        return {"": content.encode()}
    return {rel: text.encode() for rel, text in content.items()}


def written(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def nothing_left(folder: Path) -> bool:
    return list(folder.iterdir()) == []


# -- --show-url, against real DVC --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DATA))
def test_show_url_matches_dvc(repo: Path, out: Path, name: str) -> None:
    result = run_cli(["get", name, "--show-url", "-r", str(repo)], cwd=out)
    assert result.exit_code == 0, result.stderr
    assert CAPTURED[name]["exit_code"] == 0
    assert result.stdout == CAPTURED[name]["stdout"].replace("{repo}", str(repo))
    assert nothing_left(out)


@pytest.mark.parametrize("name", ["images", "images2"])
def test_show_url_json_lists_each_file_as_dvc_would(repo: Path, out: Path, name: str) -> None:
    fill(repo / "storage")
    result = run_cli(["get", name, "--show-url", "--json", "-r", str(repo)], cwd=out)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["url"] == CAPTURED[name]["stdout"].strip().replace("{repo}", str(repo))
    files = {f["relpath"]: f["url"] for f in data["files"]}
    assert sorted(files) == sorted(DATA[name]["content"])
    for rel, url in files.items():
        # What `dvc get REPO <dir>/<file> --show-url` printed for that file.
        captured = CAPTURED[f"{name}/{rel}"]["stdout"].strip().replace("{repo}", str(repo))
        assert url == captured


# -- downloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model3", "model2", "images", "images2"])
def test_local_remote(repo: Path, out: Path, name: str) -> None:
    fill(repo / "storage")
    result = run_process(["get", name, "--json", "-r", str(repo)], cwd=out)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    target = out / DATA[name]["path"].rsplit("/", 1)[-1]
    assert report["output"] == target.name
    assert report["source"] == "dvc"
    assert report["version"] == "v1.0.0"
    assert written(target) == expected(name)
    assert report["size"] == sum(map(len, expected(name).values()))
    assert sorted(p.name for p in out.iterdir()) == [target.name]


def test_http_remote(repo: Path, out: Path) -> None:
    storage = repo.parent / "web"
    fill(storage / "store", ["web", "model3", "images"])
    with serve_files(storage) as server:
        (repo / ".dvc" / "config.local").write_text(
            f"['remote \"web\"']\n    url = {server.url}/store\n[core]\n    remote = web\n"
        )
        for name in ("web", "model3", "images"):
            result = run_process(["get", name, "-r", str(repo)], cwd=out)
            assert result.exit_code == 0, result.stderr
            assert written(out / DATA[name]["path"].rsplit("/", 1)[-1]) == expected(name)
    assert sorted(p.name for p in out.iterdir()) == ["images", "model.pkl", "web.pkl"]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("corrupt", "md5 mismatch for http://127.0.0.1:"),
        ("drop", "broke off"),
    ],
)
@pytest.mark.parametrize("name", ["web", "images"])
def test_hostile_http_remote(repo: Path, out: Path, fault: str, message: str, name: str) -> None:
    storage = repo.parent / "web"
    fill(storage / "store")
    with serve_files(storage, fault=fault) as server:
        (repo / ".dvc" / "config.local").write_text(
            f"['remote \"web\"']\n    url = {server.url}/store\n[core]\n    remote = web\n"
        )
        result = run_process(["get", name, "-r", str(repo)], cwd=out)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert nothing_left(out)


def test_unsupported_scheme_names_the_address(repo: Path, out: Path) -> None:
    (repo / ".dvc" / "config.local").write_text(
        "['remote \"gcs\"']\n    url = gs://bucket/store\n[core]\n    remote = gcs\n"
    )
    result = run_cli(["get", "model3", "-r", str(repo)], cwd=out)
    assert result.exit_code == 1
    assert result.stderr == (
        "❌ cannot download gs://bucket/store/files/md5/43/a9c03b5abc6a3794e869e3b2f7229d: "
        "gs:// storage is not supported; fetch that address with your own tool\n"
    )
    shown = run_cli(["get", "model3", "--show-url", "-r", str(repo)], cwd=out)
    assert shown.stdout == "gs://bucket/store/files/md5/43/a9c03b5abc6a3794e869e3b2f7229d\n"


def test_existing_out_refused_before_download(repo: Path, out: Path) -> None:
    fill(repo / "storage")
    (out / "model.pkl").write_bytes(b"running model")
    result = run_cli(["get", "model3", "-r", str(repo)], cwd=out)
    assert result.exit_code == 1
    assert result.stderr == "❌ 'model.pkl' already exists; add --force to replace it\n"
    assert (out / "model.pkl").read_bytes() == b"running model"
    forced = run_cli(["get", "model3", "--force", "-r", str(repo)], cwd=out)
    assert forced.exit_code == 0, forced.stderr
    assert (out / "model.pkl").read_bytes() == expected("model3")[""]


def test_missing_object(repo: Path, out: Path) -> None:
    result = run_cli(["get", "model3", "-r", str(repo)], cwd=out)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"❌ cannot read {repo}/storage/files/md5/43/")
    assert nothing_left(out)


def test_ctrl_c_mid_download_leaves_nothing(repo: Path, out: Path) -> None:
    storage = repo.parent / "web"
    fill(storage / "store", ["web"])
    with serve_files(storage, fault="stall") as server:
        (repo / ".dvc" / "config.local").write_text(
            f"['remote \"web\"']\n    url = {server.url}/store\n"
        )
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gto"), "get", "web", "-r", str(repo)],
            cwd=out,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The server stalls after the first bytes: wait for the request, then interrupt.
            assert server.stalled.wait(timeout=60)
            process.send_signal(signal.SIGINT)
            _stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            server.release.set()
    assert process.returncode == 130, stderr
    assert stderr == "Interrupted\n"
    assert nothing_left(out)


# -- S3 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    with serve_s3() as env:
        yield env


def test_s3_remote(s3_env: dict[str, str], repo: Path, out: Path) -> None:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        region_name=s3_env["AWS_DEFAULT_REGION"],
    )
    client = session.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    client.create_bucket(Bucket="models")
    local = repo.parent / "s3"
    fill(local, ["s3model", "images", "model2"])
    for path in local.rglob("*"):
        if path.is_file():
            key = "store/" + path.relative_to(local).as_posix()
            client.put_object(Bucket="models", Key=key, Body=path.read_bytes())
    (repo / ".dvc" / "config.local").write_text("[core]\n    remote = s3store\n")
    for name in ("s3model", "images", "model2"):
        result = run_process(["get", name, "--json", "-r", str(repo)], cwd=out, env=s3_env)
        assert result.exit_code == 0, result.stderr
        assert written(out / DATA[name]["path"].rsplit("/", 1)[-1]) == expected(name)
        assert "testing-secret" not in result.stdout + result.stderr
    denied = run_process(
        ["get", "s3model", "-o", "x", "-r", str(repo)],
        cwd=out,
        env={**s3_env, "AWS_ACCESS_KEY_ID": "nobody", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
    )
    assert denied.exit_code == 1
    assert denied.stderr.startswith("❌ cannot download s3://models/store/files/md5/32/")
    assert not (out / "x").exists()
    assert not [p for p in out.iterdir() if ".gto-" in p.name]
    assert os.environ.get("AWS_SECRET_ACCESS_KEY") != "testing-secret"


def test_http_credentials_are_used_and_never_printed(repo: Path, out: Path) -> None:
    storage = repo.parent / "web"
    fill(storage / "store", ["web"])
    with serve_files(storage, username="ann", password="hunter22") as server:
        with_secret = server.url.replace("http://", "http://ann:hunter22@")
        config = repo / ".dvc" / "config.local"
        config.write_text(f"['remote \"web\"']\n    url = {with_secret}/store\n")
        shown = run_cli(["get", "web", "--show-url", "-r", str(repo)], cwd=out)
        fetched = run_cli(["get", "web", "--json", "-r", str(repo)], cwd=out)
        config.write_text(f"['remote \"web\"']\n    url = {server.url}/store\n")
        denied = run_cli(["get", "web", "-o", "x", "-r", str(repo)], cwd=out)
        by_env = run_cli(
            ["get", "web", "-o", "y", "-r", str(repo)],
            cwd=out,
            env={"GTO_DULWICH_STORAGE_USERNAME": "ann", "GTO_DULWICH_STORAGE_PASSWORD": "hunter22"},
        )
    assert shown.stdout == f"{server.url}/store/files/md5/ce/d3ca064b784707adae9bd537c01acf\n"
    assert fetched.exit_code == 0, fetched.stderr
    assert by_env.exit_code == 0, by_env.stderr
    assert denied.exit_code == 1
    assert "HTTP 401" in denied.stderr
    for result in (shown, fetched, denied, by_env):
        assert "hunter22" not in result.stdout + result.stderr
    assert (out / "web.pkl").read_bytes() == (out / "y").read_bytes() == b"served over http\n"


def test_remote_repository_and_http_storage_without_git(tmp_path: Path, out: Path) -> None:
    """-r URL: the registry, dvc.yaml, the .dvc file and .dvc/config come over smart HTTP
    (no clone, no git on PATH); the object comes from the HTTP remote they name."""
    storage = tmp_path / "web"
    fill(storage / "store", ["web", "images"])
    with serve_files(storage) as files:
        spec = load_spec(HERE / "repo.yaml")
        config = spec["commits"][0]["files"][".dvc/config"]
        spec["commits"][0]["files"][".dvc/config"] = config.replace(
            "http://127.0.0.1:1", files.url
        ).replace("remote = storage", "remote = web")
        build_repo(spec, tmp_path / "served")
        with serve_http(tmp_path / "served") as git_server:
            result = run_process(["get", "web#prod", "-r", git_server.url], cwd=out)
            shown = run_process(["get", "web@v1.0.0", "--show-url", "-r", git_server.url], cwd=out)
            tree = run_process(["get", "images@v1.0.0", "-r", git_server.url, "-v"], cwd=out)
        latest = run_process(
            ["get", "web", "--json", "-r", tmp_path.joinpath("served").as_uri()], cwd=out
        )
    assert result.exit_code == 1
    assert result.stderr == "❌ no version of 'web' was ever assigned to stage 'prod'\n"
    assert shown.stdout == f"{files.url}/store/files/md5/ce/d3ca064b784707adae9bd537c01acf\n"
    assert tree.exit_code == 0, tree.stderr
    assert written(out / "images") == expected("images")
    assert "fetched " in tree.stderr
    assert "downloaded 12 bytes from storage" in tree.stderr
    assert latest.exit_code == 0, latest.stderr
    assert json.loads(latest.stdout)["url"].startswith(files.url)


def test_dvc_file_problems(tmp_path: Path, out: Path) -> None:
    """A broken DVC file is named when the path is not in git; it never stops a git artifact."""
    from dulwich.objects import ObjectID
    from dulwich.repo import Repo

    from tests.servers import add_tag
    from tests.test_get import MAIN, commit

    path = tmp_path / "r"
    path.mkdir()
    good = "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 1\n  hash: md5\n  path: k.bin\n"
    with Repo.init(str(path)) as repo:
        c1 = commit(
            repo,
            {
                "artifacts.yaml": b"m:\n  path: m.bin\nn:\n  path: notes.txt\nk:\n  path: k.bin\n",
                "m.bin.dvc": b"outs: [oops\n",
                "dvc.lock": b"stages: {{{\n",
                "notes.txt": b"committed in git\n",
                "k.bin.dvc": good.encode(),
            },
            [],
            1_704_164_645,
        )
        repo.refs[MAIN] = ObjectID(c1)
        for name in ("m", "n", "k"):
            add_tag(repo, f"{name}@v1.0.0", c1)
    broken = run_cli(["get", "m", "-r", str(path)], cwd=out)
    assert broken.exit_code == 1
    assert broken.stderr.startswith("❌ cannot read the DVC output of 'm.bin': dvc.lock at commit")
    assert "; m.bin.dvc at commit" in broken.stderr
    assert broken.stderr.count("\n") == 1
    notes = run_cli(["get", "n", "-r", str(path)], cwd=out)
    assert notes.exit_code == 0, notes.stderr
    assert (out / "notes.txt").read_bytes() == b"committed in git\n"
    no_remote = run_cli(["get", "k", "--show-url", "-r", str(path)], cwd=out)
    assert no_remote.exit_code == 1
    assert no_remote.stderr.startswith("❌ 'k.bin' is tracked by DVC (k.bin.dvc) but has no remote")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
