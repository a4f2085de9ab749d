"""Issue #11, local input: hostile YAML, dates, files, terminal text and settings.

Each class an attacker (or an accident) can push into a repository, the
environment or the command line is run through the real ``gto`` process, bounded
in time: no traceback, never exit 3, one line naming the file/commit/setting,
and the rest of the registry still reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gto_dulwich.builder import build_repo
from gto_dulwich.cache import FILE_NAME, INDEX_FILE_NAME
from gto_dulwich.statecache import FILE_NAME as STATE_FILE_NAME
from gto_dulwich.statecache import GROUPS_FILE_NAME
from tests.helpers import path_without_git
from tests.test_hostile import ENV, git_dir, set_tag_ref, spec, tag_body, write_object

GTO = str(Path(sys.executable).parent / "gto")
# What a terminal must never receive raw from repository text.
FORBIDDEN = ("\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u061c", "\u2060", "\x1b")


def laughs(levels: int = 9) -> str:
    lines = ['lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"lol{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def run(
    path: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, bytes, bytes, float]:
    """The real ``gto`` (no git on PATH), bytes out, bounded in time."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GTO_"))}
    environment.update({"PATH": path_without_git(), "TZ": "UTC", **ENV, **(env or {})})
    started = time.monotonic()
    done = subprocess.run(
        [GTO, *args],
        cwd=cwd or path,
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def ok(result: tuple[int, bytes, bytes, float], *codes: int) -> tuple[str, str]:
    """No traceback, no exit 3, an exit 1 is one line; the text, decoded."""
    code, out, err, _elapsed = result
    stdout = out.decode("utf-8", "backslashreplace")
    stderr = err.decode("utf-8", "backslashreplace")
    assert code in (codes or (0,)), (code, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "Unexpected error" not in stderr
    if code in (1, 2) and codes != (2,):
        assert len(stderr.strip().splitlines()) == 1, stderr
    return stdout, stderr


def one_line_error(result: tuple[int, bytes, bytes, float], message: str, code: int = 1) -> str:
    _out, err = ok(result, code)
    assert message in err, err
    return err


def with_index(head: str, tagged: str | None = None, **extra: Any) -> dict[str, Any]:
    built = spec(**extra)
    if tagged is not None:
        built["commits"][0]["files"]["artifacts.yaml"] = tagged
    built["commits"][1]["files"]["artifacts.yaml"] = head
    return built


# -- classes 1 and 2: alias bombs and large YAML --------------------------------------------


@pytest.mark.parametrize("where", ["head", "tagged"])
def test_an_alias_bomb_in_artifacts_yaml_is_refused_and_the_rest_reads(
    tmp_path: Path, where: str
) -> None:
    good = "rf: {type: model, path: models/rf.pkl}\n"
    bomb = good + laughs()
    built = build_repo(
        with_index(bomb if where == "head" else good, bomb if where == "tagged" else None),
        tmp_path / "repo",
    )
    path = built.path
    commit = built.commits["c2" if where == "head" else "c1"][:7]
    for args in (
        ["show", "--json"],
        ["show"],
        ["history"],
        ["show", "rf", "--json"],
        ["-v", "show"],
    ):
        code, out, err, elapsed = run(path, *args)
        ok((code, out, err, elapsed))
        assert elapsed < 20
    stdout, _ = ok(run(path, "show", "--json"))
    assert json.loads(stdout)["rf"]["version"] == "v1.0.0"
    verbose = ["-v", "show"] if where == "head" else ["-v", "show", "rf", "--json"]
    _, stderr = ok(run(path, *verbose))
    assert f"artifacts.yaml at commit {commit} refused: YAML has more than 200,000 nodes" in stderr
    stdout, _ = ok(run(path, "doctor"), 0, 1)
    assert f"artifacts.yaml at commit {commit} refused" in stdout
    for cache in (FILE_NAME, INDEX_FILE_NAME, STATE_FILE_NAME, GROUPS_FILE_NAME):
        file = git_dir(path) / cache
        assert not file.exists() or file.stat().st_size < 100_000, cache


def test_an_alias_bomb_in_gto_or_a_tag_path_config_is_one_line(tmp_path: Path) -> None:
    path = build_repo(spec(worktree={".gto": laughs()}), tmp_path / "repo").path
    one_line_error(run(path, "show"), "YAML has more than 200,000 nodes")
    config = tmp_path / "params.yaml"
    config.write_text(laughs())
    one_line_error(run(path, "tag-path", "plot.png", "--config", str(config)), "200,000 nodes")
    config.write_text("a: &a [*a]\n")
    one_line_error(run(path, "tag-path", "plot.png", "--config", str(config)), "recursive")


def test_annotate_and_remove_refuse_an_alias_bomb_without_writing(tmp_path: Path) -> None:
    bomb = "rf: {type: model}\n" + laughs()
    path = build_repo(with_index(bomb), tmp_path / "repo").path
    before = (path / "artifacts.yaml").read_bytes()
    one_line_error(run(path, "annotate", "x", "--type", "model"), "refused")
    one_line_error(run(path, "remove", "rf"), "refused")
    assert (path / "artifacts.yaml").read_bytes() == before


def test_a_large_artifacts_yaml_is_refused_before_parsing_and_the_cap_is_a_setting(
    tmp_path: Path,
) -> None:
    big = "rf: {type: model, path: models/rf.pkl}\n" + "".join(
        f"m{i}: {{type: model, description: '{'x' * 200}'}}\n" for i in range(6000)
    )
    assert len(big) > 1 << 20
    built = build_repo(with_index(big), tmp_path / "repo")
    path, head = built.path, built.commits["c2"][:7]
    code, out, err, elapsed = run(path, "-v", "show", "--json")
    _, stderr = ok((code, out, err, elapsed))
    assert elapsed < 20
    assert f"artifacts.yaml at commit {head} refused: " in stderr
    assert "more than the 1,048,576 allowed (GTO_DULWICH_YAML_MAX_BYTES raises it)" in stderr
    assert json.loads(out)["rf"]["version"] == "v1.0.0"
    stdout, _ = ok(run(path, "show", "--json", env={"GTO_DULWICH_YAML_MAX_BYTES": "4000000"}))
    assert "m5999" in json.loads(stdout)
    one_line_error(
        run(path, "show", env={"GTO_DULWICH_YAML_MAX_BYTES": "-1"}),
        "GTO_DULWICH_YAML_MAX_BYTES='-1' is not a positive number of bytes",
    )


# -- class 3: lone surrogates ---------------------------------------------------------------


@pytest.mark.parametrize("locale", ["C", "C.UTF-8", "en_US.UTF-8"])
def test_lone_surrogates_in_artifacts_yaml_never_exit_3_nor_reach_the_terminal_raw(
    tmp_path: Path, locale: str
) -> None:
    index = 'rf: {type: model, path: "m\\uD800.pkl", description: "d\\uDC85e"}\n'
    path = build_repo(with_index(index, index), tmp_path / "repo").path
    env = {"LC_ALL": locale, "LANG": locale}
    output = tmp_path / "out.txt"
    for args in (
        ["describe", "rf", "--path"],
        ["describe", "rf", "--description"],
        ["describe", "rf"],
        ["show", "rf", "--json"],
        ["show", "rf"],
        ["show", "--plain"],
        ["history"],
        ["check-ref", "rf@v1.0.0", "--github-output"],
    ):
        code, out, err, elapsed = run(path, *args, env={**env, "GITHUB_OUTPUT": str(output)})
        ok((code, out, err, elapsed))
        for stream in (out, err):
            text = stream.decode("utf-8")  # strict: no raw byte from a surrogate escape
            assert not any("\x80" <= char <= "\x9f" for char in text), text
    _, out, _, _ = run(path, "describe", "rf", "--path", env=env)
    assert out == b"m\\ud800.pkl\n"
    assert "path=m\\ud800.pkl\n" in output.read_text()


# -- class 4: tagger times git accepts and datetime cannot hold -----------------------------


def test_tagger_time_or_zone_out_of_range_never_stops_a_whole_registry_read(
    tmp_path: Path,
) -> None:
    built = build_repo(spec(), tmp_path / "repo")
    path, c1 = built.path, built.commits["c1"]
    for name, tagger in (
        ("rf@v9.0.0", b"Eve <e@x> 253402300800 +0000"),  # year 10000
        ("rf#dev#7", b"Eve <e@x> 1700000000 +9959"),
        ("rf#qa#8", b"Eve <e@x> 1700000000 -2400"),
    ):
        set_tag_ref(path, name, write_object(path, b"tag", tag_body(c1, name, tagger=tagger)))
    for args in (["show"], ["show", "--json"], ["history"], ["history", "--json"], ["show", "rf"]):
        ok(run(path, *args))
    stdout, _ = ok(run(path, "doctor"), 0)
    assert "rf@v9.0.0: tagger time 253402300800 +0000 is outside the years 1 to 9999" in stdout
    assert "rf#dev#7: tagger time zone +9959 is not within 24 hours of UTC; shown in UTC" in stdout
    history = json.loads(ok(run(path, "history", "rf", "--json"))[0])
    dev = next(event for event in history if event.get("stage") == "dev")
    assert dev["timestamp"] == "2023-11-14T22:13:20+00:00"
    assert all(event["ref"] != "rf@v9.0.0" for event in history)


@pytest.mark.parametrize("date", ["253402300800 +0000", "1800000000 +9959", "1800000000 -2400"])
def test_register_refuses_an_unshowable_committer_date_before_writing(
    tmp_path: Path, date: str
) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    refs = sorted(p.name for p in (git_dir(path) / "refs" / "tags").rglob("*"))
    one_line_error(
        run(path, "register", "rf", "--version", "v2.0.0", env={"GIT_COMMITTER_DATE": date}),
        f"Cannot use GIT_COMMITTER_DATE '{date}'",
    )
    assert sorted(p.name for p in (git_dir(path) / "refs" / "tags").rglob("*")) == refs


# -- class 7: symlinks and special files -------------------------------------------------------


def test_annotate_never_writes_through_a_link_out_of_the_work_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.yaml"
    victim.write_text("precious: {}\n")
    path = build_repo(spec(), tmp_path / "repo").path
    (path / "artifacts.yaml").unlink(missing_ok=True)
    (path / "artifacts.yaml").symlink_to(victim)
    for args in (["annotate", "x", "--type", "model"], ["remove", "precious"]):
        one_line_error(run(path, *args), "leads outside the work tree")
    assert victim.read_text() == "precious: {}\n"
    (path / "artifacts.yaml").unlink()
    (path / "linked").symlink_to(outside, target_is_directory=True)
    (path / ".gto").write_text("index: linked/artifacts.yaml\n")
    one_line_error(run(path, "annotate", "x", "--type", "model"), "leads outside the work tree")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.yaml"]


def test_a_gto_link_out_of_the_work_tree_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("stages: [TOPSECRET-value]\n")
    path = build_repo(spec(), tmp_path / "repo").path
    (path / ".gto").symlink_to(secret)
    for args in (["show"], ["stages", "--allowed"], ["doctor"]):
        code, out, err, elapsed = run(path, *args)
        stdout, stderr = ok((code, out, err, elapsed), 1)
        assert "TOPSECRET" not in stdout + stderr
        assert "a symbolic link to a file outside the work tree (not read)" in stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_cache_files_replaced_by_a_fifo_or_dev_zero_are_ignored(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    expected = ok(run(path, "show", "--json"))[0]
    gitdir = git_dir(path)
    for special in ("fifo", "zero"):
        for name in (FILE_NAME, INDEX_FILE_NAME, STATE_FILE_NAME, GROUPS_FILE_NAME):
            file = gitdir / name
            file.unlink(missing_ok=True)
            if special == "fifo":
                os.mkfifo(file)
            else:
                file.symlink_to("/dev/zero")
        for args in (["show", "--json"], ["history"], ["show", "rf", "--json"]):
            code, out, err, elapsed = run(path, *args)
            ok((code, out, err, elapsed))
            assert elapsed < 20
        assert ok(run(path, "show", "--json"))[0] == expected


def test_cache_files_that_are_links_never_write_through_them(tmp_path: Path) -> None:
    # Run as root, a cache written through a link planted in .git replaced /dev/zero with a
    # regular file; as anyone, it would overwrite the file the link names (~/.bashrc).
    path = build_repo(spec(), tmp_path / "repo").path
    expected = ok(run(path, "show", "--json"))[0]
    victim = tmp_path / "victim"
    victim.write_bytes(b"not yours\n")
    gitdir = git_dir(path)
    names = (FILE_NAME, INDEX_FILE_NAME, STATE_FILE_NAME, GROUPS_FILE_NAME)
    for name in names:
        (gitdir / name).unlink(missing_ok=True)
        (gitdir / name).symlink_to(victim)
    for args in (["show", "--json"], ["history"], ["show", "rf", "--json"], ["doctor"]):
        ok(run(path, *args), 0, 1)
    assert victim.read_bytes() == b"not yours\n"
    assert ok(run(path, "show", "--json"))[0] == expected


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_refs_replaced_by_a_fifo_or_dev_zero_end_in_bounded_time(tmp_path: Path) -> None:
    # A plain read of a FIFO blocks until a writer comes, one of /dev/zero never ends.
    path = build_repo(spec(packed_refs=True), tmp_path / "repo").path
    expected = ok(run(path, "show", "--json"))[0]
    gitdir = git_dir(path)
    for special in ("fifo", "zero"):
        # A loose tag ref that is no file: not a ref, the others read as before.
        strange = gitdir / "refs" / "tags" / f"rf@v9.{special}.0"
        os.mkfifo(strange) if special == "fifo" else strange.symlink_to("/dev/zero")
        for args in (["--no-cache", "show", "--json"], ["show", "--json"]):
            assert ok(run(path, *args))[0] == expected
        assert ok(run(path, "--no-cache", "latest", "rf"))[0] == "v1.0.0\n"
        strange.unlink()
        # packed-refs that is no file: every read and write refuses in one line.
        packed = gitdir / "packed-refs"
        kept = packed.read_bytes()
        packed.unlink()
        os.mkfifo(packed) if special == "fifo" else packed.symlink_to("/dev/zero")
        for args in (["--no-cache", "show"], ["latest", "rf"], ["register", "rf"]):
            code, out, err, elapsed = run(path, *args)
            one_line_error((code, out, err, elapsed), "Cannot read packed-refs")
            assert elapsed < 20
        packed.unlink()
        packed.write_bytes(kept)


# -- class 8: invisible and bidirectional characters ------------------------------------------


def test_bidi_and_zero_width_characters_reach_the_terminal_escaped(tmp_path: Path) -> None:
    description = "safe\u202egpj.exe\u2066x\u2069\u200b\u200d\ufeff\u061c\u2060"
    index = json.dumps({"rf": {"type": "model", "path": "a\u202eb", "description": description}})
    path = build_repo(with_index(index + "\n", index + "\n"), tmp_path / "repo").path
    for args in (
        ["describe", "rf", "--description"],
        ["describe", "rf", "--path"],
        ["show", "rf"],
        ["show", "rf", "--plain"],
        ["history", "--plain"],
        ["register", "rf", "--version", "v1.0.0"],
    ):
        stdout, stderr = ok(run(path, *args), 0, 1)
        assert not any(char in stdout + stderr for char in FORBIDDEN), (args, stdout, stderr)
    stdout, _ = ok(run(path, "describe", "rf", "--description"))
    assert stdout == "safe\\u202egpj.exe\\u2066x\\u2069\\u200b\\u200d\\ufeff\\u061c\\u2060\n"
    data = json.loads(ok(run(path, "describe", "rf"))[0])
    assert data["description"] == description  # JSON stays exact


# -- class 9: settings and arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GTO_ENRICHMENTS": "{"}, "Wrong environment variable GTO_ENRICHMENTS"),
        ({"GTO_ENRICHMENTS": "5"}, "Wrong environment variable GTO_ENRICHMENTS"),
        ({"GTO_STAGES": "[" * 2000}, "Wrong environment variable GTO_STAGES"),
        ({"GTO_DULWICH_LOCK_TIMEOUT": "nan"}, "GTO_DULWICH_LOCK_TIMEOUT='nan' is not a finite"),
        ({"GTO_DULWICH_LOCK_TIMEOUT": "inf"}, "GTO_DULWICH_LOCK_TIMEOUT='inf' is not a finite"),
        ({"GTO_DULWICH_LOCK_TIMEOUT": "-1"}, "GTO_DULWICH_LOCK_TIMEOUT='-1' is not a finite"),
    ],
)
def test_bad_settings_are_one_line_naming_them(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    args = ["register", "rf", "--version", "v2.0.0"] if "LOCK" in message else ["show"]
    (git_dir(path) / "refs" / "tags" / "rf@v2.0.0.lock").write_text("stale\n")
    one_line_error(run(path, *args, env=env), message)


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "soon"])
def test_a_bad_network_timeout_is_one_line_before_connecting(tmp_path: Path, value: str) -> None:
    one_line_error(
        run(tmp_path, "show", "-r", "http://127.0.0.1:9/x.git", env={"GTO_DULWICH_TIMEOUT": value}),
        f"GTO_DULWICH_TIMEOUT={value!r} is not a finite number of seconds",
    )


