"""The tag cache and the one-artifact fast path never change an answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gto_dulwich.cache import FILE_NAME, INDEX_FILE_NAME
from tests.helpers import FIXTURES, build_fixture, run_cli

COMMANDS = [
    ["show", "--json"],
    ["show", "-d", "--json"],
    ["history", "--json"],
    ["stages", "--json"],
    ["print-state"],
]
FIXTURE_NAMES = sorted(p.stem for p in (FIXTURES / "golden").glob("*.json"))


@pytest.fixture(autouse=True)
def always_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixtures are small; use the cache for every read so it is what gets tested."""
    from gto_dulwich import registry

    monkeypatch.setattr(registry, "CACHE_THRESHOLD", 0)


def outputs(repo: Path, env: dict[str, str] | None = None) -> list[tuple[int, str]]:
    results = []
    for args in COMMANDS:
        result = run_cli(args, cwd=repo, env=env)
        results.append((result.exit_code, result.stdout))
    return results


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_cache_cold_warm_corrupt_and_off_give_the_same_output(name: str, tmp_path: Path) -> None:
    repo = build_fixture(name, tmp_path / "repo").path
    cache = repo / ".git" / FILE_NAME
    without = outputs(repo, {"GTO_DULWICH_NO_CACHE": "1"})
    assert not cache.exists()
    assert not (repo / ".git" / INDEX_FILE_NAME).exists()
    cold = outputs(repo)
    warm = outputs(repo)
    cache.write_bytes(b'{"format": "gto_dulwich tag cache", "version": 1, "tags": {"x": 1}')
    (repo / ".git" / INDEX_FILE_NAME).write_bytes(b"\x00 not json")
    corrupt = outputs(repo)
    assert without == cold == warm == corrupt


def test_cache_is_written_and_entries_are_checked_on_use(tmp_path: Path) -> None:
    repo = build_fixture("showcase", tmp_path / "repo").path
    expected = run_cli(["history", "--json"], cwd=repo).stdout
    cache = repo / ".git" / FILE_NAME
    assert cache.exists()
    # A damaged entry (wrong shape) is a miss, not a crash or a wrong answer.
    text = cache.read_text()
    data = json.loads(text)
    sha, entry = next(iter(data["tags"].items()))
    fields = entry.split("\x00")
    for damaged in (
        "\x00".join(fields[:-1]),  # a field short
        "\x00".join([*fields, "x"]),  # one too many
        "\x00".join([*fields[:3], "later", *fields[4:]]),  # a time that is not a number
        fields,  # the old list form
        7,
    ):
        cache.write_text(json.dumps({**data, "tags": {**data["tags"], sha: damaged}}))
        assert run_cli(["history", "--json"], cwd=repo).stdout == expected
    # A cache from another format version is ignored.
    assert '"version":2' in text
    cache.write_text(text.replace('"version":2', '"version":999'))
    assert run_cli(["history", "--json"], cwd=repo).stdout == expected


@pytest.mark.parametrize("name", ["showcase", "every_event", "frozen"])
def test_one_artifact_fast_path_equals_the_full_read(name: str, tmp_path: Path) -> None:
    """`show NAME`, `history NAME`, `check-ref` read only that artifact's tags."""
    from gto_dulwich import api

    repo = build_fixture(name, tmp_path / "repo").path
    with api.Registry.open(repo, enrich_all=True) as full:
        names = list(full.state.artifacts)
        for artifact in names:
            whole = api.show(full, artifact, deprecated=True)
            history = [r.to_dict() for r in api.history(full, artifact)]
            with api.Registry.open(repo, artifact=artifact, enrich_all=True) as one:
                assert api.show(one, artifact, deprecated=True).to_dict() == whole.to_dict()
                assert [r.to_dict() for r in api.history(one, artifact)] == history
        for row in api.history(full):
            tag = row.event.tag
            assert [e.check_ref_dict() for e in api.check_ref(repo, tag)] == [
                row.event.check_ref_dict()
            ]
