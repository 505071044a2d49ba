"""The two statements of a kiosk service request (ADR 0150): one read, one write.

Both run on an autocommit connection, so each is its own transaction and costs exactly
one round trip: no ``BEGIN`` / ``COMMIT`` and no pool pre-ping.

* :data:`READ` gathers everything the request decides on: the kiosk (its credentials are
  checked against this row, so a re-keyed or deactivated kiosk is refused at once), its
  branch and the catalog row
  of the service type it offers, the open counters with their tellers, the counters busy
  with a ticket, the learned service times (mean and mean square), the skill's delay
  history (head-of-line queued-at, last-to-enter-service wait) and the branch's learned
  wait model, the waiting tickets of the branch's current
  business day per skill, the waiting tickets of the requested skill as ``(urgent count, non-urgent due dates)`` (for the
  position of a priority ticket), the counters with a live session (routing) and, when the
  request carries an ``Idempotency-Key``, the stored answer for it.
* :func:`ticket_write` is one statement of data-modifying CTEs: the sequence upsert (the
  row lock serialises concurrent requests of one branch, day and prefix until the
  statement's transaction commits, so a number is never given twice), the ticket, its
  outbox row, the decision record and the Idempotency-Key record. The display number is
  only known inside the statement, so the outbox value and the stored answer carry a
  placeholder token that the statement replaces with the number. The outbox insert fires
  the ``NOTIFY`` trigger (:func:`counterflow_shared.events.outbox.notify_trigger_ddl`).
  If any part fails (an Idempotency-Key taken by a concurrent twin), the whole statement
  rolls back, the sequence increment with it.
* :func:`offer_write` does the same for a diversion offer (no number).

All parameters are cast in the SQL text: in ``INSERT .. SELECT`` PostgreSQL would
otherwise type untyped parameters as ``text``.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

#: the read of a kiosk request. Parameters: ``kiosk_id``, ``service_type``, ``now``
#: (aware), ``guard_s`` (the ageing guard), ``scope`` / ``key`` (Idempotency-Key; ``key``
#: may be null).
READ: TextClause = text(
    """
SELECT
  k.active AS kiosk_active, k.secret_hash, k.branch_id AS kiosk_branch_id,
  b.active, b.time_zone, b.max_wait_s, b.closed_days::text AS closed_days,
  st.service_type, st.prefix, st.skill, st.default_service_s, st.zone,
  (SELECT coalesce(json_agg(json_build_array(c.counter_id, c.skills, s.teller_id, c.kind, c.zone, s.status)), '[]'::json)
     FROM counters c JOIN teller_sessions s ON s.counter_id = c.counter_id
    WHERE c.branch_id = b.branch_id AND c.active AND s.status <> 'closed')::text AS live,
  (SELECT coalesce(json_agg(t.counter_id), '[]'::json) FROM tickets t
    WHERE t.branch_id = b.branch_id AND t.status IN ('called', 'serving'))::text AS busy,
  (SELECT coalesce(json_agg(json_build_array(l.service_type, l.teller_id, l.served, l.mean_s, l.mean_sq_s)), '[]'::json)
     FROM service_time_stats l WHERE l.branch_id = b.branch_id)::text AS learned,
  (SELECT extract(epoch FROM min(t.queued_at)) FROM tickets t
    WHERE t.branch_id = b.branch_id AND t.business_date = d.today AND t.status = 'waiting' AND t.skill = st.skill) AS head_of_line_epoch,
  (SELECT extract(epoch FROM t.called_at - t.queued_at) FROM tickets t
    WHERE t.branch_id = b.branch_id AND t.status IN ('called', 'serving') AND t.skill = st.skill AND t.called_at IS NOT NULL
    ORDER BY t.called_at DESC LIMIT 1) AS last_entered_s,
  (SELECT m.state::text FROM wait_models m WHERE m.branch_id = b.branch_id) AS wait_model,
  (SELECT coalesce(json_object_agg(w.skill, w.n), '{}'::json) FROM
     (SELECT t.skill, count(*) AS n FROM tickets t
       WHERE t.branch_id = b.branch_id AND t.business_date = d.today AND t.status = 'waiting' GROUP BY t.skill) w)::text AS waiting,
  (SELECT json_build_array(
            count(*) FILTER (WHERE t.queued_at <= u.before),
            coalesce(json_agg(extract(epoch FROM t.due_at)) FILTER (WHERE t.queued_at > u.before), '[]'::json))
     FROM tickets t,
          (SELECT CAST(:now AS timestamptz) - make_interval(secs => b.max_wait_s - least(CAST(:guard_s AS float8), b.max_wait_s / 2)) AS before) u
    WHERE t.branch_id = b.branch_id AND t.business_date = d.today AND t.status = 'waiting' AND t.skill = st.skill)::text AS skill_queue,
  (SELECT json_build_array(k.request_hash, k.status_code, convert_from(k.response_body, 'UTF8'))
     FROM idempotency_keys k WHERE k.scope = CAST(:scope AS text) AND k.key = CAST(:key AS text))::text AS replay
FROM (SELECT 1) one
LEFT JOIN kiosks k ON k.kiosk_id = CAST(:kiosk_id AS text)
LEFT JOIN branches b ON b.branch_id = k.branch_id
LEFT JOIN LATERAL (SELECT (CAST(:now AS timestamptz) AT TIME ZONE b.time_zone)::date AS today) d ON true
LEFT JOIN (service_types st JOIN branch_services bs ON bs.service_type = st.service_type)
       ON bs.branch_id = b.branch_id AND st.service_type = CAST(:service_type AS text)
