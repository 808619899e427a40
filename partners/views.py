"""Marketplace pages: partners, support options, search, import."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("partners", __name__, url_prefix="/marketplace")
