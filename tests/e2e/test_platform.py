"""The four services start as separate processes and become ready (what `make up` does),
each on its own freshly migrated database, against the real broker, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import json
import time
import uuid

import httpx
import pytest

from counterflow_testkit import ServiceProcess, drop_database, migrated_database, sample_value, scrape
from counterflow_shared.devidp import issue_staff_token

SERVICES = [
    ("ticketing", "counterflow_ticketing", "CF_TICKETING"),
    ("selfservice", "counterflow_selfservice", "CF_SELFSERVICE"),
    ("mobile-gateway", "counterflow_mobile_gateway", "CF_MOBILE"),
    ("scoring", "counterflow_scoring", "CF_SCORING"),
]


#: Four processes start one after the other; on a loaded 2-core machine that alone can
#: take minutes (the default per-test timeout is 300 s).
pytestmark = pytest.mark.timeout(1500)


@pytest.fixture(scope="module")
def platform_processes(topic_prefix, tmp_path_factory):  # noqa: ANN001, ANN201
    """The four services as processes, shared by this module's tests; at the end they must
    stop cleanly on SIGTERM."""
    tmp_path = tmp_path_factory.mktemp("platform")
    procs, dbs = [], []
    try:
        for name, module, env in SERVICES:
            pkg = __import__(module)
            db, url = migrated_database(Path(pkg.__file__).parent, name.replace("-", "_"))
            dbs.append(db)
            extra = {f"{env}_METRICS_SAMPLE_INTERVAL_S": "1"}
            if name == "ticketing":  # recording spans, to a file the trace test reads
                extra[f"{env}_OTEL_EXPORTER"] = f"file:{tmp_path / 'spans.jsonl'}"
            procs.append(
                (name, ServiceProcess(module, {f"{env}_DATABASE_URL": url, f"{env}_TOPIC_PREFIX": topic_prefix, **extra}, port_env=f"{env}_HTTP_PORT", log_path=tmp_path / f"{name}.log"))
            )
        for _, proc in procs:
            proc.start(timeout_s=240)
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
        # the broker check is advisory (cached 2 s, 2 s bound): on a loaded machine one
        # probe may time out; the broker must answer within a few probes
        checks = _eventually(lambda proc=proc: (c := httpx.get(f"{proc.url}/readyz", timeout=10).json()["checks"])["broker"]["ok"] and c, timeout_s=30) or ready.json()["checks"]
        assert checks["database"]["ok"] and checks["broker"]["ok"], (name, checks)
        assert httpx.get(f"{proc.url}/healthz", timeout=5).json() == {"status": "ok"}
        spec = httpx.get(f"{proc.url}/openapi.json", timeout=10).json()
        assert any(path.startswith("/v1/") for path in spec["paths"]), f"{name} exposes no /v1 API"


#: What every service exports (issue 20): HTTP by route template and status, the outbox,
#: the relay, its consumer group, the database pool and the readiness checks.
COMMON_METRICS = (
    "http_server_request_duration_seconds_bucket",
    "http_server_active_requests",
    "counterflow_outbox_pending_rows",
    "counterflow_outbox_oldest_pending_age_seconds",
    "messaging_client_sent_messages_total",
    "messaging_client_operation_duration_seconds_bucket",
    "counterflow_consumer_events_total",
    "counterflow_consumer_lag_records",
    "counterflow_broker_up",
    "db_client_connection_count",
    "db_client_connection_max",
    "db_client_connection_pending_requests",
    "db_client_connection_wait_time_seconds_bucket",
    "db_client_connection_timeouts_total",
    "counterflow_readiness_check_up",
)
BUSINESS_METRICS = {
    "ticketing": ("counterflow_queue_waiting_tickets", "counterflow_queue_estimated_wait_seconds", "counterflow_branch_sla_share", "counterflow_branch_sla_target_seconds", "counterflow_branch_walkouts", "counterflow_diversions_total"),
    "selfservice": ("counterflow_devices", "counterflow_devices_cash_out_within_horizon", "counterflow_devices_cash_out_horizon_seconds"),
}


def _eventually(predicate, timeout_s: float = 30.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def _open_branch(base: str) -> str:
    """A branch with two services in ticketing (as an operations user), so the branch gauges have series."""
    branch_id = f"b-{uuid.uuid4().hex[:10]}"
    token = issue_staff_token(subject="ops", role="operations", branches=[branch_id])
    body = {
        "name": "Metrics branch",
        "time_zone": "Europe/Prague",
        "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
        "zones": [{"zone": "cash", "name": "Cash"}],
        "services": ["cash_withdrawal", "transfer"],
    }
    r = httpx.put(f"{base}/v1/branches/{branch_id}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return branch_id


def test_every_service_exports_its_metrics_by_route_template(platform_processes):
    procs = dict(platform_processes)
    branch_id = _open_branch(procs["ticketing"].url)
    for name, proc in platform_processes:
        assert httpx.get(f"{proc.url}/v1/no-such-route/123", timeout=5).status_code == 404
        samples = _eventually(lambda proc=proc, name=name: (s := scrape(proc.url)) and sample_value(s, "counterflow_outbox_pending_rows", service=name) is not None and s.get("counterflow_consumer_lag_records") and s)
        # a labelled metric with no series yet is declared under its family name (no _total, _bucket)
        missing = [m for m in COMMON_METRICS + BUSINESS_METRICS.get(name, ()) if not {m, m.removesuffix("_total"), m.removesuffix("_bucket")} & set(samples)]
        assert not missing, f"{name} does not export {missing}"
        assert sample_value(samples, "http_server_request_duration_seconds_count", http_request_method="GET", http_route="/readyz", http_response_status_code="200") >= 1, name
        # an unmatched path is counted without its ids in the label
        assert sample_value(samples, "http_server_request_duration_seconds_count", http_route="", http_response_status_code="404") >= 1, name
        assert not any("123" in labels.get("http_route", "") for labels, _ in samples["http_server_request_duration_seconds_count"])
        assert sample_value(samples, "db_client_connection_max", db_client_connection_pool_name=name) >= 1, name
        assert sample_value(samples, "counterflow_broker_up", service=name, component="relay") == 1, name
        group = name
        assert sample_value(samples, "counterflow_consumer_events_total", service=name, consumer_group=group, outcome="handled") is not None, name
        assert all(labels["consumer_group"] == group and labels["partition"].isdigit() for labels, _ in samples["counterflow_consumer_lag_records"]), name
    samples = _eventually(lambda: (s := scrape(procs["ticketing"].url)) and sample_value(s, "counterflow_queue_waiting_tickets", branch=branch_id, service_type="transfer") is not None and s)
    assert sample_value(samples, "counterflow_queue_waiting_tickets", branch=branch_id, service_type="cash_withdrawal") == 0
    assert sample_value(samples, "counterflow_branch_sla_target_seconds") == 600
    assert sample_value(samples, "counterflow_branch_walkouts", branch=branch_id) == 0


def test_access_log_line_carries_the_trace_id_of_the_request_span(platform_processes):
    """The request's server span continues the caller's W3C trace context (a kiosk or the
    mobile app sends ``traceparent``); the access log line of the request carries the
    span's trace id (ticketing runs with a recording provider writing spans to a file)."""
    ticketing = dict(platform_processes)["ticketing"]
    spans_file = ticketing.log_path.parent / "spans.jsonl"
    trace_id = uuid.uuid4().hex
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    r = httpx.get(f"{ticketing.url}/v1/branches/b-none", headers=headers, timeout=10)
    other = httpx.get(f"{ticketing.url}/v1/service-types", timeout=10)

    def access_lines() -> dict[str, dict]:
        found = {}
        for line in ticketing.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"http.request"' in line:
                entry = json.loads(line)
                found[entry["path"]] = entry
        return found if {"/v1/branches/b-none", "/v1/service-types"} <= set(found) else {}

    lines = _eventually(access_lines, timeout_s=10)
    assert lines, "no access log lines for the requests"
    entry = lines["/v1/branches/b-none"]
    assert entry["route"] == "/v1/branches/{branch_id}" and entry["status"] == r.status_code and entry["method"] == "GET"
    assert entry["duration_ms"] > 0 and entry["service"] == "ticketing" and entry["level"] in {"info", "warning"}
    assert entry["trace_id"] == trace_id

    def server_span() -> dict | None:
        for line in spans_file.read_text().splitlines() if spans_file.exists() else []:
            span = json.loads(line)
            if span["kind"] == "SpanKind.SERVER" and span["context"]["trace_id"] == f"0x{trace_id}":
                return span
        return None

    span = _eventually(server_span, timeout_s=10)
    assert span and span["attributes"].get("http.route") == "/v1/branches/{branch_id}", "no server span of the request in its trace"
    assert lines["/v1/service-types"]["status"] == other.status_code and lines["/v1/service-types"].get("trace_id") != trace_id
    # every line of the log is JSON, the standard-library loggers' (uvicorn) included
    log_lines = [line for line in ticketing.log_path.read_text(errors="replace").splitlines() if line.strip()]
    assert all(line.startswith("{") for line in log_lines), [line for line in log_lines if not line.startswith("{")][:3]
    assert any(json.loads(line).get("logger", "").startswith("uvicorn") for line in log_lines)
