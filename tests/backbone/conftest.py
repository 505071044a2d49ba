"""Fixtures of the backbone tests: probe databases, probe processes, a consumer of the
dead-letter topic."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from counterflow_testkit import ServiceProcess, drop_database, migrated_database

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import probe  # noqa: E402


class ProbeDatabases:
    """Create migrated probe databases and drop them at teardown."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self, label: str) -> str:
        name, url = migrated_database(Path(probe.__file__).parent, f"probe_{label}")
        self.names.append(name)
        return url

    def drop_all(self) -> None:
        for name in self.names:
            drop_database(name)


@pytest.fixture
def probe_dbs(infrastructure) -> Iterator[ProbeDatabases]:  # noqa: ANN001
    """Fresh migrated databases for probe processes."""
    dbs = ProbeDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture
def probe_process(tmp_path: Path) -> Iterator:
    """Factory of probe processes (``serve`` with HTTP, or ``worker``), all stopped at the end."""
    started: list[ServiceProcess] = []

    def start(*, role: str, database_url: str, bootstrap: str, prefix: str, extra: dict[str, str] | None = None, wait: bool = True) -> ServiceProcess:
        env = {
            "PYTHONPATH": f"{HERE}:{__import__('os').environ.get('PYTHONPATH', '')}",
            "CF_PROBE_ROLE": role,
            "CF_PROBE_DATABASE_URL": database_url,
            "CF_PROBE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CF_PROBE_TOPIC_PREFIX": prefix,
            "CF_PROBE_KAFKA_REQUEST_TIMEOUT_S": "3",
            "CF_PROBE_LOG_JSON": "true",
            **(extra or {}),
        }
        proc = ServiceProcess("probe", env, port_env="CF_PROBE_HTTP_PORT", log_path=tmp_path / f"probe-{role}-{len(started)}.log")
        started.append(proc)
        if wait:
            proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop(sig=9, timeout_s=5)
