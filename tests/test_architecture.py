"""The import contracts (``lint-imports``, setup.cfg) place every area: a new package under
``reintegration_hub/`` that no contract names would be free to import anything."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def contract(name: str) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config[f"importlinter:contract:{name}"]


def areas() -> set[str]:
    """``partners``, ``workflows`` and every package directly under ``reintegration_hub``."""
    packages = ROOT / "reintegration_hub"
    found = {
        f"reintegration_hub.{p.name}" for p in packages.iterdir() if (p / "__init__.py").exists()
    }
    return found | {"partners", "workflows"}


def test_every_area_has_its_place_in_the_order_of_areas() -> None:
    named = set(re.findall(r"[\w.]+", contract("areas-in-order")["layers"]))
    assert areas() - named == set()


def test_every_area_with_pages_or_rules_is_a_container_of_the_entry_point_layers() -> None:
    containers = set(contract("entry-points-on-top")["containers"].split())
    # core holds the bases of every area; demo and workflows are programs, not pages and rules
    exempt = {"reintegration_hub.core", "reintegration_hub.demo", "workflows"}
    assert areas() - exempt - containers == set()
