"""A private secured broker started by the project's own ``deploy/local/infra.sh`` (its
TLS material, SCRAM users and catalog ACLs), in a temporary state directory on free ports,
so the tests exercise exactly what ``make test`` and ``make demo`` run, without touching
the machine's shared broker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from counterflow_shared.settings import PlatformSettings
from counterflow_testkit import free_port

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "deploy" / "local" / "infra.sh"


@dataclass
class SecuredBroker:
    """A running broker of ``infra.sh``: where it listens and where its secrets are."""

    bootstrap: str
    state_dir: Path
    env: dict[str, str]

    @property
    def security_dir(self) -> Path:
        """``KAFKA_SECURITY_DIR`` of this broker (CA, passwords, client.env)."""
        return self.state_dir / "kafka-security"

    def settings(self, user: str, *, password: str | None = None, protocol: str = "SASL_SSL") -> PlatformSettings:
        """Client settings of Kafka user ``user`` (its generated password unless given)."""
        pw = password if password is not None else (self.security_dir / "passwords" / user).read_text().strip()
        return PlatformSettings(
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol=protocol,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=user,
            kafka_sasl_password=SecretStr(pw),
            kafka_ssl_cafile=str(self.security_dir / "ca.pem"),
        )


@pytest.fixture(scope="session")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    """``infra.sh start kafka`` with a private ``CF_STATE_DIR`` and ports; stopped at the end."""
    state = tmp_path_factory.mktemp("kafka-secured")
    port, controller = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CF_KAFKA_") or k == "CF_KAFKA_HOME"},
        "CF_STATE_DIR": str(state),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "CF_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
    }
    try:
        started = subprocess.run(["bash", str(INFRA), "start", "kafka"], env=env, capture_output=True, text=True, timeout=600)
        log = state / "logs" / "kafka.log"
        assert started.returncode == 0, started.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
        yield SecuredBroker(f"127.0.0.1:{port}", state, env)
    finally:
        subprocess.run(["bash", str(INFRA), "stop", "kafka"], env=env, capture_output=True, timeout=120)
