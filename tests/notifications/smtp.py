"""A real SMTP server for tests (aiosmtpd on a free local port) that keeps what it receives."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    """The handler: accepts every message except for the addresses in ``replies`` (address ->
    the SMTP reply to RCPT TO, e.g. ``"550 5.1.1 no such user"``)."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.peers: list[Any] = []  # the client's (address, port) of each message: its connection
        self.replies: dict[str, str] = {}
        self.port = 0
        # when set, the first message waits (up to hold_seconds) until a second one arrives on
        # another connection: two senders were then inside a send at the same time
        self.hold_first = False
        self.hold_seconds = 10.0
        self.overlapped = False
        self._data_calls = 0
        self._second: asyncio.Event | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._data_calls += 1
        if self.hold_first and self._data_calls == 1:
            self._second = asyncio.Event()
            try:
                await asyncio.wait_for(self._second.wait(), self.hold_seconds)
                self.overlapped = True
            except TimeoutError:
                pass
        elif self.hold_first and self._data_calls == 2 and self._second is not None:
            self._second.set()
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received]


#: how many ports each xdist worker has to itself
PORTS_A_WORKER = 1500
_taken = itertools.count()


def free_port() -> int:
    """A local port no one listens on, for a server the test starts later, often in another
    process. It lies below the kernel's ephemeral range, where ``bind(0)`` and every outgoing
    connection take theirs, so that nothing on the machine takes it between now and the
    server's bind (a web server then gives up after 5 s); each xdist worker picks from a block
    of its own, in turn, and never the same port twice."""
    low = _ephemeral_low() - 8 * PORTS_A_WORKER
    if low < 1024:  # a machine whose ephemeral range leaves no room: the kernel's choice
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = low + (int(worker) % 8 if worker.isdigit() else 0) * PORTS_A_WORKER
    for _ in range(PORTS_A_WORKER):
        port = start + next(_taken) % PORTS_A_WORKER
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use, or still in TIME_WAIT
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORTS_A_WORKER - 1}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@contextmanager
def smtp_server() -> Iterator[Sink]:
    sink = Sink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
