"""The users of ``bench.load``: a Locust file (``locust -f bench/load_users.py``).

Each simulated user signs in with an account of the generated data (``LOAD_FIXTURE``, a JSON
file ``bench.load`` writes: accounts by role with their cases that have a plan) and then works
as that role does, with 1 to 3 s between clicks: counsellors and case managers search the
marketplace (page and API), page through and search the case list, open plans and call the
cases and plans APIs; programme managers open the dashboard, with and without filters. Each
request is named by its page kind, which the report groups by.

The web processes sit behind a TLS-terminating proxy (``HUB_TRUSTED_PROXIES=1``): the users
send what it would forward, and keep the session's Secure cookie over the bench's plain http.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from typing import Any

from locust import HttpUser, between, events, task

with open(os.environ["LOAD_FIXTURE"]) as fixture_file:
    FIXTURE: dict[str, Any] = json.load(fixture_file)
#: every request, one CSV line each (start time, page kind, milliseconds, failed), and a line
#: ``spawned`` when every user was started: ``bench.load`` measures a window of them
RECORD = open(os.environ["LOAD_RECORD"], "a", buffering=1)  # noqa: SIM115 - open for the run


@events.request.add_listener
def _record(
    name: str, response_time: float, exception: Any, start_time: float = 0.0, **_: Any
) -> None:
    RECORD.write(f"{start_time:.3f},{name},{response_time:.1f},{int(exception is not None)}\n")


@events.spawning_complete.add_listener
def _spawned(user_count: int, **_: Any) -> None:
    RECORD.write(f"{time.time():.3f},spawned,0,0\n")


CRAFTS = ["tailoring", "welding", "bakery", "beekeeping", "rent", "school", "dental", "passport"]
NAMES = ["ivan", "nino", "giorgi", "ana", "levan", "mariam", "armen", "davit"]


class Staff(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self) -> None:
        account = random.choice(FIXTURE["accounts"][self.role])
        self.cases: list[int] = account["cases"]
        host = str(self.host).split("://", 1)[-1]
        self.client.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": f"10.0.{random.randint(0, 255)}.{random.randint(1, 254)}",
                "Referer": f"https://{host}/login",
            }
        )
        form = self.get("/login", "sign-in").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
        assert token, "no CSRF token on the sign-in page"
        fields = {
            "csrf_token": token[1],
            "email": account["email"],
            "password": FIXTURE["password"],
        }
        self.proxied()
        with self.client.post(
            "/login", data=fields, name="sign-in", catch_response=True, allow_redirects=False
        ) as r:
            if r.status_code != 302 or "/login" in r.headers.get("Location", "/login"):
                r.failure("the sign-in failed")

    def proxied(self) -> None:
        """The session's Secure cookie goes back over the bench's plain http, as the proxy's
        https would carry it (requests copies cookies into a jar of its own for each request,
        and for each redirect it follows, so a cookie policy would not do)."""
        for cookie in self.client.cookies:
            cookie.secure = False

    def get(self, url: str, name: str) -> Any:
        """GET ``url``; sent back to the sign-in page (signed out) counts as a failure."""
        self.proxied()
        with self.client.get(url, name=name, catch_response=True) as response:
            if name != "sign-in" and "/login" in response.url:
                response.failure("signed out")
            return response


class CaseWorker(Staff):
    abstract = True

    @task(3)
    def marketplace_page(self) -> None:
        self.get(f"/marketplace/search?q={random.choice(CRAFTS)}", "marketplace search")

    @task(2)
    def marketplace_api(self) -> None:
        self.get(f"/api/v1/marketplace/search?q={random.choice(CRAFTS)}", "API marketplace search")

    @task(3)
    def case_list(self) -> None:
        if random.random() < 0.3:
            self.get(f"/cases/?q={random.choice(NAMES)}", "case list")
        else:
            self.get(f"/cases/?page={random.randint(1, 20)}", "case list")

    @task(3)
    def plan_page(self) -> None:
        self.get(f"/cases/{random.choice(self.cases)}/plan", "plan page")

    @task(2)
    def cases_api(self) -> None:
        self.get(f"/api/v1/cases?page={random.randint(1, 20)}", "API cases")

    @task(2)
    def plans_api(self) -> None:
        self.get("/api/v1/plans", "API plans")


class Counsellor(CaseWorker):
    weight = 3
    role = "counsellor"


class CaseManager(CaseWorker):
    weight = 2
    role = "case_manager"


class ProgrammeManager(Staff):
    weight = 1
    role = "programme_manager"

    @task(2)
    def dashboard(self) -> None:
        self.get("/monitoring/", "dashboard")

    @task(1)
    def dashboard_filtered(self) -> None:
        country = random.choice(FIXTURE["countries"])
        self.get(f"/monitoring/?country={country}&from=2025-06&to=2025-12", "dashboard")