def test_enrichments_in_gto_must_be_a_list(tmp_path: Path) -> None:
    path = build_repo(spec(worktree={".gto": "enrichments: 5\n"}), tmp_path / "repo").path
    one_line_error(run(path, "show"), "enrichments must be a list")


def test_json_nested_a_thousand_deep_is_one_line(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    deep = "[" * 1000 + "]" * 1000
    one_line_error(run(path, "tag-path", "p.png", "--set", f"a={deep}"), "nested more than 100")
    dotted = ".".join(["k"] * 1000)
    one_line_error(run(path, "tag-path", "p.png", "--set", f"{dotted}=1"), "nested more than 100")
    one_line_error(run(path, "annotate", "rf", "-c", deep), "nested more than 100")


@pytest.mark.parametrize("target", ["directory", "missing/folder/out", "/dev/full"])
def test_an_unwritable_github_output_is_one_line(tmp_path: Path, target: str) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    if target == "/dev/full" and not Path(target).exists():
        pytest.skip("needs /dev/full")
    output = target if target.startswith("/") else str(tmp_path / target)
    if target == "directory":
        Path(output).mkdir()
    one_line_error(
        run(path, "check-ref", "rf@v1.0.0", "--github-output", env={"GITHUB_OUTPUT": output}),
        "Cannot write step outputs to $GITHUB_OUTPUT",
    )


@pytest.mark.parametrize(
    "url", ["ssh://-oProxyCommand=touch${IFS}pwned/x", "ssh://git@-oProxyCommand=x/y", "-oX=y:p"]
)
def test_a_url_whose_host_looks_like_an_option_is_a_usage_error(tmp_path: Path, url: str) -> None:
    one_line_error(run(tmp_path, "show", f"--repo={url}"), "its host starts with '-'", code=2)
    assert not (tmp_path / "pwned").exists()


# -- class 11: GTO's trailing newline ----------------------------------------------------------


def test_an_error_ending_in_a_newline_prints_as_gto_prints_it(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    _, err = ok(run(path, "register", "rf", "--version", "v1.0.0", env={"GTO_EMOJIS": "true"}), 1)
    # GTO 1.10.1 (fixtures/golden/writes/register_versions.json): the message, then an empty line.
    assert err == "❌ Version 'v1.0.0' already was registered.\n\n"


def test_a_blob_size_comes_from_its_pack_header_even_for_a_delta() -> None:
    """A zip-bomb blob is refused from its header (packscan.entry_size), never inflated."""
    import zlib

    from gto_dulwich.packscan import entry_size

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def header(kind: int, size: int) -> bytes:
        first = (kind << 4) | (size & 0x0F)
        rest = varint(size >> 4) if size >> 4 else b""
        return bytes([first | (0x80 if rest else 0)]) + rest

    size = 3 << 30
    assert entry_size(header(3, size) + zlib.compress(b"x")) == size  # a blob
    delta = zlib.compress(varint(10) + varint(size) + b"\x90\x0a")
    assert entry_size(header(6, 20) + b"\x85\x01" + delta) == size  # OFS_DELTA
    assert entry_size(header(7, 20) + b"\x11" * 20 + delta) == size  # REF_DELTA


def test_a_command_line_name_in_no_valid_utf8_is_one_line(tmp_path: Path) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    name = "\udcff"  # the argument is the byte 0xff (os.fsencode)
    for args in (
        ["show", name],
        ["show", name, "--json"],
        ["history", name],
        ["latest", name],
        ["which", name, "prod"],
        ["describe", name],
        ["check-ref", f"{name}@v1.0.0"],
        ["register", name],
        ["deprecate", name],
        ["annotate", name],
    ):
        _stdout, stderr = ok(run(path, *args), 0, 1)
        assert "\\udcff" in stderr or not stderr


def test_non_utf8_messages_and_taggers_are_written_as_given(tmp_path: Path) -> None:
    """git stores what it is given: the bytes of the arguments, not an exit 3."""
    path = build_repo(spec(), tmp_path / "repo").path
    byte = "\udcff"
    args = ["register", "rf", "-m", f"m{byte}", "--author", f"a{byte}", "--author-email", "e@x"]
    stdout, _ = ok(run(path, *args))
    assert stdout.startswith("Created git tag 'rf@v1.0.1'")
    history = json.loads(ok(run(path, "history", "rf", "--json"))[0])
    assert history[0]["message"] == "m\ufffd"
    assert history[0]["author"] == "a\ufffd"
    one_line_error(run(path, "annotate", "rf", "--path", byte, "-e"), "is not committed at HEAD")


def test_custom_data_json_cannot_hold_is_still_printed(tmp_path: Path) -> None:
    """GTO fails on it ("Serialisation is not implemented"); we print it as text."""
    index = (
        "rf:\n  type: model\n  custom:\n    s: !!set {b, a}\n    b: !!binary aGVsbG8=\n"
        "    t: 2024-01-01 10:00:00\n    ? [1, 2]\n    : tuple key\n"
    )
    path = build_repo(with_index(index, index), tmp_path / "repo").path
    for args in (["describe", "rf"], ["show", "rf", "--json"], ["print-state"]):
        json.loads(ok(run(path, *args))[0])
    custom = json.loads(ok(run(path, "describe", "rf"))[0])["custom"]
    assert custom == {
        "s": ["a", "b"],
        "b": "aGVsbG8=",
        "t": "2024-01-01T10:00:00",
        "[1, 2]": "tuple key",
    }


def test_an_origin_whose_host_looks_like_an_option_is_refused_before_writing(
    tmp_path: Path,
) -> None:
    path = build_repo(spec(), tmp_path / "repo").path
    with (path / ".git" / "config").open("a") as config:
        config.write('[remote "origin"]\n\turl = ssh://-oProxyCommand=touch${IFS}pwned/x\n')
    refs = sorted(p.name for p in (git_dir(path) / "refs" / "tags").rglob("*"))
    message = "Refusing the URL of remote 'origin'"
    one_line_error(run(path, "register", "rf", "--version", "v2.0.0", "--push"), message)
    one_line_error(run(path, "check-ref", "rf@v1.0.0", "--fetch-tags"), message)
    assert sorted(p.name for p in (git_dir(path) / "refs" / "tags").rglob("*")) == refs
    assert not (path / "pwned").exists()


def test_check_ref_github_output_survives_a_refused_artifacts_yaml(tmp_path: Path) -> None:
    built = build_repo(with_index("rf: {type: model}\n", laughs()), tmp_path / "repo")
    output = tmp_path / "out.txt"
    args = ["check-ref", "rf@v1.0.0", "--github-output"]
    stdout, stderr = ok(run(built.path, *args, env={"GITHUB_OUTPUT": str(output)}))
    assert 'Version "v1.0.0" of artifact "rf" was registered' in stdout
    assert f"artifacts.yaml at commit {built.commits['c1'][:7]} refused" in stderr
    assert output.read_text().startswith("event=registration\nname=rf\nversion=v1.0.0\n")
    assert "type=\npath=\ndescription=\n" in output.read_text()
