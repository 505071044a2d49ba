"""Settings common to every Counterflow process (pydantic-settings).

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``CF_TICKETING_``, ``CF_SELFSERVICE_``, ``CF_MOBILE_``, ``CF_SCORING_``), so one
environment can carry the settings of several services without collisions. Values
that every process on a machine shares (the broker address, the Redis URL, the
topic prefix) may also be given once without the service prefix through
:class:`PlatformSettings` (prefix ``CF_``); the service-prefixed value wins.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from counterflow_shared.clock import default_clock_key

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class PlatformSettings(BaseSettings):
    """Machine-wide defaults read from ``CF_*`` variables.

    Attributes:
        kafka_bootstrap_servers: comma-separated ``host:port`` list of Kafka brokers.
        redis_url: ``redis://host:port/db`` URL.
        topic_prefix: prepended to every topic name (``""`` in production; tests use a
            random prefix so that runs never see each other's events).
        postgres_dsn_template: SQLAlchemy URL with a ``{database}`` placeholder, used to
            derive each service's default database URL.
        otel_exporter: ``none``, ``otlp`` (to ``otel_endpoint``) or ``file:<path>``
            (JSON lines, one span per line; used by tests to follow one trace across
            processes).
        clock: where the services' domain "now" comes from: ``system`` (the machine's
            clock, the default) or ``redis`` (a simulated clock a driver such as the
            replay writes to ``clock_key``; see :mod:`counterflow_shared.clock`).
        clock_key: Redis key of the simulated clock (default
            ``<topic_prefix>counterflow:clock``).
        jwt_jwks_url / jwt_issuer: the staff identity provider's key set (``https://`` or,
            locally, ``file://``; default: the development provider's JWKS file,
            :mod:`counterflow_shared.devidp`) and its ``iss``.
        docs_enabled: serve ``/docs`` and ``/openapi.json`` (``CF_DOCS_ENABLED=false`` in
            the prod overlay).
        kafka_security_protocol / kafka_sasl_mechanism / kafka_sasl_username /
            kafka_sasl_password / kafka_ssl_cafile: how Kafka clients authenticate
            (ADR 0215): ``SASL_SSL`` with ``SCRAM-SHA-512`` against the local broker and
            Strimzi, ``PLAINTEXT`` only against an unsecured development broker; the CA
            file (PEM) verifies the broker's certificate. Every Kafka client takes them
            through :func:`counterflow_shared.events.security.client_options`.
    """

    model_config = SettingsConfigDict(env_prefix="CF_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    redis_url: str = "redis://127.0.0.1:56379/0"
    topic_prefix: str = ""
    postgres_dsn_template: str = "postgresql+asyncpg://counterflow:counterflow@127.0.0.1:55432/{database}"
    otel_exporter: str = "none"
    otel_endpoint: str = "http://127.0.0.1:4318"
    log_level: str = "INFO"
    log_json: bool = True
    clock: Literal["system", "redis"] = "system"
    clock_key: str = ""
    jwt_jwks_url: str = Field(default_factory=lambda: _dev_jwks_url())
    jwt_issuer: str = "counterflow-dev-idp"
    docs_enabled: bool = True
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""


def _dev_jwks_url() -> str:
    from counterflow_shared.devidp import jwks_url

    return jwks_url()


def platform_settings() -> PlatformSettings:
    """Read :class:`PlatformSettings` from the environment (no caching: tests change it)."""
    return PlatformSettings()


class ServiceSettings(BaseSettings):
    """Base settings of one service process; subclass and set ``env_prefix``.

    Attributes:
        service_name: CloudEvents ``source`` and OpenTelemetry ``service.name``.
        database_url: SQLAlchemy async URL of the service's own database.
        kafka_bootstrap_servers / redis_url / topic_prefix: see :class:`PlatformSettings`.
        kafka_security_protocol / kafka_sasl_mechanism / kafka_sasl_username /
            kafka_sasl_password / kafka_ssl_cafile: see :class:`PlatformSettings`; a
            service is given its own Kafka user with its prefix (e.g.
            ``CF_TICKETING_KAFKA_SASL_USERNAME``), which wins over the machine-wide one.
        db_pool_size: database connections per process (ADR 0152: a few; a request holds
            one for two round trips, so 5 connections carry thousands of requests/s).
        db_max_overflow: extra connections opened under a burst (closed when returned).
        db_pool_timeout_s: longest wait for a database connection (seconds, at most 1)
            before a 503 with ``Retry-After``.
        db_pool_recycle_s: connections older than this are replaced (seconds; instead of
            a pre-ping round trip on every checkout).
        db_connect_timeout_s: longest wait for a new database connection to open (seconds).
        max_in_flight: HTTP requests handled at once by one process; one more is refused
            at once with 503 + ``Retry-After`` (ADR 0152) instead of queueing into timeouts.
        outbox_sent_retention_s: seconds sent outbox rows are kept for inspection before
            the retention loop deletes them (default 1 h; 0: the relay deletes them as soon
            as the broker acknowledged them).
        processed_events_retention_s: seconds a consumer remembers an event id; must exceed
            the topics' retention (Kafka's default ``retention.ms`` is 7 days) so a
            redelivery from the log is always recognised. Default 8 days.
        idempotency_retention_s: seconds an ``Idempotency-Key`` and its response are kept
            (at least 24 h, the IETF Idempotency-Key draft's suggestion). Default 48 h.
        decision_retention_days: days decision records (``rule_decisions``, audit data)
            are kept before the retention loop deletes them. Default 3,653 (ten years: the
            longest record-keeping period EU banking rules commonly ask for, e.g. AMLD
            art. 40 keeps five years and extends to ten).
        retention_interval_s: how often the retention loop runs (seconds).
        redis_max_connections / redis_pool_timeout_s: Redis pool size, and the longest
            wait for a connection (seconds).
        http_host / http_port: where uvicorn listens.
        http_max_body_bytes: request body limit (bytes) of routes that declare none
            (:mod:`counterflow_shared.web.edge`); longer bodies are a 413.
        embedded_workers: run the outbox relay and the event consumers inside the API
            process (the local default); on Kubernetes the API and the workers run as
            separate Deployments and this is ``False`` for the API.
        relay_poll_interval_s: fallback outbox poll when no notification arrives (seconds,
            at most 1; commits wake the relay through LISTEN/NOTIFY).
        relay_batch_size: outbox rows published per round trip.
        kafka_request_timeout_s: bound on any single broker call, so that nothing hangs
            while the broker is down (seconds).
        consumer_max_retries: handler attempts before an event goes to the dead-letter topic.
        consumer_retry_backoff_s: first retry delay, doubled on each retry (seconds).
        consumer_batch_size: consecutive records of a partition applied in one database
            transaction (each still deduplicated; a failure falls back to one by one).
        shutdown_grace_s: time allowed to finish the in-flight event on SIGTERM (seconds).
        readmodel_check_s: how often a process checks that its Redis read models are
            still there (one pipelined ``EXISTS`` of their markers; seconds).
        readmodel_wait_s: how long a decision waits for a lost read model's rebuild
            before answering 503 with ``Retry-After`` (seconds; under the 1 s answer bound).
        jwt_jwks_url / jwt_issuer: staff token verification keys and issuer (see
            :class:`PlatformSettings`; asymmetric keys only, :mod:`counterflow_shared.web.tokens`).
        jwt_audience: this service's own ``aud`` (default ``counterflow-<service_name>``),
            so a token issued for one service is refused by the others.
        jwks_cache_s: seconds a fetched key set is reused (a key the provider removes stops
            verifying within this time).
        jwks_refresh_cooldown_s: least seconds between refetches caused by an unknown
            ``kid`` (a rotated-in key is fetched at its first token, after at most this).
        session_secret: HMAC key of the pages' CSRF tokens
            (:mod:`counterflow_shared.web.session`); from a Secret in a cluster.
        docs_enabled: serve ``/docs`` and ``/openapi.json`` (off in the prod overlay).
        clock / clock_key: see :class:`PlatformSettings` (the key defaults to the one
            under this service's own ``topic_prefix``).
        metrics_port: port of the ``/metrics`` listener of a worker process (an API
            process serves ``/metrics`` on its HTTP port); 0 turns it off.
        metrics_sample_interval_s: seconds between samples of the gauges read from the
            database (outbox backlog, business gauges).
    """

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    service_name: str = "counterflow"
    database_name: str = "counterflow"
    database_url: str = ""
    kafka_bootstrap_servers: str = Field(default_factory=lambda: platform_settings().kafka_bootstrap_servers)
    redis_url: str = Field(default_factory=lambda: platform_settings().redis_url)
    topic_prefix: str = Field(default_factory=lambda: platform_settings().topic_prefix)
    kafka_security_protocol: KafkaSecurityProtocol = Field(default_factory=lambda: platform_settings().kafka_security_protocol)
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(default_factory=lambda: platform_settings().kafka_sasl_mechanism)
    kafka_sasl_username: str = Field(default_factory=lambda: platform_settings().kafka_sasl_username)
    kafka_sasl_password: SecretStr = Field(default_factory=lambda: platform_settings().kafka_sasl_password)
    kafka_ssl_cafile: str = Field(default_factory=lambda: platform_settings().kafka_ssl_cafile)
    otel_exporter: str = Field(default_factory=lambda: platform_settings().otel_exporter)
    otel_endpoint: str = Field(default_factory=lambda: platform_settings().otel_endpoint)
    log_level: str = Field(default_factory=lambda: platform_settings().log_level)
    log_json: bool = Field(default_factory=lambda: platform_settings().log_json)
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_pool_timeout_s: float = Field(default=1.0, gt=0, le=1.0)
    db_pool_recycle_s: float = 1800.0
    db_connect_timeout_s: float = 3.0
    max_in_flight: int = 64
    outbox_sent_retention_s: float = 3600.0
    processed_events_retention_s: float = 8 * 86400.0
    idempotency_retention_s: float = Field(default=48 * 3600.0, ge=24 * 3600.0)
    decision_retention_days: int = 3653
    retention_interval_s: float = 300.0
    redis_max_connections: int = 200
    redis_pool_timeout_s: float = 5.0
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_max_body_bytes: int = 64 * 1024
    embedded_workers: bool = True
    relay_poll_interval_s: float = Field(default=1.0, gt=0, le=1.0)
    relay_batch_size: int = 500
    kafka_request_timeout_s: float = 5.0
    consumer_max_retries: int = 3
    consumer_retry_backoff_s: float = 0.2
    consumer_batch_size: int = 50
    shutdown_grace_s: float = 8.0
    readmodel_check_s: float = 1.0
    readmodel_wait_s: float = 0.8
    jwt_jwks_url: str = Field(default_factory=lambda: platform_settings().jwt_jwks_url)
    jwt_issuer: str = Field(default_factory=lambda: platform_settings().jwt_issuer)
    jwt_audience: str = ""
    jwks_cache_s: float = Field(default=300.0, gt=0)
    jwks_refresh_cooldown_s: float = Field(default=5.0, ge=0)
    session_secret: str = "dev-only-session-secret-change-me-0123456789"
    docs_enabled: bool = Field(default_factory=lambda: platform_settings().docs_enabled)
    #: pages: offer the development sign-in (pick a role and branches; the development
    #: identity provider, :mod:`counterflow_shared.devidp`, signs the staff token). Never on
    #: in production (there is no signing key there): ``make up`` turns it on.
    dev_sign_in: bool = False
    clock: Literal["system", "redis"] = Field(default_factory=lambda: platform_settings().clock)
    clock_key: str = Field(default_factory=lambda: platform_settings().clock_key)
    metrics_port: int = 9464
    metrics_sample_interval_s: float = 10.0

    def model_post_init(self, __context: object) -> None:  # noqa: D401 - pydantic hook
        """Derive ``database_url`` from the platform template and ``clock_key`` from the
        topic prefix when they are not given."""
        if not self.database_url:
            self.database_url = platform_settings().postgres_dsn_template.format(database=self.database_name)
        if not self.clock_key:
            self.clock_key = default_clock_key(self.topic_prefix)
        if not self.jwt_audience:
            self.jwt_audience = f"counterflow-{self.service_name}"

    def topic(self, name: str) -> str:
        """Return the broker-side name of catalog topic ``name`` (with the prefix)."""
        return f"{self.topic_prefix}{name}"
