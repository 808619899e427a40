"""Returnee feedback: after a support is delivered, the returnee scores it through a short
signed link, without an account; the answers feed partner performance and the dashboard."""
