"""The four services start as separate processes and become ready (what `make up` does),
each on its own freshly migrated database, against the real broker, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from counterflow_shared.testing import ServiceProcess, drop_database, migrated_database

SERVICES = [
    ("ticketing", "counterflow_ticketing", "CF_TICKETING"),
    ("selfservice", "counterflow_selfservice", "CF_SELFSERVICE"),
    ("mobile-gateway", "counterflow_mobile_gateway", "CF_MOBILE"),
    ("scoring", "counterflow_scoring", "CF_SCORING"),
]


@pytest.fixture
def platform_processes(topic_prefix, tmp_path):  # noqa: ANN001, ANN201
    procs, dbs = [], []
    try:
        for name, module, env in SERVICES:
            pkg = __import__(module)
            db, url = migrated_database(Path(pkg.__file__).parent, name.replace("-", "_"))
            dbs.append(db)
            procs.append(
                (name, ServiceProcess(module, {f"{env}_DATABASE_URL": url, f"{env}_TOPIC_PREFIX": topic_prefix}, port_env=f"{env}_HTTP_PORT", log_path=tmp_path / f"{name}.log"))
            )
        for _, proc in procs:
            proc.start(timeout_s=90)
        yield procs
    finally:
        codes = {name: proc.stop() for name, proc in procs}
        for db in dbs:
            drop_database(db)
        # uvicorn finishes its graceful shutdown, then re-raises SIGTERM (exit status -15)
        assert all(code in (0, -15) for code in codes.values()), f"services did not stop on SIGTERM: {codes}"
        for name, proc in procs:
            assert "service.stopped" in proc.log_path.read_text(errors="replace"), f"{name} did not shut down gracefully"


def test_all_four_services_start_become_ready_and_stop_cleanly(platform_processes):
    for name, proc in platform_processes:
        ready = httpx.get(f"{proc.url}/readyz", timeout=10)
        assert ready.status_code == 200, (name, ready.text)
        checks = ready.json()["checks"]
        assert checks["database"]["ok"] and checks["broker"]["ok"], (name, checks)
        assert httpx.get(f"{proc.url}/healthz", timeout=5).json() == {"status": "ok"}
        spec = httpx.get(f"{proc.url}/openapi.json", timeout=10).json()
        assert any(path.startswith("/v1/") for path in spec["paths"]), f"{name} exposes no /v1 API"
