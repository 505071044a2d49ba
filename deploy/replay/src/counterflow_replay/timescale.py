"""Durations the services use on their own, divided by the replay speed.

The services keep the real clock (none of them accepts an explicit time for kiosk and
teller actions), so the replay accelerates their world instead: every duration that
drives a decision is divided by ``speed``, and every duration the services report
(estimated waits) is multiplied back. What is scaled:

- the rule set document: every number under a key ending in ``_s`` (``counter_wait_s:
  {min: 420}``, ``min_counter_wait_s``, ``offer_ttl_s``, ...), recursively;
- ticketing settings through the environment of the processes the replay starts
  (``CF_TICKETING_*``): ageing bound, priority step, ageing guard, SLA target and window,
  offer lifetime, load-snapshot cadence and material change;
- selfservice: the planning time of a device transaction and the diversion window;
- mobile-gateway: the lifetime of a hand-off draft without an expiry;
- service types: ``default_service_s`` is set to the fitted mean / speed through the
  operations API (see :mod:`counterflow_replay.setup`).

Time-of-day conditions (``time_of_day``) cannot be scaled this way; the default rule set
uses one only for a fee notice on a ticket, which changes no routing.
"""

from __future__ import annotations

from typing import Any

#: (environment variable, real-time default in seconds, minimum after scaling) of the
#: service settings the replay scales; the defaults are the services' own settings.
SCALED_SETTINGS: tuple[tuple[str, float, float], ...] = (
    ("CF_TICKETING_DEFAULT_MAX_WAIT_S", 1200.0, 1.0),
    ("CF_TICKETING_PRIORITY_STEP_S", 180.0, 0.1),
    ("CF_TICKETING_AGEING_GUARD_S", 300.0, 0.1),
    ("CF_TICKETING_SLA_TARGET_S", 600.0, 1.0),
    ("CF_TICKETING_SLA_WINDOW_S", 3600.0, 5.0),
    ("CF_TICKETING_OFFER_TTL_S", 1800.0, 5.0),
    ("CF_TICKETING_LOAD_SNAPSHOT_INTERVAL_S", 60.0, 1.0),
    ("CF_TICKETING_LOAD_CHECK_INTERVAL_S", 5.0, 0.5),
    ("CF_TICKETING_LOAD_MATERIAL_CHANGE_S", 60.0, 0.5),
    ("CF_SELFSERVICE_MEAN_TRANSACTION_S", 90.0, 0.1),
    ("CF_SELFSERVICE_DIVERSION_WINDOW_S", 1800.0, 5.0),
    ("CF_SELFSERVICE_WATCHDOG_INTERVAL_S", 5.0, 0.5),
    ("CF_MOBILE_DRAFT_TTL_S", 86400.0, 5.0),
    ("CF_MOBILE_SWEEP_INTERVAL_S", 5.0, 0.5),
)

#: Unscaled settings the replay needs: kiosks of a busy accelerated branch send far more
#: than the 120 requests a minute a real kiosk is limited to.
UNSCALED_SETTINGS = {"CF_TICKETING_KIOSK_REQUESTS_PER_MINUTE": "1000000"}


def service_env(speed: float) -> dict[str, str]:
    """Environment for the service processes of a replay at ``speed``."""
    env = {name: f"{max(floor, default / speed):.3f}" for name, default, floor in SCALED_SETTINGS}
    return {**env, **UNSCALED_SETTINGS}


#: Rule-set keys the schema types as whole seconds with a floor of 60 (offer lifetimes):
#: they are scaled but kept at 60 s at least; the lifetime that decides expiry is
#: ticketing's ``offer_ttl_s`` setting, scaled through the environment.
TTL_KEYS = ("offer_ttl_s", "default_offer_ttl_s")


def scale_ruleset(doc: Any, speed: float) -> Any:
    """A copy of rule-set ``doc`` with every duration (numbers under ``*_s`` keys,
    including ``{min, max}`` bounds) divided by ``speed``; :data:`TTL_KEYS` stay whole
    seconds of at least 60 (the schema's floor)."""

    def scale(v: Any, ttl: bool) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)):
            return max(60, round(v / speed)) if ttl else v / speed
        if isinstance(v, dict):
            return {k: scale(x, ttl) for k, x in v.items()}
        return v

    if isinstance(doc, dict):
        return {k: (scale(v, k in TTL_KEYS) if k.endswith("_s") else scale_ruleset(v, speed)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [scale_ruleset(x, speed) for x in doc]
    return doc
