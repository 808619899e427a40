"""Browser test helpers."""

from __future__ import annotations

from reintegration_hub.demo import data


def sign_in(page, base_url: str, email: str, password: str = data.DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
