"""The repository keeps its shape: every service has the same rooms, and no service
imports another (they share only counterflow_shared)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "ticketing": "counterflow_ticketing",
    "selfservice": "counterflow_selfservice",
    "mobile-gateway": "counterflow_mobile_gateway",
    "scoring": "counterflow_scoring",
}
ROOMS = ["api", "domain", "persistence", "events", "migrations", "settings.py", "main.py", "cli.py"]


def test_top_level_layout():
    for path in ["services", "shared", "deploy", "tests", "docs", "README.md", "Makefile", ".ci/run", "uv.lock"]:
        assert (ROOT / path).exists(), path
    assert sorted(p.name for p in (ROOT / "services").iterdir() if p.is_dir()) == sorted(SERVICES)


@pytest.mark.parametrize("service,package", SERVICES.items())
def test_every_service_has_the_same_rooms(service, package):
    base = ROOT / "services" / service
    assert (base / "pyproject.toml").is_file() and (base / "tests").is_dir()
    for room in ROOMS:
        assert (base / "src" / package / room).exists(), f"{service} lacks {room}"


@pytest.mark.parametrize("service,package", SERVICES.items())
def test_no_service_imports_another(service, package):
    others = {p for p in SERVICES.values() if p != package}
    offenders = []
    for file in (ROOT / "services" / service).rglob("*.py"):
        tree = ast.parse(file.read_text(), filename=str(file))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{file.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in others]
    assert not offenders, offenders


def test_shared_imports_no_service():
    for file in (ROOT / "shared" / "src").rglob("*.py"):
        text = file.read_text()
        for package in SERVICES.values():
            assert f"import {package}" not in text and f"from {package}" not in text, f"{file} imports {package}"
