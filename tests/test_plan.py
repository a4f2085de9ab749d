"""plan.py directly: (state, request) -> the tags to write, or a refusal; no repository."""

from __future__ import annotations

import pytest

from gto_dulwich.config import Config
from gto_dulwich.errors import ArtifactNotFound, GTOError, InvalidVersion, StageNotAllowed
from gto_dulwich.events import EventKind
from gto_dulwich.grammar import format_tag
from gto_dulwich.plan import (
    DeleteTag,
    NewTag,
    check_free,
    next_counter,
    plan_assign,
    plan_deprecate,
    plan_deregister,
    plan_register,
    with_counter,
)
from tests.records import T0, commit, fact, state

EMPTY = state()
ONE = state(fact("nn@v1.2.3", commit(1), T0), fact("nn#prod#1", commit(1), T0 + 1))


def test_the_first_version_is_v0_0_1_and_later_ones_bump_latest() -> None:
    first = plan_register(EMPTY, "nn", commit(1))
    assert (format_tag(first.tag), first.counter_form, first.kind) == (
        "nn@v0.0.1",
        False,  # registrations default to the simple form
        EventKind.REGISTRATION,
    )
    assert first.message == "Registering artifact nn version v0.0.1"
    for bump, expected in [(None, "v1.2.4"), ("minor", "v1.3.0"), ("major", "v2.0.0")]:
        step = plan_register(ONE, "nn", commit(2), bump=bump)  # type: ignore[arg-type]
        assert step.version == expected


def test_a_proposal_already_taken_bumps_from_the_highest_version_ever() -> None:
    # Every version deregistered: GTO 1.10.1 proposed v0.0.1 again, which exists.
    gone = state(fact("nn@v0.0.1", commit(1), T0), fact("nn@v0.0.1!", commit(1), T0 + 1))
    assert plan_register(gone, "nn", commit(2)).version == "v0.0.2"


@pytest.mark.parametrize(
    ("kwargs", "refusal"),
    [
        ({"commit": commit(1)}, "already registered in this commit with version 'v1.2.3'"),
        ({"commit": commit(2), "version": "v1.2.3"}, "Version 'v1.2.3' already was registered"),
        ({"commit": commit(2), "version": "v1", "bump": "major"}, "either version or single bump"),
    ],
)
def test_register_refusals(kwargs: dict[str, str], refusal: str) -> None:
    with pytest.raises(GTOError, match=refusal):
        plan_register(ONE, "nn", **kwargs)  # type: ignore[arg-type]


def test_an_unparsable_version_and_a_first_bump_are_refused() -> None:
    with pytest.raises(InvalidVersion):
        plan_register(EMPTY, "nn", commit(1), version="one")
    with pytest.raises(GTOError, match="first version being registered"):
        plan_register(EMPTY, "nn", commit(1), bump="minor")


def test_assigning_an_unregistered_commit_registers_it_first() -> None:
    steps = plan_assign(EMPTY, Config(), "nn", "prod", commit=commit(1))
    assert [(format_tag(s.tag), s.counter_form) for s in steps] == [
        ("nn@v0.0.1", False),
        ("nn#prod", True),
    ]
    assert steps[1].describe() == "assigns stage to version 'v0.0.1'"
    assert steps[1].message == "Assigning stage prod to artifact nn version v0.0.1"


def test_assign_refusals() -> None:
    with pytest.raises(GTOError, match="already in stage 'prod'"):
        plan_assign(ONE, Config(), "nn", "prod", version="v1.2.3")
    with pytest.raises(GTOError, match=r"Version 'v9\.9\.9' is not registered"):
        plan_assign(ONE, Config(), "nn", "dev", version="v9.9.9")
    with pytest.raises(StageNotAllowed):
        plan_assign(ONE, Config(stages=("dev",)), "nn", "prod", version="v1.2.3")
    forced = plan_assign(ONE, Config(), "nn", "prod", version="v1.2.3", force=True)
    assert [s.version for s in forced] == ["v1.2.3"]


def test_counters_are_one_more_than_the_highest_of_this_artifacts_tags() -> None:
    names = ["nn#prod#3", "nn@v1.0.0!#7", "other#prod#99", "not a tag", "nn@v1.0.0"]
    assert next_counter(names, "nn") == 8
    assert next_counter([], "nn") == 1
    [step] = plan_deprecate(ONE, "nn", simple=False)
    assert isinstance(step, NewTag)
    assert step.counter_form  # the writer appends the counter when it writes
    assert format_tag(with_counter(step.tag, 8)) == "nn@deprecated#8"


def test_deregister_and_deprecate_refusals() -> None:
    with pytest.raises(ArtifactNotFound):
        plan_deprecate(EMPTY, "nn")
    deprecated = state(fact("nn@v1.0.0", commit(1), T0), fact("nn@deprecated", commit(1), T0 + 1))
    with pytest.raises(GTOError, match="deprecated already"):
        plan_deprecate(deprecated, "nn")
    with pytest.raises(GTOError, match="Can't use 'force' with 'simple=True'"):
        plan_deprecate(ONE, "nn", force=True, simple=True)
    gone = state(fact("nn@v1.0.0", commit(1), T0), fact("nn@v1.0.0!", commit(1), T0 + 1))
    with pytest.raises(GTOError, match="deregistered already"):
        plan_deregister(gone, "nn", version="v1.0.0")


def test_deprecate_with_delete_lists_every_tag_of_the_artifact() -> None:
    steps = plan_deprecate(ONE, "nn", delete=True)
    assert all(isinstance(s, DeleteTag) for s in steps)
    assert sorted(s.tag for s in steps if isinstance(s, DeleteTag)) == ["nn#prod#1", "nn@v1.2.3"]


def test_a_simple_tag_that_exists_is_refused_before_anything_is_written() -> None:
    step = plan_register(EMPTY, "nn", commit(1), simple=True)
    assert isinstance(step, NewTag)
    check_free([step], ["other"])
    with pytest.raises(GTOError, match=r"tag 'nn@v0\.0\.1' already exists"):
        check_free([step], ["nn@v0.0.1"])
