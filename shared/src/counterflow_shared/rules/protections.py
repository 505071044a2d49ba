"""The protections no rule can override.

Whatever a rule set says, an offer is vetoed when:

- the customer carries a protected needs flag (``asks_for_person`` always; the rule set
  may add ``elderly`` / ``accessibility``): nobody is pushed away from a person;
- the counter wait for the service is unknown or below ``min_counter_wait_s``: a
  diversion must save the customer time;
- (device offers) no device is in service, can do the service type and amount, has the
  cash for it (cash left >= amount and not forecast to run out within
  ``cash_out_horizon_s``), is accessible when the customer needs it, and saves at least
  ``min_time_saved_s`` against the counter wait;
- (app hand-off / appointment) the customer is anonymous (nothing to hand off to).

Device statuses follow the XFS4IoT-style values of ``selfservice.devices.v1``
(:class:`~counterflow_shared.events.payloads.devices.DeviceState`): only ``online`` and
``busy`` (serving someone, still in service) count as in service.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from counterflow_shared.rules.model import DecisionInput, DeviceView

IN_SERVICE = frozenset({"online", "busy"})
#: Needs that forbid a diversion whatever the rule set says.
ALWAYS_PROTECTED = frozenset({"asks_for_person"})


@dataclass(frozen=True)
class ProtectionSettings:
    """Parameters of the protections (a rule set's ``settings``; a branch override may
    change them, never remove them).

    Attributes:
        min_counter_wait_s: below this counter wait (seconds) nothing is diverted. Default
            300 s: a customer saves little by walking to a machine when the counter is free
            within five minutes (bank's choice; tune per branch).
        min_time_saved_s: a device must be at least this much faster than the counter (seconds).
        cash_out_horizon_s: a device forecast to run dry within this many seconds is not offered.
        protected_needs: needs flags that forbid diverting (always includes ``asks_for_person``).
        cash_service_types: service types that take cash out of a device.
        default_offer_ttl_s: an accepted offer expires after this many seconds unless the rule says otherwise.
    """

    min_counter_wait_s: float = 300.0
    min_time_saved_s: float = 120.0
    cash_out_horizon_s: float = 1800.0
    protected_needs: frozenset[str] = ALWAYS_PROTECTED
    cash_service_types: frozenset[str] = frozenset({"cash_withdrawal", "foreign_exchange"})
    default_offer_ttl_s: int = 1800

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "ProtectionSettings":
        """Build from a document's ``settings`` object (missing keys keep the defaults)."""
        return cls().merged(doc)

    def merged(self, doc: dict[str, Any]) -> "ProtectionSettings":
        """A copy with the keys of ``doc`` applied (``protected_needs`` never loses ``asks_for_person``)."""
        changes: dict[str, Any] = {}
        for name in ("min_counter_wait_s", "min_time_saved_s", "cash_out_horizon_s"):
            if name in doc:
                changes[name] = float(doc[name])
        if "default_offer_ttl_s" in doc:
            changes["default_offer_ttl_s"] = int(doc["default_offer_ttl_s"])
        if "protected_needs" in doc:
            changes["protected_needs"] = ALWAYS_PROTECTED | frozenset(doc["protected_needs"])
        if "cash_service_types" in doc:
            changes["cash_service_types"] = frozenset(doc["cash_service_types"])
        return replace(self, **changes)


def has_cash_for(device: DeviceView, request: DecisionInput, settings: ProtectionSettings) -> bool:
    """Whether ``device`` can pay out ``request`` without running out of cash: enough cash
    in the request's currency (any cash at all when the amount is unknown) and no cash-out
    forecast within ``cash_out_horizon_s`` of ``request.now``."""
    if request.service_type not in settings.cash_service_types:
        return True
    if request.currency is None:
        return False
    left = device.cash_available.get(request.currency, Decimal(0))
    if left <= 0 or (request.amount is not None and left < request.amount):
        return False
    if device.forecast_cash_out_at is not None and device.forecast_cash_out_at <= request.now + timedelta(seconds=settings.cash_out_horizon_s):
        return False
    return True


def device_can_serve(device: DeviceView, request: DecisionInput, settings: ProtectionSettings) -> bool:
    """In service, offers the service type, within its per-transaction limit, has the cash,
    and is accessible when the customer needs accessibility."""
    if device.status not in IN_SERVICE or request.service_type not in device.service_types:
        return False
    if request.amount is not None and request.currency is not None:
        limit = device.max_amount.get(request.currency)
        if limit is not None and request.amount > limit:
            return False
    if "accessibility" in request.needs and not device.accessible:
        return False
    return has_cash_for(device, request, settings)


def eligible_devices(request: DecisionInput, settings: ProtectionSettings, *, kinds: frozenset[str] | None = None, queue_max: int | None = None) -> tuple[DeviceView, ...]:
    """Devices of the request's branch that may be offered: :func:`device_can_serve`, of
    one of ``kinds`` (any when ``None``), queue at most ``queue_max`` customers, and at
    least ``min_time_saved_s`` faster than the counter (none when the counter wait is unknown)."""
    wait = request.counter_wait_s
    if wait is None:
        return ()
    out = []
    for device in request.devices:
        if device.branch_id != request.branch_id:
            continue
        if kinds is not None and device.kind not in kinds:
            continue
        if queue_max is not None and device.queue_length > queue_max:
            continue
        if device.expected_wait_s + settings.min_time_saved_s > wait:
            continue
        if device_can_serve(device, request, settings):
            out.append(device)
    return tuple(out)


def best_device(devices: tuple[DeviceView, ...]) -> DeviceView | None:
    """The device to offer: shortest queue, then shortest expected wait, then device id
    (deterministic)."""
    if not devices:
        return None
    return min(devices, key=lambda d: (d.queue_length, d.expected_wait_s, d.device_id))


def why_not_offered(device: DeviceView, request: DecisionInput, settings: ProtectionSettings) -> list[str]:
    """Every reason ``device`` cannot be offered for ``request`` under the protections
    (empty: it could be; then only the rules did not choose it). Reasons, in order:

    * ``branch`` another branch's device (nothing else is said);
    * ``status`` not in service; ``closed`` outside its opening hours; ``service_type`` it
      cannot do this service at all;
    * ``cash`` too little cash (in the request's currency, for the amount, or low units),
      ``notes`` cash enough but its notes cannot make a typical withdrawal (selfservice's
      verdict, e.g. only 500s loaded and a typical withdrawal of 100);
    * ``forecast`` forecast to run out of cash within ``cash_out_horizon_s``;
    * ``amount_limit`` above its per-transaction limit; ``accessibility`` not accessible
      and the customer needs it;
    * ``queue`` its queue does not save ``min_time_saved_s`` against the counter wait, or
      ``counter_wait_unknown``.
    """
    if device.branch_id != request.branch_id:
        return ["branch"]
    reasons: list[str] = []
    st = request.service_type
    if device.status not in IN_SERVICE:
        reasons.append("status")
    elif st not in device.service_types:
        reasons.append(device.unavailable.get(st, "service_type"))
    cash_service = st in settings.cash_service_types
    if cash_service and "cash" not in reasons:
        left = device.cash_available.get(request.currency or "", Decimal(0))
        if request.currency is None or left <= 0 or (request.amount is not None and left < request.amount):
            reasons.append("cash")
    if cash_service and device.forecast_cash_out_at is not None and device.forecast_cash_out_at <= request.now + timedelta(seconds=settings.cash_out_horizon_s):
        reasons.append("forecast")
    if request.amount is not None and request.currency is not None:
        limit = device.max_amount.get(request.currency)
        if limit is not None and request.amount > limit:
            reasons.append("amount_limit")
    if "accessibility" in request.needs and not device.accessible:
        reasons.append("accessibility")
    if request.counter_wait_s is None:
        reasons.append("counter_wait_unknown")
    elif device.expected_wait_s + settings.min_time_saved_s > request.counter_wait_s:
        reasons.append("queue")
    return reasons


def devices_not_offered(request: DecisionInput, settings: ProtectionSettings, offered: str | None) -> tuple[dict[str, Any], ...]:
    """``{"device_id", "kind", "reasons"}`` for every device of the request's branch but
    the ``offered`` one, reasons from :func:`why_not_offered`; a device the protections
    allow gets ``["rules"]`` (no rule chose it: no device rule matched, another rule or a
    device with a shorter queue came first)."""
    out = []
    for device in request.devices:
        if device.device_id == offered or device.branch_id != request.branch_id:
            continue
        out.append({"device_id": device.device_id, "kind": device.kind, "reasons": why_not_offered(device, request, settings) or ["rules"]})
    return tuple(out)


def veto_diversion(request: DecisionInput, settings: ProtectionSettings, action_type: str, device: DeviceView | None) -> str | None:
    """Why an offer of ``action_type`` must not be made (``None`` = allowed).

    Returns one of ``needs_person``, ``counter_wait_unknown``, ``counter_wait_below_floor``,
    ``no_eligible_device``, ``anonymous_customer``.
    """
    if not request.needs.isdisjoint(settings.protected_needs | ALWAYS_PROTECTED):
        return "needs_person"
    if request.counter_wait_s is None:
        return "counter_wait_unknown"
    if request.counter_wait_s < settings.min_counter_wait_s:
        return "counter_wait_below_floor"
    if action_type == "offer_device":
        # re-check the chosen device here so that no code path can offer an ineligible one
        if device is None or not device_can_serve(device, request, settings) or device.branch_id != request.branch_id:
            return "no_eligible_device"
    elif request.customer_id is None:
        return "anonymous_customer"
    return None
