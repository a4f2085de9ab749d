"""The buffer between dulwich's reads and the socket (``guard._Refilled``): what it
returns is the stream, read for read, whatever pieces the stream arrives in."""

from __future__ import annotations

import socket
import threading

import pytest

from gto_dulwich.remote.guard import _Refilled

STREAM = b"".join(b"%04x" % (len(line) + 4) + line for line in (b"x" * n for n in range(300)))


def _send_in_pieces(sock: socket.socket, data: bytes, pieces: list[int]) -> None:
    at = 0
    for size in pieces:
        sock.sendall(data[at : at + size])
        at += size
    sock.sendall(data[at:])
    sock.close()


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