"""
)

#: read the stored answer of an Idempotency-Key (after a concurrent twin won the insert)
REPLAY: TextClause = text(
    "SELECT json_build_array(k.request_hash, k.status_code, convert_from(k.response_body, 'UTF8'))::text "
    "FROM idempotency_keys k WHERE k.scope = CAST(:scope AS text) AND k.key = CAST(:key AS text)"
)

_OUTBOX = """
o AS (INSERT INTO outbox (event_id, topic, key, value, headers)
      SELECT CAST(:event_id AS text), CAST(:topic AS text), CAST(:event_key AS text),
             convert_to(replace(CAST(:event_value AS text), CAST(:token AS text), {number}), 'UTF8'),
             CAST(CAST(:event_headers AS text) AS json)
      {source})"""

_DECISION = """
d AS (INSERT INTO rule_decisions (decision_id, decided_at, branch_id, service_type, customer_id, kind, channel, device_id,
                                  rule_set_version, rule_id, inputs, diversion_id, ticket_id, detail)
      VALUES (CAST(:decision_id AS text), CAST(:decided_at AS timestamptz), CAST(:d_branch_id AS text), CAST(:d_service_type AS text),
              CAST(:d_customer_id AS text), CAST(:d_kind AS text), CAST(:d_channel AS text), CAST(:d_device_id AS text),
              CAST(:d_rule_set_version AS integer), CAST(:d_rule_id AS text), CAST(CAST(:d_inputs AS text) AS json),
              CAST(:d_diversion_id AS text), CAST(:d_ticket_id AS text), CAST(CAST(:d_detail AS text) AS json)))"""

_IDEMPOTENCY = """
i AS (INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body)
      SELECT CAST(:scope AS text), CAST(:key AS text), CAST(:request_hash AS text), CAST(:status_code AS integer),
             convert_to(replace(CAST(:response AS text), CAST(:token AS text), {number}), 'UTF8')
      {source})"""

_TICKET = """
WITH seq AS (
  INSERT INTO ticket_sequences (branch_id, business_date, prefix, last_number)
  VALUES (CAST(:branch_id AS text), CAST(:business_date AS date), CAST(:prefix AS text), 1)
  ON CONFLICT (branch_id, business_date, prefix) DO UPDATE SET last_number = ticket_sequences.last_number + 1
  RETURNING last_number),
t AS (
  INSERT INTO tickets (ticket_id, branch_id, business_date, prefix, sequence, number, service_type, skill, status, origin,
                       priority, customer_id, tier, issued_at, queued_at, due_at, diversion_id, route_to, route_fallback, wait_view)
  SELECT CAST(:ticket_id AS text), CAST(:branch_id AS text), CAST(:business_date AS date), CAST(:prefix AS text), seq.last_number,
         CAST(:prefix AS text) || CASE WHEN seq.last_number < 1000 THEN lpad(seq.last_number::text, 3, '0') ELSE seq.last_number::text END,
         CAST(:service_type AS text), CAST(:skill AS text), 'waiting', CAST(:origin AS text), CAST(:priority AS integer),
         CAST(:customer_id AS text), CAST(:tier AS text), CAST(:issued_at AS timestamptz), CAST(:issued_at AS timestamptz),
         CAST(:due_at AS timestamptz), CAST(:diversion_id AS text), CAST(:route_to AS text), CAST(:route_fallback AS boolean),
         CAST(CAST(:wait_view AS text) AS json)
  FROM seq
  RETURNING number, sequence)"""


@cache
def ticket_write(*, idempotent: bool) -> TextClause:
    """The write of a ticket request (built once per shape). Parameters: the ticket's
    columns, ``token``, the outbox row (``event_*``), the decision record (``decision_id``,
    ``decided_at``, ``d_*``) and, when ``idempotent``, ``scope``/``key``/``request_hash``/
    ``status_code``/``response``. Returns one row ``(number, sequence)``."""
    parts = [_TICKET, _OUTBOX.format(number="t.number", source="FROM t"), _DECISION]
    if idempotent:
        parts.append(_IDEMPOTENCY.format(number="t.number", source="FROM t"))
    return text(",".join(parts) + "\nSELECT number, sequence FROM t")


_DIVERSION = """
WITH dv AS (
  INSERT INTO diversions (diversion_id, branch_id, kiosk_id, customer_id, service_type, channel, device_id, amount, currency,
                          rule_set_version, rule_id, status, request, created_at, fee_notice, message, offer_ttl_s)
  VALUES (CAST(:diversion_id AS text), CAST(:branch_id AS text), CAST(:kiosk_id AS text), CAST(:customer_id AS text),
          CAST(:service_type AS text), CAST(:channel AS text), CAST(:device_id AS text), CAST(:amount AS numeric),
          CAST(:currency AS text), CAST(:rule_set_version AS integer), CAST(:rule_id AS text), 'offered',
          CAST(CAST(:request AS text) AS json), CAST(:created_at AS timestamptz),
          CAST(:fee_notice AS text), CAST(:message AS text), CAST(:offer_ttl_s AS integer))
  RETURNING diversion_id)"""


@cache
def offer_write(*, idempotent: bool) -> TextClause:
    """The write of an offer: the diversion, its outbox row, the decision record and, when
    ``idempotent``, the Idempotency-Key record. Returns one row (the diversion id)."""
    parts = [_DIVERSION, _OUTBOX.format(number="''", source="FROM dv"), _DECISION]
    if idempotent:
        parts.append(_IDEMPOTENCY.format(number="''", source="FROM dv"))
    return text(",".join(parts) + "\nSELECT diversion_id FROM dv")
