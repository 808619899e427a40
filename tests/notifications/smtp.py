"""A real SMTP server for tests (aiosmtpd on a free local port) that keeps what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import free_port


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
