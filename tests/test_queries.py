"""queries.py directly: latest, which (stages), history over a state; no repository."""

from __future__ import annotations

from gto_dulwich.queries import Sort, find_event, history, used_stages, versions_in_stages
from tests.records import T0, commit, fact, state

REGISTRY = state(
    fact("nn@v0.0.1", commit(1), T0),
    fact("nn@v0.1.0", commit(2), T0 + 10),
    fact("nn@v0.0.9", commit(3), T0 + 20),  # newest, not highest
    fact("nn#prod#1", commit(1), T0 + 30),
    fact("nn#prod#2", commit(2), T0 + 40),
    fact("nn#dev#3", commit(3), T0 + 50),
    fact("mm@v1.0.0", commit(4), T0 + 5),
)


def test_latest_is_the_highest_semver_not_the_newest() -> None:
    artifact = REGISTRY.artifacts["nn"]
    assert artifact.latest is not None
    assert artifact.latest.version == "v0.1.0"
    assert [v.version for v in artifact.active_versions()] == ["v0.1.0", "v0.0.9", "v0.0.1"]


def test_which_version_holds_a_stage_by_assignment_time_or_by_semver() -> None:
    artifact = REGISTRY.artifacts["nn"]
    by_time = versions_in_stages(artifact)
    assert {stage: [s.version for s in held] for stage, held in by_time.items()} == {
        "prod": ["v0.1.0"],  # the latest assignment wins
        "dev": ["v0.0.9"],
    }
    every = versions_in_stages(artifact, versions_per_stage=-1, sort=Sort.SEMVER)
    assert [s.version for s in every["prod"]] == ["v0.1.0", "v0.0.1"]
    assert used_stages(REGISTRY) == ["dev", "prod"]


def test_history_is_newest_first_unless_ascending_and_filters_by_artifact() -> None:
    newest_first = [row.event.tag for row in history(REGISTRY)]
    assert newest_first[:2] == ["nn#dev#3", "nn#prod#2"]
    assert newest_first[-1] == "nn@v0.0.1"
    oldest_first = [row.event.tag for row in history(REGISTRY, ascending=True)]
    assert oldest_first == newest_first[::-1]
    assert [row.event.tag for row in history(REGISTRY, "mm")] == ["mm@v1.0.0"]


def test_history_ties_in_time_go_by_priority() -> None:
    tied = state(fact("nn@v1.0.0", commit(1), T0), fact("nn#prod#1", commit(1), T0))
    rows = history(tied, ascending=True)
    assert [row.event.kind.value for row in rows] == ["registration", "assignment"]
    assert rows[0].to_dict()["priority"] < rows[1].to_dict()["priority"]


def test_find_event_names_the_event_a_tag_made() -> None:
    [event] = find_event(REGISTRY, "nn#prod#2")
    assert (event.stage, event.version) == ("prod", "v0.1.0")
    assert find_event(REGISTRY, "nn#prod#9") == []
