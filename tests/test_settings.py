"""settings.py: one table of every environment variable and the one record built from it."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gto_dulwich import api, settings, statecache
from gto_dulwich.cli import GTOGroup
from gto_dulwich.errors import BadSetting
from gto_dulwich.report import ArtifactReport, RepoReport, build_report
from gto_dulwich.settings import Settings
from tests.helpers import build_fixture, run_cli

PACKAGE = Path(__file__).resolve().parent.parent / "gto_dulwich"


def test_every_variable_the_package_names_is_in_the_one_table() -> None:
    named = {
        name
        for source in PACKAGE.rglob("*.py")
        for name in re.findall(r"\bGTO_DULWICH_[A-Z_]+\b", source.read_text(encoding="utf-8"))
    }
    assert named - set(settings.VARIABLES) == set()


def test_every_variable_of_the_table_is_a_field_of_the_record() -> None:
    fields = set(Settings._fields)
    # Click reads GTO_DULWICH_FETCH_TAGS itself, as the variable of --fetch-tags.
    assert set(settings.FIELDS) == set(settings.VARIABLES) - {"GTO_DULWICH_FETCH_TAGS"}
    assert set(settings.FIELDS.values()) <= fields


def test_only_settings_reads_the_process_environment() -> None:
    readers = {
        source.relative_to(PACKAGE).as_posix()
        for source in PACKAGE.rglob("*.py")
        if "os.environ" in source.read_text(encoding="utf-8")
    }
    assert readers == {"settings.py"}


def test_the_defaults_are_the_tables() -> None:
    record = Settings.from_environ({})
    assert record == Settings()
    assert record.emojis
    assert not record.no_cache
    assert record.lock_timeout == 10.0
    assert record.timeout == 60.0
    assert record.max_listing_bytes == 64 << 20
    assert record.max_pack_bytes == 1 << 30
    assert record.yaml_max_bytes == 1 << 20
    assert (record.token, record.username, record.password) == ("", "", "")
    assert not record.ci_token
    for name, field in settings.FIELDS.items():  # the typed defaults are the table's
        if field.endswith("_text"):
            default = settings.VARIABLES[name][0]
            assert getattr(record, field.removesuffix("_text")) == float(default)


def test_values_are_read_and_converted() -> None:
    record = Settings.from_environ(
        {
            "GTO_DULWICH_LOCK_TIMEOUT": " 0 ",
            "GTO_DULWICH_TIMEOUT": "1.5",
            "GTO_DULWICH_MAX_LISTING_BYTES": "2000",
            "GTO_DULWICH_MAX_PACK_BYTES": "3000",
            "GTO_DULWICH_YAML_MAX_BYTES": "4000",
            "GTO_DULWICH_TOKEN": "t",
            "GTO_DULWICH_CI_TOKEN": " Yes ",
            "GTO_DULWICH_STORAGE_PASSWORD": "s3cr3t",
            "GITHUB_REF": "refs/tags/a@v1.0.0",
            "CI_COMMIT_TAG": "b@v1.0.0",
            "GIT_COMMITTER_NAME": "Ann",
            "gto_index": "other.yaml",
            "AWS_REGION": "eu-west-1",
            "HOME": "/root",
        }
    )
    assert record.lock_timeout == 0.0  # a writer may refuse to wait at all
    assert record.timeout == 1.5
    assert (record.max_listing_bytes, record.max_pack_bytes, record.yaml_max_bytes) == (
        2000,
        3000,
        4000,
    )
    assert record.token == "t"
    assert record.ci_token
    assert dict(record.ci_environ) == {
        "GITHUB_REF": "refs/tags/a@v1.0.0",
        "CI_COMMIT_TAG": "b@v1.0.0",
    }
    assert dict(record.git_environ) == {"GIT_COMMITTER_NAME": "Ann"}
    assert dict(record.config_environ) == {"gto_index": "other.yaml"}
    assert dict(record.aws_environ) == {"AWS_REGION": "eu-west-1"}
    assert "s3cr3t" not in repr(record)
    assert "token='t'" not in repr(record)


def test_the_snapshots_are_read_only_and_do_not_follow_the_environment() -> None:
    environ = {"GITHUB_REF": "refs/tags/a@v1.0.0"}
    record = Settings.from_environ(environ)
    environ["GITHUB_REF"] = "refs/heads/main"
    assert record.ci_environ["GITHUB_REF"] == "refs/tags/a@v1.0.0"
    with pytest.raises(TypeError):
        record.ci_environ["GITHUB_REF"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError):
        record.no_cache = True  # type: ignore[misc]


def test_emojis_are_on_unless_turned_off() -> None:
    assert Settings.from_environ({"GTO_EMOJIS": "yes please"}).emojis
    for off in ("0", "false", "No", " off ", "f", "n"):
        assert not Settings.from_environ({"GTO_EMOJIS": off}).emojis


def test_no_cache_is_the_variable_or_the_switch() -> None:
    assert Settings.from_environ({"GTO_DULWICH_NO_CACHE": "1"}).no_cache
    assert Settings.from_environ({"GTO_DULWICH_NO_CACHE": "yes"}).no_cache
    for off in ("", "0", "false", " No ", "off"):
        assert not Settings.from_environ({"GTO_DULWICH_NO_CACHE": off}).no_cache
        assert Settings.from_environ({"GTO_DULWICH_NO_CACHE": off}, no_cache=True).no_cache


BAD = [
    ("lock_timeout", "GTO_DULWICH_LOCK_TIMEOUT", "soon", "is not a finite number of seconds, 0"),
    ("lock_timeout", "GTO_DULWICH_LOCK_TIMEOUT", "-1", "is not a finite number of seconds, 0"),
    ("timeout", "GTO_DULWICH_TIMEOUT", "0", "is not a finite number of seconds, more than 0"),
    ("timeout", "GTO_DULWICH_TIMEOUT", "inf", "is not a finite number of seconds, more than 0"),
    ("timeout", "GTO_DULWICH_TIMEOUT", "nan", "is not a finite number of seconds, more than 0"),
    ("max_listing_bytes", "GTO_DULWICH_MAX_LISTING_BYTES", "abc", "must be a positive whole"),
    ("max_pack_bytes", "GTO_DULWICH_MAX_PACK_BYTES", "-5", "must be a positive whole"),
    ("yaml_max_bytes", "GTO_DULWICH_YAML_MAX_BYTES", "0", "is not a positive number of bytes"),
    ("yaml_max_bytes", "GTO_DULWICH_YAML_MAX_BYTES", "1e6", "is not a positive number of bytes"),
]


@pytest.mark.parametrize(("attribute", "name", "value", "expected"), BAD)
def test_a_bad_value_is_an_error_only_when_it_is_read(
    attribute: str, name: str, value: str, expected: str
) -> None:
    record = Settings.from_environ({name: value})  # building it checks nothing
    for other in ("lock_timeout", "timeout", "max_listing_bytes", "max_pack_bytes"):
        if other != attribute:
            getattr(record, other)
    with pytest.raises(BadSetting) as caught:
        getattr(record, attribute)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(name)
    assert expected in message
    assert caught.value.name == name
    assert caught.value.value == value


def test_a_bad_network_setting_does_not_break_a_local_read(tmp_path: Path) -> None:
    repo = build_fixture("showcase", tmp_path / "repo").path
    good = run_cli(["show", "--json"], cwd=repo)
    env = {name: value for _, name, value, _ in BAD if not name.startswith("GTO_DULWICH_YAML")}
    assert run_cli(["show", "--json"], cwd=repo, env=env) == good
    bad = run_cli(["show"], cwd=repo, env={"GTO_DULWICH_YAML_MAX_BYTES": "0"})
    assert (bad.exit_code, bad.stdout) == (1, "")
    assert bad.stderr == "❌ GTO_DULWICH_YAML_MAX_BYTES='0' is not a positive number of bytes\n"


def test_using_makes_a_record_current_for_the_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GTO_DULWICH_NO_CACHE", raising=False)
    outer, inner = Settings(no_cache=True), Settings(emojis=False)
    assert not settings.current().no_cache
    with settings.using(outer) as made:
        assert made is outer
        assert settings.current() is outer
        assert settings.current().no_cache
        with settings.using(inner):
            assert settings.current() is inner
            assert not settings.current().no_cache
        assert settings.current() is outer
    assert not settings.current().no_cache


def test_of_takes_a_record_a_mapping_or_nothing() -> None:
    record = Settings(token="t")
    assert settings.of(record) is record
    assert settings.of({"GTO_DULWICH_TOKEN": "u"}).token == "u"
    with settings.using(record):
        assert settings.of(None) is record


def test_library_calls_read_the_environment_as_it_is_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = build_fixture("showcase", tmp_path / "repo").path
    state = repo / ".git" / statecache.FILE_NAME
    monkeypatch.setenv("GTO_DULWICH_NO_CACHE", "1")
    assert settings.current().no_cache
    shown = api.show(str(repo)).to_dict()
    assert not state.exists()
    with settings.using(Settings()):  # a record of its own wins over the environment
        assert api.show(str(repo)).to_dict() == shown
    assert state.exists()
    state.unlink()
    monkeypatch.setenv("GTO_DULWICH_NO_CACHE", "0")  # seen by the next call, no record kept
    assert api.show(str(repo)).to_dict() == shown
    assert state.exists()


def test_no_cache_on_the_command_line_is_for_that_invocation_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GTO_DULWICH_NO_CACHE", raising=False)
    repo = build_fixture("showcase", tmp_path / "repo").path
    state = repo / ".git" / statecache.FILE_NAME
    off = run_cli(["--no-cache", "show", "--json"], cwd=repo)
    assert off.exit_code == 0
    assert not state.exists()
    assert not settings.current().no_cache
    assert run_cli(["show", "--json"], cwd=repo) == off
    assert state.exists()


def test_the_cli_makes_one_record_current_for_the_span_of_an_invocation() -> None:
    seen: list[Settings] = []

    @click.group(cls=GTOGroup)
    @click.option("--no-cache", is_flag=True)
    def group(no_cache: bool) -> None:
        seen.append(settings.current())

    @group.command()
    def probe() -> None:
        seen.append(settings.current())
        os.environ["GTO_EMOJIS"] = "true"  # too late: the invocation read its settings
        raise BadSetting("GTO_DULWICH_TIMEOUT", "x", "good")  # the error line reads them too

    result = CliRunner().invoke(
        group, ["--no-cache", "probe"], env={"GTO_EMOJIS": "0", "GTO_DULWICH_NO_CACHE": ""}
    )
    assert result.exit_code == 1
    assert result.stderr == "GTO_DULWICH_TIMEOUT='x' is not good\n"  # no mark: GTO_EMOJIS=0
    assert len(seen) == 2
    assert seen[0] is seen[1]
    assert seen[0].no_cache
    assert not seen[0].emojis
    assert settings.current() is not seen[0]


def test_report_workers_read_with_the_commands_settings() -> None:
    seen: list[tuple[bool, str]] = []

    def reader(source: str, number: int) -> tuple[RepoReport, list[ArtifactReport]]:
        seen.append((settings.current().no_cache, threading.current_thread().name))
        raise BadSetting("GTO_DULWICH_TIMEOUT", source, "read")

    with settings.using(Settings(no_cache=True)), pytest.raises(BadSetting):
        build_report(["a", "b"], title="t", generated_at="now", workers=2, reader=reader)
    assert seen
    assert all(no_cache for no_cache, _ in seen)
    assert all(name != threading.current_thread().name for _, name in seen)


def test_a_pinned_call_reads_one_record() -> None:
    @settings.pinned
    def probe() -> tuple[Settings, Settings]:
        return settings.current(), settings.current()

    first, second = probe()
    assert first is second  # built once, from os.environ, for the call
    record = Settings(emojis=False)
    with settings.using(record):
        assert probe() == (record, record)  # the caller's record wins
