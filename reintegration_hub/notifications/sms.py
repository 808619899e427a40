"""SMS gateways: how a text message leaves the outbox, and how a reply comes back.

``SMS_GATEWAY`` chooses the adapter: ``twilio`` (any service that speaks Twilio's Messages REST
API: ``POST {SMS_API_URL}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json`` with basic
authentication), ``log`` (development only: each message is written to the log instead of
being sent, see ``LogGateway``) or ``""``, no gateway: text messages are queued and wait, never
sent and never failed, until a gateway is configured (the deliverer logs how many wait). An
adapter raises ``SmsRefused`` for a message it could not send: ``permanent`` for a refusal of
the message itself (a 4xx answer, the gateway's error text kept), transient for a gateway that
is busy or cannot be reached (429, 5xx, a connection error), which the outbox retries with its
backoff.

Replies come back to the inbound webhook; ``TwilioGateway.verify`` checks their signature
(``X-Twilio-Signature``: HMAC-SHA1 of the address and the sorted parameters with the auth
token). Nothing here logs a number or a text, but the development gateway ``log``, which the
configuration refuses in production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: GSM 03.38's basic character set and its extension table (each of those counts two).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    """How a text goes over the air: its encoding and how many SMS it takes."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int


def sms_segments(text: str) -> Segments:
    """The encoding and the number of segments of ``text``: GSM-7 when every character is in
    the GSM alphabet (160 septets in one SMS, 153 a segment of a longer one), else UCS-2 (70
    UTF-16 units, 67 a segment)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    count = 1 if units <= single else -(-units // part)
    return Segments(encoding, units, count)


class SmsRefused(Exception):
    """A text message was not sent: ``permanent`` when the gateway refused the message itself
    (it will never go through as it is), else the gateway could not take it now."""

    def __init__(self, error: str, *, permanent: bool) -> None:
        super().__init__(error)
        self.error = error[:500]
        self.permanent = permanent


class SmsGateway(Protocol):
    def send(self, to_number: str, text: str) -> str:
        """Hand one message to the gateway; its id there. Raises ``SmsRefused``."""
        ...


@dataclass(frozen=True)
class InboundSms:
    """A reply as the gateway reported it."""

    from_number: str
    text: str


class TwilioGateway:
    """Twilio's Messages REST API (and the services that copy it): form-encoded ``To``,
    ``Body`` and ``From`` (or ``MessagingServiceSid``), basic authentication with the account
    SID and auth token."""

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str = "",
        messaging_service_sid: str = "",
        timeout: float = 15,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sender, self.messaging_service_sid = sender, messaging_service_sid
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioGateway:
        return cls(
            base_url=str(config["SMS_API_URL"]),
            account_sid=str(config["SMS_ACCOUNT_SID"] or ""),
            auth_token=str(config["SMS_AUTH_TOKEN"] or ""),
            sender=str(config["SMS_FROM"] or ""),
            messaging_service_sid=str(config["SMS_MESSAGING_SERVICE_SID"] or ""),
            timeout=float(config["SMS_TIMEOUT_SECONDS"]),
        )

    def send(self, to_number: str, text: str) -> str:
        sid = urllib.parse.quote(self.account_sid, safe="")
        url = f"{self.base_url}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {"To": to_number, "Body": text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.sender
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        # the address is SMS_API_URL's, http or https (checked with the configuration)
        request = urllib.request.Request(  # noqa: S310
            url,
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = _json(response.read())
        except urllib.error.HTTPError as exc:
            error = _error_text(exc.code, exc.read())
            raise SmsRefused(error, permanent=not _transient(exc.code)) from exc
        except (OSError, ValueError) as exc:  # refused, timed out, reset, a bad answer
            raise SmsRefused(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        return str(answer.get("sid", ""))

    def verify(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Whether ``signature`` (``X-Twilio-Signature``) signs a request to ``url`` (the
        address given to the provider) with ``params`` (the form), with the auth token."""
        if not self.auth_token or not signature:
            return False
        payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
        digest = hmac.new(self.auth_token.encode(), payload.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), signature)

    @staticmethod
    def inbound(params: Mapping[str, str]) -> InboundSms:
        return InboundSms(params.get("From", ""), params.get("Body", ""))


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


def _json(body: bytes) -> dict[str, Any]:
    found = json.loads(body.decode() or "{}")
    if not isinstance(found, dict):
        raise ValueError("the gateway's answer is not a JSON object")
    return found


def _error_text(status: int, body: bytes) -> str:
    """The gateway's own error text (Twilio: ``code`` and ``message``), else its answer."""
    try:
        found = _json(body)
    except ValueError:
        return f"{status} {body.decode(errors='replace')}"[:500]
    code, message = found.get("code"), found.get("message") or found
    return f"{status} {code}: {message}"[:500] if code else f"{status} {message}"[:500]


class LogGateway:
    """``SMS_GATEWAY=log``, for a developer (``make run`` uses it): each text message is
    written to the log, number and text in full, instead of being sent, so the flows process's
    output (and the run's log in the Prefect UI) shows what the returnee would receive. Only in
    the development and testing environments: the configuration refuses it elsewhere, since
    the line holds a person's number. It takes no replies (the webhook answers 404)."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LogGateway:
        return cls()

    def send(self, to_number: str, text: str) -> str:
        message_id = f"log-{secrets.token_hex(6)}"
        log.info(
            "text message %s (not sent: SMS_GATEWAY=log) to %s: %s", message_id, to_number, text
        )
        return message_id


#: the adapters ``SMS_GATEWAY`` names
ADAPTERS: dict[str, type[TwilioGateway] | type[LogGateway]] = {
    "twilio": TwilioGateway,
    "log": LogGateway,
}


def gateway_from_config(config: Mapping[str, Any]) -> SmsGateway | None:
    """The configured gateway, or ``None`` when ``SMS_GATEWAY`` is empty (texts wait)."""
    name = str(config.get("SMS_GATEWAY") or "")
    if not name:
        return None
    adapter = ADAPTERS.get(name)
    if adapter is None:
        raise ValueError(f"SMS_GATEWAY must be one of {sorted(ADAPTERS)} or empty, not {name!r}")
    return adapter.from_config(config)


def reply_gateway(config: Mapping[str, Any]) -> TwilioGateway | None:
    """The configured gateway if replies come back through it (its webhook), else ``None``."""
    gateway = gateway_from_config(config)
    return gateway if isinstance(gateway, TwilioGateway) else None
