"""How every Kafka client of the platform authenticates: the one place (ADR 0215).

Every ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and ``AIOKafkaAdminClient`` of the
services, the tools, the tests and the benchmarks is built with ``**client_options(...)``.
The options come from the ``kafka_security_protocol``, ``kafka_sasl_*`` and
``kafka_ssl_cafile`` settings (:class:`~counterflow_shared.settings.PlatformSettings`,
variables ``CF_KAFKA_*``, or a service's own ``CF_<SERVICE>_KAFKA_*``), so a process talks
TLS + SCRAM-SHA-512 as soon as its environment says so, with no code path left plaintext.

Library facts (aiokafka 0.14): SASL/SCRAM needs ``security_protocol`` ``SASL_SSL`` or
``SASL_PLAINTEXT`` and ``sasl_plain_username``/``sasl_plain_password`` (the names are
those of PLAIN, also used for SCRAM); TLS needs an ``ssl.SSLContext``
(:func:`aiokafka.helpers.create_ssl_context`), which verifies the broker's certificate and
host name against the CA file.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

from aiokafka.helpers import create_ssl_context

from counterflow_shared.settings import PlatformSettings, ServiceSettings, platform_settings


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete (e.g. SASL without a user name)."""


@lru_cache(maxsize=8)
def _ssl_context(cafile: str) -> ssl.SSLContext:
    """A client TLS context trusting ``cafile`` (PEM), or the system's CA store when empty;
    host names are checked. Cached: building one reads and parses the CA file."""
    return create_ssl_context(cafile=cafile or None)


def client_options(settings: PlatformSettings | ServiceSettings | None = None) -> dict[str, Any]:
    """The aiokafka keyword arguments that authenticate a client.

    Args:
        settings: a service's settings (its own Kafka user) or the platform's; ``None``
            reads :class:`PlatformSettings` from the environment now (tools and tests).

    Returns:
        ``{"security_protocol": ...}`` plus ``ssl_context`` for ``SSL``/``SASL_SSL`` and
        ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password`` for SASL.

    Raises:
        KafkaSecurityError: SASL is asked for without a user name or password.
    """
    s = settings if settings is not None else platform_settings()
    protocol = s.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(s.kafka_ssl_cafile)
    if protocol.startswith("SASL_"):
        password = s.kafka_sasl_password.get_secret_value()
        if not s.kafka_sasl_username or not password:
            raise KafkaSecurityError(f"kafka_security_protocol={protocol} needs kafka_sasl_username and kafka_sasl_password")
        options.update(sasl_mechanism=s.kafka_sasl_mechanism, sasl_plain_username=s.kafka_sasl_username, sasl_plain_password=password)
    return options


def principal(settings: PlatformSettings | ServiceSettings | None = None) -> str:
    """The Kafka principal these settings authenticate as (``User:<name>``; ``User:ANONYMOUS``
    without SASL), for logs and error messages."""
    s = settings if settings is not None else platform_settings()
    return f"User:{s.kafka_sasl_username}" if s.kafka_security_protocol.startswith("SASL_") else "User:ANONYMOUS"


def client_env(settings: PlatformSettings | ServiceSettings | None = None) -> dict[str, str]:
    """The ``CF_KAFKA_*`` variables that give a child process the same Kafka
    authentication (for tests and tools that start processes with a filtered environment).

    Returns:
        variable name -> value; empty values are left out.
    """
    s = settings if settings is not None else platform_settings()
    env = {
        "CF_KAFKA_SECURITY_PROTOCOL": s.kafka_security_protocol,
        "CF_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism,
        "CF_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
        "CF_KAFKA_SASL_PASSWORD": s.kafka_sasl_password.get_secret_value(),
        "CF_KAFKA_SSL_CAFILE": s.kafka_ssl_cafile,
    }
    return {k: v for k, v in env.items() if v}
