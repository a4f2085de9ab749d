"""reducer.py directly: events folded into artifacts, versions and stages; no repository."""

from __future__ import annotations

from tests.records import T0, commit, fact, state


def test_registration_and_deregistration_fold_into_a_version_that_is_active_or_not() -> None:
    registry = state(
        fact("nn@v0.0.1", commit(1), T0),
        fact("nn@v0.0.2", commit(2), T0 + 10),
        fact("nn@v0.0.2!", commit(2), T0 + 20),
    )
    artifact = registry.find("nn")
    assert artifact is not None
    assert [(v.version, v.commit, v.is_active) for v in artifact.versions] == [
        ("v0.0.1", commit(1), True),
        ("v0.0.2", commit(2), False),
    ]
    assert artifact.latest is not None
    assert artifact.latest.version == "v0.0.1"  # the deregistered one is not latest


def test_deregistering_twice_folds_both_into_one_inactive_version() -> None:
    registry = state(
        fact("nn@v1.0.0", commit(1), T0),
        fact("nn@v1.0.0!", commit(1), T0 + 1),
        fact("nn@v1.0.0!#2", commit(1), T0 + 2),
    )
    [version] = registry.artifacts["nn"].versions
    assert len(version.deregistrations) == 2
    assert not version.is_active


def test_an_assignment_lands_on_the_version_registered_at_its_commit() -> None:
    registry = state(
        fact("nn@v1.0.0", commit(1), T0),
        fact("nn@v2.0.0", commit(2), T0 + 1),
        fact("nn#prod#1", commit(1), T0 + 2),
        fact("nn#prod#2", commit(2), T0 + 3),
        fact("nn#prod!#3", commit(2), T0 + 4),
    )
    v1, v2 = registry.artifacts["nn"].versions
    prod1, prod2 = v1.stage("prod"), v2.stage("prod")
    assert prod1 is not None
    assert prod1.is_active
    assert prod2 is not None
    assert not prod2.is_active
    assert [e.version for e in prod2.assignments + prod2.unassignments] == ["v2.0.0", "v2.0.0"]


def test_an_assignment_at_an_unregistered_commit_discovers_a_version() -> None:
    registry = state(fact("nn#dev#1", commit(7), T0))
    [version] = registry.artifacts["nn"].versions
    assert version.discovered
    assert version.version == commit(7)
    assert not version.is_registered
    assert version.is_active
    assert registry.artifacts["nn"].latest is None  # latest counts registered versions only


def test_deprecation_makes_the_artifact_inactive_until_a_later_tag() -> None:
    deprecated = state(fact("nn@v1.0.0", commit(1), T0), fact("nn@deprecated", commit(1), T0 + 5))
    assert not deprecated.artifacts["nn"].is_active
    revived = state(
        fact("nn@v1.0.0", commit(1), T0),
        fact("nn@deprecated", commit(1), T0 + 5),
        fact("nn@v1.0.1", commit(2), T0 + 9),
    )
    assert revived.artifacts["nn"].is_active


def test_artifacts_keep_the_order_their_first_event_came_in() -> None:
    registry = state(
        fact("zz@v1.0.0", commit(1), T0),
        fact("aa@v1.0.0", commit(1), T0 + 1),
        fact("not-ours", commit(1), T0),
    )
    assert list(registry.artifacts) == ["zz", "aa"]
    assert [d.ref for d in registry.diagnostics] == ["not-ours"]
