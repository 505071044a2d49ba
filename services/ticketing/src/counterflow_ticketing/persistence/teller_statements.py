"""The two statements of a teller action (ADR 0156): one read, one write.

Like the kiosk request (:mod:`kiosk_statements`), both run on an autocommit connection,
so each is its own transaction and costs one round trip (no ``BEGIN`` / ``COMMIT``, no
pre-ping).

* :data:`READ` returns one row per ticket the action may touch, each carrying the
  counter, its live teller session, the branch, whether the counter has a called or
  serving ticket, the branch's learned wait model (with its ``updated_at``) and, for an
  ``Idempotency-Key``, the stored answer. The ticket is the one named by ``ticket_id``
  or, for call-next (``next`` true), the first :data:`CANDIDATES` waiting tickets the
  counter may serve in call order (:func:`counterflow_ticketing.persistence.tickets_repo.call_order` with
  routing, :mod:`counterflow_ticketing.domain.routing`: routed tickets of the counter's
  own routes first, then urgent tickets oldest first, then earliest due date, then
  arrival; a routed ticket is skipped by a counter that does not take its route while a
  live counter of the branch does). Each ticket comes with its ``xmin`` (the id of the
  transaction that wrote the row version read): the write's optimistic guard.
* :func:`action_write` is one statement of data-modifying CTEs: the ticket's new state
  (guarded by ``xmin``: the row is changed only if nobody changed it since the read;
  PostgreSQL re-checks the guard on the newest row version after waiting for a
  concurrent writer), its outbox row, the Idempotency-Key record, the branch's wait model
  (a compare-and-set on ``updated_at``: a concurrent update of the model wins and this
  sample is not learned) and, for a finished service, the learned service times (the
  update is computed in SQL, so concurrent finishes never lose a sample). A call also
  bumps the counter's live session row (``SET status = status`` writes a new row version,
  guarded by its ``xmin``): two calls at one counter serialise on that row and the second
  finds the guard broken, so a counter never has two tickets called.

The guard failing is not an error: the caller reads again and decides on the new state
(:func:`counterflow_ticketing.domain.teller_actions.act`).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

#: waiting tickets call-next reads ahead: the write takes the first of them nobody took meanwhile
CANDIDATES = 3

def _takes(counter: str, route: str) -> str:
    """SQL: counter ``counter`` takes route ``route`` (:func:`routing.routes_of`)."""
    return (
        f"EXISTS (SELECT 1 FROM unnest(CAST(:rk_route AS text[]), CAST(:rk_kind AS text[])) rk(r, k)"
        f" WHERE rk.r = {route} AND (rk.k = {counter}.kind OR {counter}.zone = {route}))"
    )


_ROUTED = "(w.route_to IS NOT NULL AND NOT w.route_fallback)"
_URGENT = "w.queued_at <= CAST(:now AS timestamptz) - make_interval(secs => b.max_wait_s - least(CAST(:guard_s AS float8), b.max_wait_s / 2))"

#: the read of a teller action. Parameters: ``counter_id``, ``ticket_id`` (may be null),
#: ``next`` (call-next: read the candidates), ``now`` (aware), ``guard_s`` (the ageing
#: guard), ``scope`` / ``key`` (Idempotency-Key; ``key`` may be null), ``rk_route`` /
#: ``rk_kind`` (the ``(route, counter kind)`` pairs of
#: :data:`counterflow_ticketing.domain.routing.ROUTE_COUNTER_KINDS` as two arrays), ``k`` (:data:`CANDIDATES`).
READ: TextClause = text(
    f"""
