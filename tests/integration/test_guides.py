"""The integration guides stay true: the kiosk walkthrough (``docs/integration/kiosk.md``)
is run command by command, as an integrator would paste it, with ``curl`` and ``jq``
against a real ticketing process (its own PostgreSQL database, Kafka topics and Redis
prefix). Issue 19."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from counterflow_shared.testing import ServiceProcess, delete_redis_prefix, drop_database, fresh_topic_prefix, migrated_database

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "integration"


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a guide, in order (```text blocks are output, not commands)."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.S | re.M)


@pytest.fixture(scope="module")
def ticketing(infrastructure: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """Ticketing as its own process with the default signing settings (as under ``make up``)."""
    import asyncio

    import counterflow_ticketing

    prefixes = fresh_topic_prefix(infrastructure)
    topic_prefix = next(prefixes)
    redis_prefix = f"test:guides:{uuid.uuid4().hex[:8]}:"
    name, url = migrated_database(Path(counterflow_ticketing.__file__).parent, "guides_ticketing")
    env = {"CF_TICKETING_DATABASE_URL": url, "CF_TICKETING_TOPIC_PREFIX": topic_prefix, "CF_TICKETING_REDIS_PREFIX": redis_prefix, "CF_TICKETING_LOG_JSON": "false", "CF_TICKETING_LOG_LEVEL": "WARNING"}
    proc = ServiceProcess("counterflow_ticketing", env, port_env="CF_TICKETING_HTTP_PORT", log_path=tmp_path_factory.mktemp("guides") / "ticketing.log")
    try:
        yield proc.start(timeout_s=240)
    finally:
        proc.stop()
        asyncio.run(delete_redis_prefix(infrastructure.redis_url, redis_prefix))
        drop_database(name)
        next(prefixes, None)


def test_the_guide_has_commands() -> None:
    """The extraction finds the walkthrough (a guide without commands would pass vacuously)."""
    blocks = bash_blocks((GUIDES / "kiosk.md").read_text())
    assert len(blocks) >= 6
    assert any("/v1/kiosk/service-requests" in b for b in blocks)


def test_kiosk_walkthrough_runs_against_a_live_service(ticketing: ServiceProcess) -> None:
    script = "set -euo pipefail\n" + "\n".join(bash_blocks((GUIDES / "kiosk.md").read_text()))
    env = {**os.environ, "BASE": ticketing.url, "PY": sys.executable, "BRANCH": f"guide-{uuid.uuid4().hex[:6]}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{out}\nstderr:\n{done.stderr}"
    lines = out.splitlines()
    print(out)  # shown when an assertion below fails
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
