"""Structured logging (structlog, JSON lines with trace ids) and OpenTelemetry tracing.

Exporters (``otel_exporter`` setting): ``none``; ``otlp`` (OTLP/HTTP to ``otel_endpoint``,
the collector of deploy/); ``file:<path>`` (one span per JSON line, appended; several
processes may share the file: tests follow a trace across services with it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

_configured = False


def _add_trace_ids(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span()
    ctx = span.get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Configure structlog for ``service`` and route every standard-library logger
    (uvicorn, aiokafka, SQLAlchemy, alembic...) through the same processors and renderer:
    one JSON object per line on stderr, with ``logger``, ``level``, ``timestamp``,
    ``service`` and, inside a span, ``trace_id``/``span_id``.

    structlog's own loggers print directly (no stdlib round trip on the hot path); the
    root logger gets one handler whose :class:`structlog.stdlib.ProcessorFormatter` renders
    foreign records. aiokafka and kafka are kept at WARNING (their INFO lines narrate
    every rebalance and reconnect).
    """
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*processors, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(), *processors],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []  # alembic's fileConfig and uvicorn's dictConfig add their own
        logger.propagate = True
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def configure_tracing(*, service: str, exporter: str = "none", endpoint: str = "http://127.0.0.1:4318") -> TracerProvider | None:
    """Install a global :class:`TracerProvider` for ``service`` (once per process).

    With ``exporter="none"`` no SDK provider is installed: the OpenTelemetry API's
    no-op tracer still carries an incoming ``traceparent`` through the request and into
    the events it writes, but records nothing, so spans cost next to no CPU (a recording
    provider without an exporter measured about a third of the CPU of issuing a ticket;
    ``bench/ticketing.py``).

    Returns:
        the provider, or ``None`` when tracing was already configured or is off.
    """
    global _configured
    if _configured or exporter == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    elif exporter.startswith("file:"):
        out = open(exporter.removeprefix("file:"), "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        provider.add_span_processor(
            SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n"))
        )
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def instrument_app(app: Any, engine: Any = None, *, statements: bool = True) -> None:
    """Trace FastAPI requests and, when ``statements``, SQLAlchemy statements and Redis
    commands (pointless without an exporter: they only cost CPU on every statement)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    if not statements:
        return
    if engine is not None:
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument()