SELECT
  c.counter_id AS c_id, c.branch_id AS c_branch_id, c.name AS c_name, c.active AS c_active, c.kind AS c_kind,
  c.zone AS c_zone, c.skills::text AS c_skills,
  s.session_id AS s_id, s.teller_id AS s_teller_id, s.status AS s_status, s.xmin::text AS s_xmin,
  b.active AS b_active, b.max_wait_s AS b_max_wait_s, b.no_show_after_calls AS b_no_show_after_calls,
  EXISTS (SELECT 1 FROM tickets x WHERE x.branch_id = c.branch_id AND x.status IN ('called', 'serving') AND x.counter_id = c.counter_id) AS busy,
  m.state::text AS wm_state, m.updated_at AS wm_updated_at,
  (SELECT json_build_array(i.request_hash, i.status_code, convert_from(i.response_body, 'UTF8'))
     FROM idempotency_keys i WHERE i.scope = CAST(:scope AS text) AND i.key = CAST(:key AS text))::text AS replay,
  t.*
FROM (SELECT 1) one
LEFT JOIN counters c ON c.counter_id = CAST(:counter_id AS text)
LEFT JOIN teller_sessions s ON s.counter_id = c.counter_id AND s.status <> 'closed'
LEFT JOIN branches b ON b.branch_id = c.branch_id
LEFT JOIN wait_models m ON m.branch_id = c.branch_id
LEFT JOIN LATERAL (
  (SELECT w.xmin::text AS t_xmin, w.* FROM tickets w WHERE w.ticket_id = CAST(:ticket_id AS text))
  UNION ALL
  (SELECT w.xmin::text AS t_xmin, w.* FROM tickets w
    WHERE CAST(:next AS boolean) AND w.branch_id = c.branch_id
      AND w.business_date = (CAST(:now AS timestamptz) AT TIME ZONE b.time_zone)::date
      AND w.status = 'waiting'
      AND w.skill IN (SELECT json_array_elements_text(c.skills))
      AND (w.target_counter_id IS NULL OR w.target_counter_id = c.counter_id)
      AND (NOT {_ROUTED} OR {_takes("c", "w.route_to")} OR NOT EXISTS (
            SELECT 1 FROM counters c3 JOIN teller_sessions s3 ON s3.counter_id = c3.counter_id AND s3.status <> 'closed'
             WHERE c3.branch_id = w.branch_id AND c3.active AND w.skill IN (SELECT json_array_elements_text(c3.skills))
               AND {_takes("c3", "w.route_to")}))
    ORDER BY CASE WHEN {_ROUTED} AND {_takes("c", "w.route_to")} THEN 0 ELSE 1 END,
             CASE WHEN {_URGENT} THEN 0 ELSE 1 END,
             CASE WHEN {_URGENT} THEN w.queued_at ELSE w.due_at END,
             w.arrival
    LIMIT CAST(:k AS integer))
) t ON true
"""
)

#: store the answer "no ticket to call" of an Idempotency-Key (call-next found none)
REMEMBER: TextClause = text(
    "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body) "
    "VALUES (CAST(:scope AS text), CAST(:key AS text), CAST(:request_hash AS text), 200, convert_to(CAST(:response AS text), 'UTF8'))"
)

_TARGETS = """
v AS (SELECT * FROM json_to_recordset(CAST(:targets AS json)) AS x(
        n integer, ticket_id text, xmin text, status text, counter_id text, teller_id text, call_count integer,
        called_at timestamptz, serving_started_at timestamptz, finished_at timestamptz, outcome text, target_counter_id text,
        event_id text, topic text, event_key text, event_value text, event_headers text, response text, wait_state text))"""

_SESSION_GUARD = """
s AS (UPDATE teller_sessions SET status = status
       WHERE session_id = CAST(:session_id AS text) AND xmin = CAST(CAST(:session_xmin AS text) AS xid) AND status = 'open'
       RETURNING session_id)"""

_NO_SESSION_GUARD = "\ns AS (SELECT 1 AS session_id)"

_PICK = """
pick AS (SELECT w.ticket_id, v.n FROM tickets w JOIN v ON v.ticket_id = w.ticket_id
          WHERE w.xmin = CAST(v.xmin AS xid) AND EXISTS (SELECT 1 FROM s)
          ORDER BY v.n LIMIT 1 FOR UPDATE OF w {skip}),
