"""Prometheus metrics of every Counterflow process (prometheus-client, default registry).

Names follow the OpenTelemetry semantic conventions where one exists, translated the way
the OpenTelemetry Prometheus exporter does (dots to underscores, unit suffix, ``_total`` on
counters; https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/):

* ``http_server_request_duration_seconds`` (semconv ``http.server.request.duration``),
  ``http_server_active_requests``: :mod:`.http`;
* ``db_client_connection_*`` (semconv ``db.client.connection.*``): :mod:`.db`;
* ``messaging_client_sent_messages_total``, ``messaging_client_operation_duration_seconds``
  (semconv messaging metrics) and the Counterflow backbone metrics
  ``counterflow_outbox_*``, ``counterflow_consumer_*``, ``counterflow_broker_up``:
  :mod:`.backbone`;
* business gauges and counters: each service's own ``metrics`` module.

Label values are bounded: routes are templates, consumer groups and topics come from the
event catalog, branches and service types are configuration; never a customer, ticket or
device id. :mod:`.exposition` serves the registry at ``/metrics``.
"""
