"""Push and delete registry tags on a remote with dulwich's client; no git binary.

``git push origin T`` / ``git push --delete origin T`` for tag refs only, done
with the send-pack plumbing instead of ``porcelain.push`` so that dulwich's
auto-gc never runs on the local repository (it rewrites ``packed-refs``
without peeled lines).  Every ref of one call goes in one push, atomic when
the remote supports it.  A push is never forced: a remote tag with another
value is an error, and nothing is sent.

dulwich's reports are not trusted on their own: its own receive-pack server
answers "ok" for a ref it did not write and ``file://`` remotes report
nothing, so every push is checked afterwards by listing the remote's tags.

Credentials (from the remote URL or the ``username``/``password`` arguments)
never appear in a :class:`PushError` or a :class:`PushResult`.

``dulwich.client`` is imported inside the functions: it pulls in urllib3 and
is not needed by the commands that only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from dulwich.objects import ObjectID
from dulwich.refs import Ref, check_ref_format

from gto_dulwich.errors import GTOError, LostRace, PushError, RemoteError
from gto_dulwich.facts import TAGS_PREFIX
from gto_dulwich.remote.connection import (
    Connection,
    connect,
    explain,
    redact_url,
    scrub,
    secrets_in,
)
from gto_dulwich.repo import GitRepo

if TYPE_CHECKING:
    from dulwich.client import GitClient
    from dulwich.pack import UnpackedObject

T = TypeVar("T")

ZERO_SHA = b"0" * 40


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the remote holds after a successful :func:`push_tags`.

    ``updated`` are the tags pushed (they now have our value on the remote),
    ``deleted`` the tags asked to be deleted (now absent), both in the order
    given.  ``unchanged`` lists those of them that needed no change: the remote
    already had the same value, or never had the tag being deleted.
    ``url`` has no credentials.
    """

    url: str
    updated: tuple[str, ...]
    deleted: tuple[str, ...]
    unchanged: tuple[str, ...] = ()


def remote_url(git: GitRepo, remote: str = "origin") -> str:
    """The URL of ``remote`` from the repository's configuration, credentials included.

    The result may hold a password: print :func:`redact_url` of it, never the URL itself.
    """
    url = git.remote_url(remote)
    if not url:
        raise PushError(f"No remote '{remote}' is configured")
    return url


def push_tags(
    git: GitRepo,
    create: Sequence[str] = (),
    delete: Sequence[str] = (),
    *,
    remote: str = "origin",
    username: str | None = None,
    password: str | None = None,
    fresh: bool = False,
) -> PushResult:
    """Push the local tags ``create`` and delete the remote tags ``delete``, in one push.

    Tag names are short (``model#prod#3``); the refs are ``refs/tags/<name>``
    on both sides.  A tag to create that the remote already has with the same
    value needs nothing; with another value the whole push is refused before
    anything is sent.  Deleting a tag the remote does not have is not an
    error (the outcome asked for already holds), like deleting an already
    deleted local tag.  When both lists are empty nothing is contacted.

    With ``fresh`` every tag to create must be new on the remote: one that is
    there already (whatever its value), one the server refused because it
    appeared meanwhile, or one that holds another value after the push raises
    :class:`LostRace`.

    Raises :class:`PushError` when the remote is not configured or cannot be
    reached, refuses the credentials, rejects an update, or does not hold the
    expected values afterwards.
    """
    creating = _unique(create)
    deleting = _unique(delete)
    for name in (*creating, *deleting):
        _check_tag_name(name)
    for name in creating:
        if name in deleting:
            raise PushError(f"cannot both push and delete tag '{name}'")
    url = remote_url(git, remote)
    shown = redact_url(url)
    if not creating and not deleting:
        return PushResult(shown, (), ())

    local: dict[str, bytes] = {}
    for name in creating:
        try:
            local[name] = bytes(git.dulwich.refs[_ref(name)])
        except KeyError:
            raise PushError(f"tag '{name}' does not exist locally", url=shown) from None

    return _talk(
        git,
        url,
        "push",
        lambda connection: _push(git, connection, local, deleting, fresh=fresh),
        username=username,
        password=password,
    )


