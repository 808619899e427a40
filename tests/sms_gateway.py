"""A fake SMS gateway: a real HTTP server on a free loopback port that speaks Twilio's Messages
API, records what it received and fails on demand; and the signature a gateway puts on a
reply it forwards."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "test-auth-token"
SENDER = "+37060000000"


@dataclass
class Gateway:
    port: int = 0
    #: every message accepted: {"To": ..., "Body": ..., "From": ...}
    received: list[dict[str, str]] = field(default_factory=list)
    #: statuses to answer the next requests with instead of accepting them (429, 503, 400 ...)
    failures: list[int] = field(default_factory=list)
    #: hold the first message until a second one arrives (two senders at once)
    hold_first: bool = False
    overlapped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _second: threading.Event = field(default_factory=threading.Event)
    _requests: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The application's settings for this gateway."""
        return {
            "SMS_GATEWAY": "twilio",
            "SMS_API_URL": self.url,
            "SMS_ACCOUNT_SID": ACCOUNT_SID,
            "SMS_AUTH_TOKEN": AUTH_TOKEN,
            "SMS_FROM": SENDER,
            "SMS_TIMEOUT_SECONDS": 5,
        }

    def to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.received if m["To"] == number]

    def _answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._requests += 1
            first = self._requests == 1
            if self._requests == 2:
                self._second.set()
            failure = self.failures.pop(0) if self.failures else None
        if first and self.hold_first:
            self.overlapped = self._second.wait(timeout=10)
        if failure is not None:
            return failure, {"code": 21211 if failure < 500 else None, "message": "refused"}
        with self._lock:
            self.received.append(form)
            sid = f"SM{len(self.received):032d}"
        return 201, {"sid": sid, "status": "queued"}


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            expected = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
            credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            if self.path != expected or self.headers.get("Authorization") != f"Basic {credentials}":
                status, answer = 401, {"code": 20003, "message": "Authenticate"}
            else:
                form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                status, answer = gateway._answer(form)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def sms_gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    gateway.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


def signature(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    """``X-Twilio-Signature`` of a request to ``url`` with the form ``params`` (written here
    from Twilio's description, apart from the application's code)."""
    data = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
