"""Browser test helpers: signing in, a one-pixel PNG to upload."""

from __future__ import annotations

from reintegration_hub.demo import data


def sign_in(page, base_url: str, email: str, password: str = data.DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():  # the next step acts on the page the sign-in leads to
        page.get_by_role("button", name="Sign in").click()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082"
)