def _talk(
    git: GitRepo,
    url: str,
    operation: str,
    action: Callable[[Connection], T],
    *,
    username: str | None,
    password: str | None,
) -> T:
    """Run ``action`` over one connection to ``url``; every failure is one masked line."""
    shown = redact_url(url)
    secrets = secrets_in(url, password)
    connection: Connection | None = None
    try:
        connection = connect(
            url,
            operation=operation,
            config=git.dulwich.get_config_stack(),
            username=username,
            password=password,
        )
        with connection.guard("push to" if operation == "push" else "fetch from"):
            return action(connection)
    except RemoteError as exc:
        raise type(exc)(scrub(exc.message, secrets), url=shown) from None
    except GTOError:
        raise
    except Exception as exc:
        pushing = operation == "push"
        message = explain(exc, shown, "push to" if pushing else "fetch from", connection)
        if message is None:
            raise
        error = PushError if pushing else RemoteError
        raise error(scrub(message, secrets), url=shown) from None
    finally:
        if connection is not None:
            connection.close()


# -- the push ---------------------------------------------------------------


def _push(
    git: GitRepo,
    connection: Connection,
    local: dict[str, bytes],
    deleting: tuple[str, ...],
    *,
    fresh: bool = False,
) -> PushResult:
    from dulwich.client import LocalGitClient
    from dulwich.errors import GitProtocolError
    from dulwich.file import FileLocked

    repo = git.dulwich
    client, path, shown = connection.client, connection.path, connection.shown
    unchanged: list[str] = []

    def update_refs(remote_refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
        # Called with the remote's refs before anything is sent; may run twice
        # (see the atomic retry below), so it starts afresh each time.
        unchanged.clear()
        changes: dict[Ref, ObjectID] = {}
        for name, sha in local.items():
            ref = _ref(name)
            current = remote_refs.get(ref)
            if current is None:
                changes[ref] = ObjectID(sha)
            elif fresh:
                raise _lost(name, shown)
            elif bytes(current) == sha:
                unchanged.append(name)
            else:
                raise PushError(
                    f"remote already has tag '{name}' ({_short(current)}, "
                    f"local {_short(sha)}) at {shown}; it was not overwritten"
                )
        for name in deleting:
            ref = _ref(name)
            if ref in remote_refs:
                changes[ref] = ObjectID(ZERO_SHA)
            else:
                unchanged.append(name)
        return changes

    def generate_pack_data(
        have: AbstractSet[ObjectID],
        want: AbstractSet[ObjectID],
        *,
        ofs_delta: bool = False,
        progress: Callable[..., None] | None = None,
    ) -> tuple[int, Iterator[UnpackedObject]]:
        # ``have`` is every value the remote advertised: only what it lacks is sent.
        return repo.generate_pack_data(set(have), set(want), ofs_delta=ofs_delta)

    local_client = isinstance(client, LocalGitClient)
    # dulwich's file:// "atomic" pre-check compares a packed tag's *peeled*
    # commit with the tag object and so refuses to delete packed annotated
    # tags; there it is used for creations only.
    atomic = len(local) + len(deleting) > 1 and not (local_client and deleting)
    try:
        try:
            result = client.send_pack(
                path.encode("utf-8"), update_refs, generate_pack_data, atomic=atomic
            )
        except GitProtocolError as exc:
            if not atomic or "does not support atomic" not in str(exc):
                raise
            # Checked before update_refs runs, so nothing was sent yet.
            result = client.send_pack(path.encode("utf-8"), update_refs, generate_pack_data)
    except FileLocked:
        # A file:// remote whose ref another writer is creating right now.
        if not fresh:
            raise
        raise _lost(next(iter(local), ""), shown) from None
    failures = {
        _tag_name(bytes(ref)): status
        for ref, status in (result.ref_status or {}).items()
        if status is not None
    }
    if failures:
        if fresh:
            _raise_if_taken(client, path, shown, local)
        detail = "; ".join(f"'{name}': {status}" for name, status in sorted(failures.items()))
        raise PushError(f"remote {shown} rejected the push of {detail}")
    _verify(client, path, shown, local, deleting, fresh=fresh)
    return PushResult(
        shown, tuple(local), deleting, tuple(n for n in (*local, *deleting) if n in unchanged)
    )


def _verify(
    client: GitClient,
    path: str,
    shown: str,
    local: dict[str, bytes],
    deleting: tuple[str, ...],
    *,
    fresh: bool = False,
) -> None:
    """List the remote's tags and fail unless they hold what was pushed."""
    refs = _remote_tags(client, path)
    for name, sha in local.items():
        value = refs.get(_ref(name))
        if value is not None and bytes(value) != sha and fresh:
            raise _lost(name, shown)
        if value is None or bytes(value) != sha:
            raise PushError(f"push of '{name}' was not applied by the remote {shown}")
    for name in deleting:
        if refs.get(_ref(name)) is not None:
            raise PushError(f"deletion of '{name}' was not applied by the remote {shown}")


def _remote_tags(client: GitClient, path: str) -> dict[bytes, bytes]:
    listed = client.get_refs(path.encode("utf-8"), ref_prefix=[TAGS_PREFIX])
    return {bytes(name): bytes(value) for name, value in listed.refs.items() if value}


def _raise_if_taken(client: GitClient, path: str, shown: str, local: dict[str, bytes]) -> None:
    """After a refused push: a tag we meant to create that the remote now has was
    made by another writer (git answers "failed to update ref" to the loser)."""
    refs = _remote_tags(client, path)
    for name in local:
        if _ref(name) in refs:
            raise _lost(name, shown)


def _lost(name: str, shown: str) -> LostRace:
    return LostRace(f"tag '{name}' was created on {shown} by another writer meanwhile", url=shown)


# -- names -------------------------------------------------------------------


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _check_tag_name(name: str) -> None:
    if not name or not check_ref_format(_ref(name)):
        raise PushError(f"invalid tag name '{name}'")


def _ref(name: str) -> Ref:
    return Ref(TAGS_PREFIX + name.encode("utf-8"))


def _tag_name(ref: bytes) -> str:
    raw = ref[len(TAGS_PREFIX) :] if ref.startswith(TAGS_PREFIX) else ref
    return raw.decode("utf-8", errors="replace")


def _short(sha: bytes) -> str:
    return bytes(sha)[:7].decode("ascii", errors="replace")


# -- fetching tags into a local repository ------------------------------------


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What :func:`fetch_tags` changed in the local repository.

    ``added`` tags were absent; ``replaced`` were lightweight here and are now
    the remote's annotated tags (the CI-checkout repair); ``kept`` differ
    from the remote but were left alone because they are annotated here.
    """

    url: str
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


def fetch_tags(
    git: GitRepo,
    prefixes: Sequence[str] | None = None,
    *,
    remote: str = "origin",
    username: str | None = None,
    password: str | None = None,
) -> FetchResult:
    """Fetch the remote's tags (those starting with one of ``prefixes``) and their objects.

    Only tag objects are asked for (``object:type=tag``; servers that ignore
    filters also send the commits the local repository lacks) and no depth
    is given, so a full clone never gains shallow boundaries.  A local
    annotated tag is never replaced; a lightweight one is, by the remote's
    tag of the same name (``actions/checkout`` makes those).
    """
    return _talk(
        git,
        remote_url(git, remote),
        "pull",
        lambda connection: _fetch_tags(git, connection, prefixes),
        username=username,
        password=password,
    )


def _fetch_tags(
    git: GitRepo, connection: Connection, prefixes: Sequence[str] | None
) -> FetchResult:
    from dulwich.errors import GitProtocolError

    client, path = connection.client, connection.path.encode("utf-8")
    wanted = tuple(_ref(p) for p in prefixes or ("",))
    listing = client.get_refs(path, ref_prefix=[TAGS_PREFIX])
    theirs = {
        bytes(name): bytes(sha)
        for name, sha in listing.refs.items()
        if sha and name.startswith(wanted) and not name.endswith(b"^{}")
    }
    local = {bytes(_ref(e.name)): e for e in git.tag_refs(prefixes)}
    add: dict[bytes, bytes] = {}
    replace: dict[bytes, tuple[bytes, bytes]] = {}
    kept: list[str] = []
    for ref, sha in sorted(theirs.items()):
        entry = local.get(ref)
        if entry is None:
            add[ref] = sha
        elif entry.sha.encode("ascii") != sha:
            if git.read_tag(entry).kind == "lightweight":
                replace[ref] = (entry.sha.encode("ascii"), sha)
            else:
                kept.append(_tag_name(ref))
    store = git.dulwich.object_store
    wants = [
        ObjectID(sha)
        for sha in dict.fromkeys([*add.values(), *(new for _old, new in replace.values())])
        if ObjectID(sha) not in store
    ]
    if wants:
        try:
            client.fetch(
                path,
                git.dulwich,
                determine_wants=lambda _refs, depth=None: wants,
                filter_spec=b"object:type=tag",
            )
        except GitProtocolError as exc:
            if "filter" not in str(exc):
                raise
            # An older server that knows filters but not this one: take the commits too.
            client.fetch(path, git.dulwich, determine_wants=lambda _refs, depth=None: wants)
    added = [_tag_name(ref) for ref, sha in add.items() if git.add_tag_ref(ref, sha)]
    replaced = [
        _tag_name(ref) for ref, (old, new) in replace.items() if git.move_tag_ref(ref, old, new)
    ]
    return FetchResult(connection.shown, tuple(added), tuple(replaced), tuple(kept))
