"""``/api/v1`` marketplace endpoints: partners, support options, search, HSDS 3.0 export."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("partners_api", __name__, url_prefix="", description="Partner marketplace")
