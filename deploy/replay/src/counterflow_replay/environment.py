"""Environment of the service processes a replay starts (``make demo``, the e2e test).

The services run on the simulated clock the replay moves (``CF_CLOCK=redis``, one Redis
key per deployment, see :mod:`counterflow_replay.clock` and ADR 0011), so every duration
they use (rule thresholds, SLA target and window, offer and draft lifetimes, device
transaction time, service times) keeps its real value in simulated seconds: nothing is
scaled. What the replay changes:

- the polling intervals of the services' background loops, which are pure wall time
  (how often ticketing checks whether a load snapshot is due, selfservice runs its
  offline watchdog and diversion expiry, the gateway sweeps drafts): 0.5 wall seconds,
  so that a loop runs about once per simulated minute at the default pace x120;
- selfservice's heartbeat timeout (:data:`~counterflow_replay.driver.HEARTBEAT_TIMEOUT_S`):
  the replay's devices beat every :data:`~counterflow_replay.driver.HEARTBEAT_S`
  simulated seconds;
- the kiosk rate limit (real time): a busy branch's two kiosks send far more than a
  real kiosk's 120 requests a minute when a day runs in minutes.
"""

from __future__ import annotations

from counterflow_replay.driver import HEARTBEAT_TIMEOUT_S
from counterflow_shared.clock import default_clock_key

#: Wall seconds between two rounds of a service's background loop during a replay.
POLL_INTERVAL_WALL_S = 0.5

#: Settings the replay sets whatever the clock key.
FIXED_SETTINGS = {
    "CF_TICKETING_LOAD_CHECK_INTERVAL_S": f"{POLL_INTERVAL_WALL_S}",
    "CF_SELFSERVICE_WATCHDOG_INTERVAL_S": f"{POLL_INTERVAL_WALL_S}",
    "CF_MOBILE_SWEEP_INTERVAL_S": f"{POLL_INTERVAL_WALL_S}",
    "CF_SELFSERVICE_HEARTBEAT_TIMEOUT_S": f"{HEARTBEAT_TIMEOUT_S:g}",
    "CF_TICKETING_KIOSK_REQUESTS_PER_MINUTE": "1000000",
}


def service_env(topic_prefix: str = "") -> dict[str, str]:
    """Environment for the service processes of a replay whose deployment uses
    ``topic_prefix``: the simulated clock (``CF_CLOCK=redis``, ``CF_CLOCK_KEY`` the
    deployment's key) plus :data:`FIXED_SETTINGS`."""
    return {"CF_CLOCK": "redis", "CF_CLOCK_KEY": default_clock_key(topic_prefix), **FIXED_SETTINGS}
