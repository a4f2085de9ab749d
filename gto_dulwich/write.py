"""Carry out a write plan: create and delete tags atomically, then (optionally) push.

The ref is the commit point of every write: a tag object is stored first and
the ref is claimed with dulwich's ``add_if_new`` (git's ``O_EXCL`` lock
protocol), so a tag is either absent or complete, and an existing tag is never
replaced.  A ``#N`` counter is allocated here, at the moment of writing: if
another process took N first, we rescan and take the next free one.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gto_dulwich import settings
from gto_dulwich.errors import GTOError, RefBusy, RefLocked, TagExists, TagNotFound
from gto_dulwich.events import Event, to_datetime
from gto_dulwich.grammar import artifact_prefixes, format_tag
from gto_dulwich.identity import Tagger
from gto_dulwich.locks import held, patiently
from gto_dulwich.plan import DeleteTag, NewTag, Step, next_counter, with_counter
from gto_dulwich.repo import GitRepo

# Room a counter-form tag's "#N" may take, and the ".lock" a ref is written through.
_COUNTER_ROOM = len("#999999999")
_LOCK_SUFFIX = len(".lock")


@dataclass(frozen=True, slots=True)
class Change:
    """Something the registry did, reported as it happens (the CLI prints these)."""

    kind: Literal["created", "deleted", "pushing", "pushed"]
    tag: str
    step: NewTag | None = None
    deleted_tags: tuple[str, ...] = ()


Reporter = Callable[[Change], None]


def _ignore(_change: Change) -> None:
    return None


def _artifact_refs(git: GitRepo, artifact: str) -> list[str]:
    return git.tag_ref_names(artifact_prefixes(artifact))


@contextmanager
def counter_lock(git: GitRepo) -> Iterator[None]:
    """Serialise ``#N`` allocation among writers of this repository.

    Claiming the ref alone is not enough: ``a#dev#5`` and ``a#prod#5`` are
    different refs, yet the counter is shared by all of an artifact's tags.
    The lock is a file created with ``O_EXCL`` (git's own protocol); it is held
    only while scanning the counters and claiming one ref.
    """
    with held(git.commondir / "gto-counter.lock", lambda busy: RefLocked(str(busy))):
        yield


def create(git: GitRepo, step: NewTag, tagger: Tagger) -> Event:
    """Create one tag; never replaces an existing one."""
    if step.counter_form:
        with counter_lock(git):
            return _claim(git, step, tagger)
    return _claim(git, step, tagger)


def _claim(git: GitRepo, step: NewTag, tagger: Tagger) -> Event:
    deadline = time.monotonic() + settings.current().lock_timeout
    while True:
        tag = step.tag
        if step.counter_form:
            tag = with_counter(tag, next_counter(_artifact_refs(git, tag.name), tag.name))
        name = format_tag(tag)
        try:
            sha = git.create_tag(
                name, step.target, step.message, tagger.identity, tagger.time, tagger.tz_offset
            )
        except RefBusy as busy:
            # Another writer holds this ref's lock right now: wait and look again.
            if time.monotonic() > deadline:
                raise RefLocked(str(busy)) from None
            time.sleep(random.uniform(0.001, 0.02))
            continue
        if sha is not None:
            return Event(
                kind=step.kind,
                artifact=tag.name,
                tag=name,
                commit=step.target,
                created_at=to_datetime(tagger.time, tagger.tz_offset),
                author=tagger.name,
                author_email=tagger.email,
                message=step.message,
                version=step.version,
                stage=tag.stage,
                counter=tag.counter,
            )
        if not step.counter_form:
            raise TagExists(name)
        # A tag with this counter was made by a writer outside our lock (e.g. GTO).
        if time.monotonic() > deadline:
            raise GTOError(f"Could not allocate a free counter for '{name}'")


def delete(git: GitRepo, tag: str) -> None:
    """Delete exactly this tag (and only if it still holds the value we saw)."""
    entries = {e.name: e.sha for e in git.tag_refs((tag,)) if e.name == tag}
    if tag not in entries:
        raise TagNotFound(tag)
    deleted = patiently(
        lambda: git.delete_tag(tag, entries[tag]), lambda busy: RefLocked(str(busy))
    )
    if not deleted:
        raise GTOError(f"tag '{tag}' changed while it was being deleted")


def check_lengths(git: GitRepo, steps: Sequence[Step]) -> None:
    """Refuse, before anything is written, a tag whose ref file name the file system
    cannot hold (otherwise an ``assign`` could register and then fail to assign)."""
    try:
        limit = os.pathconf(git.commondir, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for step in steps:
        if not isinstance(step, NewTag):
            continue
        name = format_tag(step.tag)
        room = _LOCK_SUFFIX + (_COUNTER_ROOM if step.counter_form else 0)
        if max(len(part.encode("utf-8")) for part in name.split("/")) + room > limit:
            raise GTOError(f"Tag name '{name}' is too long for this file system")


def wait_for_locks(git: GitRepo, steps: Sequence[Step]) -> None:
    """Before a plan of several steps writes anything, wait (as each step would) for the
    locks its steps take, and name one that stays: a lock left behind by a crashed
    writer must stop the whole plan, not its second half (an ``assign`` that
    registers first, a ``--delete`` of several tags).  Nothing is ever removed."""
    if len(steps) < 2:
        return
    common = git.commondir
    packed = git.packed_refs()[0]
    locks: list[Path] = []
    for step in steps:
        if isinstance(step, NewTag) and step.counter_form:
            locks.append(common / "gto-counter.lock")
            continue
        name = step.tag if isinstance(step, DeleteTag) else format_tag(step.tag)
        locks.append(common / "refs" / "tags" / f"{name}.lock")
        if isinstance(step, DeleteTag) and f"refs/tags/{name}".encode() in packed:
            locks.append(common / "packed-refs.lock")
    deadline = time.monotonic() + settings.current().lock_timeout
    for lock in dict.fromkeys(locks):
        while lock.exists():
            if time.monotonic() > deadline:
                raise RefLocked(str(lock))
            time.sleep(random.uniform(0.001, 0.02))


def execute(
    git: GitRepo,
    steps: Sequence[Step],
    tagger: Tagger | None,
    *,
    push: bool = False,
    remote: str = "origin",
    report: Reporter = _ignore,
) -> list[Event]:
    """Apply the steps in order; push what changed in one push when asked.

    Through a URL (a temporary store) nothing exists until the push lands: the
    changes are reported only then, and a tag another writer made on the remote
    first raises :class:`~gto_dulwich.remote.push.LostRace` (the caller re-plans).
    """
    events: list[Event] = []
    created: list[str] = []
    deleted: list[str] = []
    through_url = git.is_remote
    held: list[Change] = []
    note = held.append if through_url else report
    check_lengths(git, steps)
    wait_for_locks(git, steps)
    for step in steps:
        if isinstance(step, DeleteTag):
            delete(git, step.tag)
            deleted.append(step.tag)
            note(Change("deleted", step.tag))
        else:
            assert tagger is not None
            event = create(git, step, tagger)
            events.append(event)
            created.append(event.tag)
            note(Change("created", event.tag, step))
    if push and (created or deleted):
        from gto_dulwich.errors import LostRace
        from gto_dulwich.remote.push import push_tags

        pushing = [
            Change("pushing", tag, deleted_tags=tuple(deleted)) for tag in (*created, *deleted)
        ]
        if not through_url:
            for change in pushing:
                report(change)
        try:
            push_tags(git, create=created, delete=deleted, remote=remote, fresh=through_url)
        except LostRace:
            raise
        except GTOError as exc:
            command = "git push --delete" if deleted and not created else "git push"
            raise GTOError(
                f"The command `{command} {remote} {' '.join((*created, *deleted))}` failed. "
                f"Make sure your local repository is in sync with the remote. ({exc})"
            ) from None
        if through_url:
            for change in (*held, *pushing):
                report(change)
        for tag in (*created, *deleted):
            report(Change("pushed", tag, deleted_tags=tuple(deleted)))
    return events