u AS (UPDATE tickets w SET status = v.status, counter_id = v.counter_id, teller_id = v.teller_id, call_count = v.call_count,
             called_at = v.called_at, serving_started_at = v.serving_started_at, finished_at = v.finished_at,
             outcome = v.outcome, target_counter_id = v.target_counter_id
        FROM pick JOIN v ON v.n = pick.n
       WHERE w.ticket_id = pick.ticket_id
   RETURNING v.n),
o AS (INSERT INTO outbox (event_id, topic, key, value, headers)
      SELECT v.event_id, v.topic, v.event_key, convert_to(v.event_value, 'UTF8'), CAST(v.event_headers AS json)
        FROM u JOIN v ON v.n = u.n),
wm AS (INSERT INTO wait_models (branch_id, state, updated_at)
       SELECT CAST(:branch_id AS text), CAST(v.wait_state AS json), CAST(:now AS timestamptz)
         FROM u JOIN v ON v.n = u.n WHERE v.wait_state IS NOT NULL
       ON CONFLICT (branch_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
       WHERE wait_models.updated_at IS NOT DISTINCT FROM CAST(:wm_updated_at AS timestamptz))"""

_IDEMPOTENCY = """
i AS (INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body)
      SELECT CAST(:scope AS text), CAST(:key AS text), CAST(:request_hash AS text), 200, convert_to(v.response, 'UTF8')
        FROM u JOIN v ON v.n = u.n)"""

# the learned mean service time of estimation.updated_mean, in SQL: a running mean for the
# first EWMA_HORIZON tickets, then an EWMA with weight 1/EWMA_HORIZON; the same for the mean square
_LEARN = """
l AS (INSERT INTO service_time_stats AS st (branch_id, service_type, teller_id, served, mean_s, mean_sq_s, updated_at)
      SELECT CAST(:branch_id AS text), CAST(:service_type AS text), x.teller_id, 1,
             CAST(:seconds AS float8), CAST(:seconds AS float8) * CAST(:seconds AS float8), CAST(:now AS timestamptz)
        FROM u, unnest(CAST(:tellers AS text[])) x(teller_id)
      ON CONFLICT (branch_id, service_type, teller_id) DO UPDATE SET
        served = st.served + 1,
        mean_s = st.mean_s + (excluded.mean_s - st.mean_s) / least(st.served + 1, CAST(:horizon AS integer)),
        mean_sq_s = coalesce(st.mean_sq_s, st.mean_s * st.mean_s)
                    + (excluded.mean_sq_s - coalesce(st.mean_sq_s, st.mean_s * st.mean_s)) / least(st.served + 1, CAST(:horizon AS integer)),
        updated_at = excluded.updated_at)"""


@cache
def action_write(*, call: bool, next_: bool, idempotent: bool, learn: bool) -> TextClause:
    """The write of a teller action (built once per shape).

    ``call``: guard the counter's live session (a call); ``next_``: skip tickets another
    counter is taking (``SKIP LOCKED``, call-next; otherwise wait for the row);
    ``idempotent``: store the answer under ``scope``/``key``/``request_hash``; ``learn``:
    fold ``seconds`` into the learned service times of ``tellers`` (finish).

    Parameters: ``targets`` (JSON list, in preference order, of the tickets' new states
    with ``n``, ``xmin``, the outbox row ``event_*``, the ``response`` text and the wait
    model ``wait_state`` to store, or null), ``branch_id``, ``now``, ``wm_updated_at``,
    ``session_id`` / ``session_xmin`` (``call``) and the parameters of the shape.
    Returns one row: ``session_ok`` (the session guard held) and ``n`` (the target
    written, ``None`` when every guard failed).
    """
    parts = [_TARGETS, _SESSION_GUARD if call else _NO_SESSION_GUARD, _PICK.format(skip="SKIP LOCKED" if next_ else "")]
    if idempotent:
        parts.append(_IDEMPOTENCY)
    if learn:
        parts.append(_LEARN)
    return text("WITH" + ",".join(parts) + "\nSELECT (SELECT count(*) FROM s) AS session_ok, (SELECT n FROM u) AS n")
