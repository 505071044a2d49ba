"""The integration guides stay true: the kiosk walkthrough (``docs/integration/kiosk.md``)
and the device walkthrough (``device.md``) are run command by command, as an integrator
would paste them, with ``curl`` and ``jq`` against real ticketing and selfservice processes
(each with its own PostgreSQL database, Kafka topics and Redis prefix). Issue 19."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from counterflow_testkit import ServiceProcess, delete_redis_prefix, drop_database, fresh_topic_prefix, migrated_database

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "integration"


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a guide, in order (```text blocks are output, not commands)."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.S | re.M)


def _service(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory, package: Any, env_prefix: str) -> Iterator[ServiceProcess]:
    """``package``'s service as its own process with the default signing settings (as
    under ``make up``), on its own database, topics and Redis prefix."""
    import asyncio

    module = package.__name__
    prefixes = fresh_topic_prefix(infrastructure)
    topic_prefix = next(prefixes)
    redis_prefix = f"test:guides:{uuid.uuid4().hex[:8]}:"
    name, url = migrated_database(Path(package.__file__).parent, f"guides_{module.removeprefix('counterflow_')}")
    env = {f"{env_prefix}_{k}": v for k, v in {"DATABASE_URL": url, "TOPIC_PREFIX": topic_prefix, "REDIS_PREFIX": redis_prefix, "LOG_JSON": "false", "LOG_LEVEL": "WARNING"}.items()}
    proc = ServiceProcess(module, env, port_env=f"{env_prefix}_HTTP_PORT", log_path=tmp_path_factory.mktemp("guides") / f"{module}.log")
    try:
        yield proc.start(timeout_s=240)
    finally:
        proc.stop()
        asyncio.run(delete_redis_prefix(infrastructure.redis_url, redis_prefix))
        drop_database(name)
        next(prefixes, None)


@pytest.fixture(scope="module")
def ticketing(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """Ticketing as its own process."""
    import counterflow_ticketing

    yield from _service(infrastructure, tmp_path_factory, counterflow_ticketing, "CF_TICKETING")


@pytest.fixture(scope="module")
def selfservice(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """Selfservice as its own process."""
    import counterflow_selfservice

    yield from _service(infrastructure, tmp_path_factory, counterflow_selfservice, "CF_SELFSERVICE")


def run_guide(guide: str, base: str) -> list[str]:
    """Run every ```bash block of ``guide`` in one shell (``set -euo pipefail``) against
    ``base``; returns the lines it printed (the test fails on a non-zero exit)."""
    script = "set -euo pipefail\n" + "\n".join(bash_blocks((GUIDES / guide).read_text()))
    env = {**os.environ, "BASE": base, "PY": sys.executable, "BRANCH": f"guide-{uuid.uuid4().hex[:6]}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    print(done.stdout)  # shown when an assertion of the caller fails
    return done.stdout.splitlines()


def test_the_guide_has_commands() -> None:
    """The extraction finds the walkthrough (a guide without commands would pass vacuously)."""
    blocks = bash_blocks((GUIDES / "kiosk.md").read_text())
    assert len(blocks) >= 6
    assert any("/v1/kiosk/service-requests" in b for b in blocks)
    assert any("/v1/device/transactions" in b for b in bash_blocks((GUIDES / "device.md").read_text()))


def test_kiosk_walkthrough_runs_against_a_live_service(ticketing: ServiceProcess) -> None:
    lines = run_guide("kiosk.md", ticketing.url)
    assert '{"status":"ok"}' in lines  # healthz
    assert "401" in lines  # wrong secret
    # no counter was open when the ticket was issued: its wait is unknown (null), not 0
    issued = next(line for line in lines if line.startswith('{"kind":'))
    assert re.fullmatch(r'\{"kind":"ticket","number":"D\d{3}","position":1,"estimated_wait_s":null\}', issued), issued
    number = re.search(r'"number":"(D\d{3})"', issued).group(1)
    assert "same ticket on retry" in lines
    assert '{"status":422,"errors":[{"field":"body.currency","message":"required with amount"}]}' in lines
    assert f'{{"number":"{number}","status":"waiting","position":1}}' in lines
    assert f'{{"number":"{number}","status":"called"}}' in lines
    assert "event: call" in lines
    call = next(line for line in lines if line.startswith("data: {"))
    assert f'"number": "{number}"' in call and '"call_count": 1,' in call and '"recall": false' in call


def test_device_walkthrough_runs_against_a_live_service(selfservice: ServiceProcess) -> None:
    lines = run_guide("device.md", selfservice.url)
    heartbeat = json.loads(lines[0])
    assert heartbeat["status"] == "online" and "cash_withdrawal" in heartbeat["available_service_types"], heartbeat
    assert lines[1:3] == ["201", "200"]  # reported, then the same transaction again
    assert json.loads(lines[3])["status"] == "online"
