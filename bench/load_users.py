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

import http.cookiejar
import json
import os
import random
import re
from typing import Any

from locust import HttpUser, between, task

with open(os.environ["LOAD_FIXTURE"]) as fixture_file:
    FIXTURE: dict[str, Any] = json.load(fixture_file)
CRAFTS = ["tailoring", "welding", "bakery", "beekeeping", "rent", "school", "dental", "passport"]
NAMES = ["ivan", "nino", "giorgi", "ana", "levan", "mariam", "armen", "davit"]


class ThroughTheProxy(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return True


class Staff(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self) -> None:
        account = random.choice(FIXTURE["accounts"][self.role])
        self.cases: list[int] = account["cases"]
        self.client.cookies.set_policy(ThroughTheProxy())
        host = str(self.host).split("://", 1)[-1]
        self.client.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": f"10.0.{random.randint(0, 255)}.{random.randint(1, 254)}",
                "Referer": f"https://{host}/login",
            }
        )
        form = self.client.get("/login", name="sign-in").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
        assert token, "no CSRF token on the sign-in page"
        fields = {
            "csrf_token": token[1],
            "email": account["email"],
            "password": FIXTURE["password"],
        }
        with self.client.post("/login", data=fields, name="sign-in", catch_response=True) as r:
            if "/login" in r.url:
                r.failure("the sign-in failed")


class CaseWorker(Staff):
    abstract = True

    @task(3)
    def marketplace_page(self) -> None:
        self.client.get(f"/marketplace/search?q={random.choice(CRAFTS)}", name="marketplace search")

    @task(2)
    def marketplace_api(self) -> None:
        self.client.get(
            f"/api/v1/marketplace/search?q={random.choice(CRAFTS)}", name="API marketplace search"
        )

    @task(3)
    def case_list(self) -> None:
        if random.random() < 0.3:
            self.client.get(f"/cases/?q={random.choice(NAMES)}", name="case list")
        else:
            self.client.get(f"/cases/?page={random.randint(1, 20)}", name="case list")

    @task(3)
    def plan_page(self) -> None:
        self.client.get(f"/cases/{random.choice(self.cases)}/plan", name="plan page")

    @task(2)
    def cases_api(self) -> None:
        self.client.get(f"/api/v1/cases?page={random.randint(1, 20)}", name="API cases")

    @task(2)
    def plans_api(self) -> None:
        self.client.get("/api/v1/plans", name="API plans")


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
        self.client.get("/monitoring/", name="dashboard")

    @task(1)
    def dashboard_filtered(self) -> None:
        country = random.choice(FIXTURE["countries"])
        self.client.get(f"/monitoring/?country={country}&months=12", name="dashboard")
