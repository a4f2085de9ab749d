"""One protocol-v2 fetch over git:// or ssh, asked the way a registry read needs it.

dulwich's ``fetch_pack`` lists the server's refs again before each fetch (``ls-refs``,
one more round trip), cannot ask for ``include-tag`` in protocol v2, and asks for a thin
pack.  A registry's read of every tag can then only want each tag object by id: 25,000
wants, and a server that answers a depth-1 fetch with one ``shallow`` line per want.
Here the request is written whole, with ``include-tag``: the read wants the few commits
the tags point at and the server adds every annotated tag that points at one of them
(``git fetch`` does the same), in about half the server's time.

Only for dulwich's git:// and ssh clients (``TraditionalGitClient``) and a server that
answers in protocol v2; anything else is left to dulwich (:func:`fetch` answers None).
The answer is read through the connection's guarded reader like every other (deadline,
pack-size cap), and every malformed answer is a ``GitProtocolError``, one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gto_dulwich.remote.connection import Connection

#: Side-band channels of a v2 ``packfile`` section.
_DATA, _PROGRESS, _FATAL = 1, 2, 3


def speaks_v2(connection: Connection) -> bool:
    """Whether :func:`fetch` can serve this connection (git:// or ssh), server permitting."""
    from dulwich.client import TraditionalGitClient

    return isinstance(connection.client, TraditionalGitClient)


def fetch(
    connection: Connection,
    wants: Sequence[bytes],
    pack_data: Callable[[bytes], None],
    *,
    depth: int | None,
    filter_spec: bytes | None,
    include_tags: bool = False,
) -> tuple[set[bytes], set[bytes]] | None:
    """Fetch ``wants`` into ``pack_data``; the ``(shallow, unshallow)`` commits the server
    named, or None when dulwich must do it (not git:// or ssh, not a v2 server, no
    ``shallow`` for a ``depth``)."""
    from dulwich.client import (
        TraditionalGitClient,
        _read_shallow_updates,
        _remote_error_from_stderr,
        _sanitize_sideband_message,
        build_fetch_request_v2,
        extract_object_format_from_capabilities,
        negotiate_protocol_version,
        read_server_capabilities,
    )
    from dulwich.errors import GitProtocolError, HangupException
    from dulwich.protocol import parse_capability, pkt_line

    client = connection.client
    if not isinstance(client, TraditionalGitClient):
        return None
    proto, _can_read, stderr = client._connect(b"upload-pack", connection.path, 2)
    with proto:
        try:
            if negotiate_protocol_version(proto) != 2:
                return None
            capabilities = read_server_capabilities(proto.read_pkt_seq())
        except HangupException as exc:
            raise _remote_error_from_stderr(stderr) from exc
        features: list[bytes] = []
        for capability in capabilities:
            key, value = parse_capability(capability)
            if key == b"fetch":
                features = (value or b"").split()
        if depth is not None and b"shallow" not in features:
            return None  # dulwich says so in its own words
        request = [*build_fetch_request_v2(extract_object_format_from_capabilities(capabilities))]
        arguments = [b"ofs-delta\n", b"no-progress\n"]
        if include_tags:
            arguments.append(b"include-tag\n")
        arguments += [b"want " + want + b"\n" for want in wants]
        if depth is not None:
            arguments.append(b"deepen %d\n" % depth)
        if filter_spec and b"filter" in features:
            arguments.append(b"filter " + filter_spec + b"\n")
        arguments.append(b"done\n")
        proto.write(
            b"".join(
                [
                    *(pkt_line(line) for line in request),
                    b"0001",
                    *(pkt_line(line) for line in arguments),
                    b"0000",
                ]
            )
        )
        proto.shutdown_write()  # nothing more is sent: the server sees the end
        shallow: set[bytes] = set()
        unshallow: set[bytes] = set()
        section = proto.read_pkt_line()
        if section is not None and section.rstrip(b"\n") == b"shallow-info":
            found, gone = _read_shallow_updates(proto.read_pkt_seq())
            shallow, unshallow = {bytes(s) for s in found}, {bytes(s) for s in gone}
            section = proto.read_pkt_line()
        if section is None or section.rstrip(b"\n") != b"packfile":
            if section is not None and section.startswith(b"ERR "):
                raise GitProtocolError(section[4:].decode("utf-8", "replace").strip())
            raise GitProtocolError(f"expected the packfile section, got {section!r:.80}")
        for line in proto.read_pkt_seq():
            channel = line[0]
            if channel == _DATA:
                pack_data(line[1:])
            elif channel == _FATAL:
                message = _sanitize_sideband_message(line[1:])
                raise GitProtocolError(message.decode("utf-8", "replace").strip())
            elif channel != _PROGRESS:
                raise GitProtocolError(f"invalid side-band channel {channel}")
    return shallow, unshallow
