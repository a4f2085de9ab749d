"""The hand-written protocol-v2 fetch (``remote/fetching.py``) against a git:// server on
127.0.0.1 that speaks v2 and then answers the fetch badly: one line, naming the URL."""

from __future__ import annotations

import socket

import pytest

from gto_dulwich.errors import RemoteError
from gto_dulwich.remote.reader import RemoteRepo
from tests import hostile_servers as hostile
from tests.hostile_servers import FAKE_SHA, FLUSH, pkt

TAG_SHA = b"2" * 40
CAPABILITIES = [b"version 2\n", b"agent=hostile/2\n", b"ls-refs\n", b"fetch=shallow filter\n"]


def _commands(conn: socket.socket, server: hostile.Server) -> bytes:
    """The client's request up to the flush that ends its command."""
    data = b""
    while not data.endswith(FLUSH) or b"command=" not in data:
        piece = hostile._recv(conn, server)
        if not piece:
            break
        data += piece
    return data


def v2_server(answer: bytes) -> hostile.Behaviour:
    """Speaks v2: lists one annotated tag, answers every fetch with ``answer``."""

    def behaviour(conn: socket.socket, server: hostile.Server) -> None:
        if not hostile._recv(conn, server):
            return
        server.send(conn, b"".join(pkt(line) for line in CAPABILITIES) + FLUSH)
        request = _commands(conn, server)
        server.requests.append(request)
        if b"command=ls-refs" in request:
            line = TAG_SHA + b" refs/tags/rf@v1.0.0 peeled:" + FAKE_SHA + b"\n"
            server.send(conn, pkt(line) + FLUSH)
        elif b"command=fetch" in request:
            server.send(conn, answer)

    return behaviour


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (pkt(b"packfile\n") + pkt(b"\x03fatal: no such object\n") + FLUSH, "no such object"),
        (pkt(b"ERR upload-pack: not our ref\n"), "upload-pack: not our ref"),
        (pkt(b"acknowledgments\n") + FLUSH, "expected the packfile section"),
        (pkt(b"packfile\n") + pkt(b"\x07?") + FLUSH, "invalid side-band channel 7"),
        (pkt(b"shallow-info\n") + pkt(b"shallow nonsense\n") + FLUSH, "invalid shallow line"),
        (b"", "the remote hung up"),
    ],
    ids=["fatal", "err", "no-packfile", "channel", "shallow", "hangup"],
)
def test_a_bad_v2_fetch_answer_is_one_line(answer: bytes, message: str) -> None:
    with hostile.serve(v2_server(answer)) as server:
        url = server.git_url
        with RemoteRepo.open_url(url) as remote, pytest.raises(RemoteError) as caught:
            remote.tag_refs()
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"cannot read {url}") or text.startswith(f"cannot reach {url}")
    assert message in text
    fetches = [r for r in server.requests if b"command=fetch" in r]
    assert fetches
    # The whole read of every tag: include-tag, the tagged commit wanted, no thin pack.
    assert b"include-tag" in fetches[0]
    assert b"want " + FAKE_SHA in fetches[0]
    assert b"thin-pack" not in fetches[0]
