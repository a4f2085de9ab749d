"""Properties that hold for any registry: the reducer's answers and the ref reader's robustness.

The reducer is fed :class:`TagFact` records (what ``repo.py`` reads from git) for
random registries: a few artifacts, commits, versions and stages, tagger times
drawn from a handful of seconds (so exact ties are common) and time zones that
name the same instant differently.  Example counts are kept modest: the suite
stays fast.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gto_dulwich import api
from gto_dulwich.builder import PACKED_REFS_HEADER, build_repo
from gto_dulwich.events import Diagnostic, EventKind, build_event_log
from gto_dulwich.facts import TagFact
from gto_dulwich.grammar import Action, TagName, format_tag, parse_tag
from gto_dulwich.queries import history, versions_in_stages
from gto_dulwich.reducer import RegistryState, Version, reduce
from gto_dulwich.repo import GitRepo, parse_packed_refs, scan_packed_refs
from gto_dulwich.versions import version_sort_key

COMMITS = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(3)]
ARTIFACTS = ["a", "b", "dir/sub:c"]
VERSIONS = ["v0.1.0", "v1.0.0", "v1.0.1", "v1.1.0-rc.1", "v2.0.0"]
STAGES = ["dev", "prod"]
BASE_TIME = 1_700_000_000


@st.composite
def tag_facts(draw: st.DrawFn) -> tuple[TagFact, TagName]:
    """One annotated registry tag, as ``GitRepo.read_tag`` would return it."""
    action = draw(
        st.sampled_from(
            [Action.REGISTER, Action.DEREGISTER, Action.ASSIGN, Action.UNASSIGN, Action.DEPRECATE]
        )
    )
    versioned = action in (Action.REGISTER, Action.DEREGISTER)
    staged = action in (Action.ASSIGN, Action.UNASSIGN)
    counter = draw(st.integers(1, 30)) if staged or draw(st.booleans()) else None
    tag = TagName(
        draw(st.sampled_from(ARTIFACTS)),
        action,
        version=draw(st.sampled_from(VERSIONS)) if versioned else None,
        stage=draw(st.sampled_from(STAGES)) if staged else None,
        counter=counter,
    )
    name = format_tag(tag)
    # Few distinct instants, each spelled in one of three time zones.
    tz_offset = draw(st.sampled_from([0, 3600, -7200]))
    fact = TagFact(
        ref=name,
        sha=hashlib.sha1(name.encode()).hexdigest(),
        kind="annotated",
        target=draw(st.sampled_from(COMMITS)),
        target_type="commit",
        tag_name=name,
        tagger_name="Tagger",
        tagger_email="tagger@example.com",
        time=BASE_TIME + draw(st.integers(0, 4)),
        tz_offset=tz_offset,
        message=f"made {name}",
    )
    return fact, parse_tag(name)


def _unique(facts: list[tuple[TagFact, TagName]]) -> list[tuple[TagFact, TagName]]:
    """One fact per ref name (a repository cannot hold two refs of one name)."""
    seen: dict[str, tuple[TagFact, TagName]] = {}
    for fact, parsed in facts:
        seen.setdefault(fact.ref, (fact, parsed))
    return list(seen.values())


REGISTRIES = st.lists(tag_facts(), min_size=1, max_size=25).map(_unique)


def _state(facts: Sequence[tuple[TagFact, TagName]]) -> RegistryState:
    """What ``registry.read_state`` does with the facts, minus git (no commit enrichment)."""
    return reduce(build_event_log(facts), head=None, commits=None)


def _dump(state: RegistryState) -> tuple[Any, ...]:
    """Everything a reader can see of a state, in its order."""
    return (
        [(name, artifact.state_dict()) for name, artifact in state.artifacts.items()],
        [d.to_dict() for d in state.diagnostics],
        [row.to_dict() for row in history(state)],
    )


@settings(max_examples=100, deadline=None)
@given(REGISTRIES, st.randoms(use_true_random=False))
def test_state_does_not_depend_on_the_order_facts_arrive_in(
    facts: list[tuple[TagFact, TagName]], rnd: random.Random
) -> None:
    by_ref = sorted(facts, key=lambda item: item[0].ref)  # the order repo.py reads them in
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    assert _dump(_state(shuffled)) == _dump(_state(by_ref))
    assert _dump(_state(list(reversed(by_ref)))) == _dump(_state(by_ref))


def _standing(version: Version) -> str:
    """``active`` when its newest registration is strictly newer than every deregistration,
    ``deregistered`` when a deregistration is strictly newest, ``tie`` otherwise."""
    registered = max((e.created_at for e in version.registrations), default=None)
    deregistered = max((e.created_at for e in version.deregistrations), default=None)
    if registered is None:
        return "deregistered"
    if deregistered is None or registered > deregistered:
        return "active"
    return "deregistered" if deregistered > registered else "tie"


@settings(max_examples=100, deadline=None)
@given(REGISTRIES)
def test_latest_is_the_highest_active_registered_version(
    facts: list[tuple[TagFact, TagName]],
) -> None:
    for artifact in _state(facts).artifacts.values():
        standing = {id(v): _standing(v) for v in artifact.versions if not v.discovered}
        active = [v for v in artifact.versions if standing.get(id(v)) == "active"]
        tied = [v for v in artifact.versions if standing.get(id(v)) == "tie"]
        latest = artifact.latest
        if not active and not tied:
            assert latest is None
            continue
        if latest is None:  # only exact ties, each settled as a deregistration
            assert not active
            continue
        assert standing.get(id(latest)) in ("active", "tie")
        if active:
            highest = max(version_sort_key(v.version) for v in active)
            assert version_sort_key(latest.version) >= highest


@settings(max_examples=100, deadline=None)
@given(REGISTRIES)
def test_deregistered_versions_are_never_latest(facts: list[tuple[TagFact, TagName]]) -> None:
    for artifact in _state(facts).artifacts.values():
        latest = artifact.latest
        if latest is not None:
            assert not latest.discovered
            assert _standing(latest) != "deregistered"
        for version in artifact.active_versions():
            assert _standing(version) != "deregistered"


@settings(max_examples=100, deadline=None)
@given(REGISTRIES)
def test_every_stage_holder_has_an_assignment_in_history(
    facts: list[tuple[TagFact, TagName]],
) -> None:
    state = _state(facts)
    assigned = {
        (row.event.artifact, row.event.stage, row.event.version, row.event.tag)
        for row in history(state)
        if row.event.kind is EventKind.ASSIGNMENT
    }
    for artifact in state.artifacts.values():
        for stage, holders in versions_in_stages(artifact, versions_per_stage=-1).items():
            for holder in holders:
                assert holder.is_active
                assert any(
                    (artifact.name, stage, holder.version, event.tag) in assigned
                    for event in holder.assignments
                )


# -- the ref reader on random packed-refs ---------------------------------------------

SHA = st.text("0123456789abcdef", min_size=40, max_size=40)
LINE = st.one_of(
    st.binary(max_size=60),
    st.tuples(SHA, st.binary(max_size=30)).map(
        lambda t: t[0].encode() + b" refs/tags/" + t[1] + b"\n"
    ),
    st.tuples(SHA, st.sampled_from(["rf@v1.0.0", "rf#prod#1", "x@v2.0.0", "a b", "\x1b[2J"])).map(
        lambda t: f"{t[0]} refs/tags/{t[1]}\n".encode()
    ),
    SHA.map(lambda s: b"^" + s.encode() + b"\n"),
    st.sampled_from([PACKED_REFS_HEADER, b"\r\n", b"\n", b"#\n", b"\x00\xff\xfe\n"]),
)
PACKED_REFS = st.lists(LINE, max_size=12).map(b"".join) | st.binary(max_size=300)


@settings(max_examples=200, deadline=None)
@given(PACKED_REFS)
def test_packed_refs_parser_never_crashes(data: bytes) -> None:
    refs, _fully_peeled, bad = parse_packed_refs(data)
    assert bad >= 0
    for name, (sha, peeled) in refs.items():
        assert name.startswith(b"refs/")
        assert len(sha) == 40
        assert peeled is None or len(peeled) == 40


@settings(max_examples=300, deadline=None)
@given(PACKED_REFS, st.sampled_from([(b"rf@", b"rf#"), (b"x@",), (b"",), (b"a",), (b"\x1b",)]))
def test_one_artifact_scan_of_packed_refs_agrees_with_the_whole_parse(
    data: bytes, prefixes: tuple[bytes, ...]
) -> None:
    wanted = tuple(b"refs/tags/" + prefix for prefix in prefixes)
    refs, fully_peeled, bad = parse_packed_refs(data)
    found, found_fully_peeled, found_bad = scan_packed_refs(data, wanted)
    assert found == {name: value for name, value in refs.items() if name.startswith(wanted)}
    assert found_fully_peeled == fully_peeled
    # Only lines naming a wanted ref are looked at: their damage is a part of the whole's.
    assert 0 <= found_bad <= bad


def test_one_artifact_scan_counts_its_own_damaged_lines() -> None:
    sha = b"a" * 40
    data = (
        PACKED_REFS_HEADER
        + sha + b" refs/tags/rf@v1.0.0\n"
        + b"not-a-sha refs/tags/rf@v2.0.0\n"
        + b"not-a-sha refs/tags/other@v1.0.0\n"
        + b"# a comment naming refs/tags/rf@v3.0.0\n"
    )  # fmt: skip
    found, _fully_peeled, bad = scan_packed_refs(data, (b"refs/tags/rf@",))
    assert found == {b"refs/tags/rf@v1.0.0": (sha, None)}
    assert bad == 1
    assert parse_packed_refs(data)[2] == 2


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = {
        "commits": [
            {
                "id": "c1",
                "message": "one",
                "time": "2024-01-01T00:00:00+00:00",
                "files": {"artifacts.yaml": "rf: {type: model}\n"},
            }
        ],
        "tags": [{"name": "rf@v1.0.0", "target": "c1", "time": "2025-01-01T00:00:00+00:00"}],
        "packed_refs": True,
    }
    return build_repo(spec, tmp_path_factory.mktemp("packed") / "repo").path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(PACKED_REFS)
def test_registry_reads_any_packed_refs_and_reports_it_corrupt(
    small_repo: Path, data: bytes
) -> None:
    (small_repo / ".git" / "packed-refs").write_bytes(data)
    with GitRepo.open(small_repo) as git:
        entries = git.tag_refs()
        bad = git.packed_refs_bad_lines
    assert all(len(entry.sha) == 40 for entry in entries)
    with api.Registry.open(small_repo, cache=False) as registry:
        api.show(registry)
        api.history(registry)
        reported = [d for d in registry.diagnostics if d.ref == "packed-refs"]
    if bad:
        assert reported == [
            Diagnostic("packed-refs", f"{bad} malformed line(s) in packed-refs skipped", "error")
        ]
    else:
        assert reported == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(PACKED_REFS, st.lists(st.sampled_from(["rf@v1.0.0", "rf#prod#1", "a b"]), max_size=3))
def test_one_packed_ref_found_by_search_is_the_parsed_files_answer(
    small_repo: Path, data: bytes, extra: list[str]
) -> None:
    """Once the parsed packed-refs is released, HEAD's branch is found by searching the
    bytes: the same answer as the parsed dict, whatever the file holds."""
    (small_repo / ".git" / "packed-refs").write_bytes(data)
    with GitRepo.open(small_repo) as git:
        parsed = git.packed_refs()[0]
        names = [*parsed, *(f"refs/tags/{name}".encode() for name in extra), b"refs/heads/x"]
        expected = {name: parsed[name][0] if name in parsed else None for name in names}
        git.release_packed_refs()
        assert {name: git._packed_value(name) for name in names} == expected


def test_read_tags_hands_each_ref_back_once_read(tmp_path: Path) -> None:
    spec_repo = tmp_path / "handed"
    build_repo(
        {
            "commits": [{"id": "c1", "message": "one", "time": "2024-01-01T00:00:00+00:00"}],
            "tags": [
                {"name": f"rf#prod#{n}", "target": "c1", "time": "2025-01-01T00:00:00+00:00"}
                for n in range(1, 6)
            ],
            "packed_refs": True,
        },
        spec_repo,
    )
    with GitRepo.open(spec_repo) as git:
        items = [(entry, number) for number, entry in enumerate(git.tag_refs())]
        kept = list(git.read_tags(list(items)))
        handed = list(items)
        released = list(git.read_tags(handed, release=True))
    assert sorted(released, key=lambda pair: pair[1]) == sorted(kept, key=lambda pair: pair[1])
    assert [fact.ref for fact, _ in sorted(kept, key=lambda p: p[1])] == [
        entry.name for entry, _ in items
    ]
    assert handed == [None] * len(items)
