"""The commit mark and the final write of a send leave back to back (connectors.dispatch.dedupe)."""

from __future__ import annotations

import socket
import threading

import pytest

from connectors.dispatch.dedupe import _FirstWriteFailed, _send_back_to_back

pytestmark = pytest.mark.unit


def _drain(sock: socket.socket, into: bytearray) -> None:
    while chunk := sock.recv(65536):
        into.extend(chunk)


def test_both_writes_arrive_whole_in_order_even_when_a_buffer_is_full() -> None:
    a_out, a_in = socket.socketpair()
    b_out, b_in = socket.socketpair()
    big = bytes(range(256)) * 40_000  # 10 MB: more than a socket buffer takes at once
    got_a, got_b = bytearray(), bytearray()
    readers = [threading.Thread(target=_drain, args=(a_in, got_a)), threading.Thread(target=_drain, args=(b_in, got_b))]
    for r in readers:
        r.start()
    _send_back_to_back(a_out, big, b_out, b".\r\n")
    a_out.close()
    b_out.close()
    for r in readers:
        r.join(10)
    assert bytes(got_a) == big
    assert bytes(got_b) == b".\r\n"


def test_a_failed_first_write_is_told_apart_and_the_second_is_not_made() -> None:
    a_out, a_in = socket.socketpair()
    b_out, b_in = socket.socketpair()
    a_in.close()
    a_out.shutdown(socket.SHUT_WR)
    with pytest.raises(_FirstWriteFailed):
        _send_back_to_back(a_out, b"x" * 10, b_out, b".\r\n")
    b_out.close()
    assert b_in.recv(10) == b""
