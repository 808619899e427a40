"""Flow test helpers: the rows of a flow run's artifact, the Prefect API, waiting, signing in."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from prefect.artifacts import Artifact
from prefect.client.schemas.objects import Artifact as StoredArtifact

from tests.factories import PASSWORD


def artifact_rows(key: str, flow_run_id: Any) -> list[dict[str, Any]]:
    """The table the flow run ``flow_run_id`` stored as its artifact ``key``."""
    artifact = Artifact.get(key)
    assert isinstance(artifact, StoredArtifact)  # not the coroutine its hints allow for
    assert artifact.flow_run_id == flow_run_id
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(rows, list)
    return rows


def api_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - test server
        return json.load(response)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.5)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - test server
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


class ThroughTheProxy(http.cookiejar.DefaultCookiePolicy):
    """The TLS-terminating proxy's view: the client spoke https, so Secure cookies go back."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return True


def signed_in(
    base: str, email: str, *, through_proxy: bool = False
) -> urllib.request.OpenerDirector:
    """A client of the server at ``base`` signed in as ``email``; ``through_proxy``: as a
    TLS-terminating proxy forwards it (https, the client's address, Secure cookies)."""
    policy = ThroughTheProxy() if through_proxy else None
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar(policy))
    )
    if through_proxy:
        host = urllib.parse.urlsplit(base).netloc
        opener.addheaders = [
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-For", "203.0.113.7"),
            # on https, the CSRF check also wants the request to come from the Hub's own pages
            ("Referer", f"https://{host}/login"),
        ]
    with opener.open(f"{base}/login") as response:
        if through_proxy:
            assert "Secure" in response.headers["Set-Cookie"]
            assert response.headers["Strict-Transport-Security"]
        form = response.read().decode()
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert match, "no CSRF token on the sign-in page"
    fields = {"csrf_token": match[1], "email": email, "password": PASSWORD}
    with opener.open(f"{base}/login", urllib.parse.urlencode(fields).encode()) as response:
        assert "/login" not in response.url, "the sign-in failed"
    return opener
