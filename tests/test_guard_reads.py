"""The buffer between dulwich's reads and the socket (``guard._Refilled``): what it
returns is the stream, read for read, whatever pieces the stream arrives in."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from gto_dulwich.remote.guard import _pkt_line_reader, _Refilled

STREAM = b"".join(b"%04x" % (len(line) + 4) + line for line in (b"x" * n for n in range(300)))


def _send_in_pieces(sock: socket.socket, data: bytes, pieces: list[int]) -> None:
    at = 0
    # The reader may stop at a bad line and close its end before all of it is sent.
    with sock, contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for size in pieces:
            sock.sendall(data[at : at + size])
            at += size
        sock.sendall(data[at:])


@pytest.mark.parametrize("pieces", [[1] * 50, [3, 7, 4096, 1], [len(STREAM)], []])
def test_reads_return_the_stream(pieces: list[int]) -> None:
    left, right = socket.socketpair()
    sender = threading.Thread(target=_send_in_pieces, args=(left, STREAM, pieces))
    sender.start()
    receives: list[int] = []
    with right, right.makefile("rb") as stream:

        def receive(size: int) -> bytes:
            data = stream.read1(size)
            receives.append(len(data))
            return data

        reader = _Refilled(receive)
        got = [reader.read(4), reader.read(0), reader.read(100), reader.read(70_000)]
        got.append(reader.read(10))  # past the end: nothing, as a plain read
        sender.join()
    assert b"".join(got) == STREAM
    assert [len(piece) for piece in got] == [4, 0, 100, len(STREAM) - 104, 0]
    assert len(receives) < len(STREAM) // 100  # receives are big, not one per read


def test_read_all_and_short_at_the_end() -> None:
    left, right = socket.socketpair()
    sender = threading.Thread(target=_send_in_pieces, args=(left, STREAM, [5, 5]))
    sender.start()
    with right, right.makefile("rb") as stream:
        reader = _Refilled(stream.read1)
        assert reader.read(2) == STREAM[:2]
        assert reader.read() == STREAM[2:]
        assert reader.read(4) == b""
    sender.join()


def _lines_read(stream_bytes: bytes, fast: bool) -> list[bytes | str | None]:
    """Every pkt-line of ``stream_bytes`` as dulwich's Protocol reads them (through the
    buffer and, when ``fast``, its whole-line reader), unreading one on the way."""
    from dulwich.errors import GitProtocolError, HangupException
    from dulwich.protocol import Protocol

    left, right = socket.socketpair()
    sender = threading.Thread(target=_send_in_pieces, args=(left, stream_bytes, [5, 70_000]))
    sender.start()
    out: list[bytes | str | None] = []
    with right, right.makefile("rb") as stream:
        refilled = _Refilled(stream.read1)
        proto = Protocol(refilled.read, lambda _data: None)
        if fast:
            proto.read_pkt_line = _pkt_line_reader(proto, refilled)  # type: ignore[method-assign]
        try:
            while True:
                line = proto.read_pkt_line()
                if line == b"unread me\n":
                    proto.unread_pkt_line(line)
                    line = proto.read_pkt_line()
                out.append(line)
        except HangupException:
            out.append("hangup")
        except GitProtocolError as exc:
            out.append(f"error {exc}")
    sender.join()
    return out


@pytest.mark.parametrize(
    "tail", [b"", b"00zz", b"0003", b"0010short", b"-001"], ids=["end", "hex", "3", "cut", "sign"]
)
def test_whole_line_reader_reads_as_dulwich(tail: bytes) -> None:
    def line(data: bytes) -> bytes:
        return b"%04x" % (len(data) + 4) + data

    body = b"".join(
        [line(b"version 2\n"), b"0001", line(b"unread me\n"), b"0000"]
        + [line(b"y" * (n * 37 % 65000)) for n in range(1, 60)]
        + [b"0000"]
    )
    stream = body + tail
    assert _lines_read(stream, fast=True) == _lines_read(stream, fast=False)
