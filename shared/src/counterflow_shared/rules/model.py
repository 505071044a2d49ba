"""Inputs and outputs of a channel decision, and :func:`decide`.

With no active rule set (``None``), :func:`decide` issues a plain ticket (rule id
``default``, version 0). With a compiled :class:`~counterflow_shared.rules.engine.RuleSet`
it runs the engine (:mod:`counterflow_shared.rules.engine`). The recorded form of a
:class:`DecisionInput` (what decision records and what-if windows hold) is
:func:`input_to_record` / :func:`input_from_record`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal


@dataclass(frozen=True)
class DeviceView:
    """A self-service device as the read model knows it.

    Attributes:
        cash_available: dispensable cash per currency (major units, Decimal).
        expected_wait_s: expected wait at the device (seconds).
        forecast_cash_out_at: when it is expected to run out (aware UTC) or ``None``.
        unavailable: why a service type it is capable of is not in ``service_types`` now
            (``status``, ``closed``, ``cash``, ``notes``, ``full``), as selfservice says.
    """

    device_id: str
    branch_id: str
    kind: str
    status: str
    service_types: frozenset[str]
    cash_available: dict[str, Decimal] = field(default_factory=dict)
    max_amount: dict[str, Decimal] = field(default_factory=dict)
    queue_length: int = 0
    expected_wait_s: float = 0.0
    forecast_cash_out_at: datetime | None = None
    accessible: bool = False
    zone: str = "self_service"
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionInput:
    """Everything a rule may look at when a customer asks for ``service_type``.

    Attributes:
        amount / currency: the transaction (Decimal major units, ISO 4217), when known.
        tier: customer tier (``None`` for anonymous walk-ins).
        propensity: channel -> probability of accepting (``self_service``, ``mobile``, ``appointment``).
        needs: customer needs flags (``accessibility``, ``elderly``, ``asks_for_person``).
        counter_wait_s: estimated (median) counter wait for this service now (seconds; ``None`` unknown).
        counter_wait_p90_s: 90th percentile of that wait (seconds; ``None`` unknown).
        p_called_within_sla: probability (0..1) of being called within the SLA target (``None`` unknown).
        devices: self-service devices of the branch.
        now: aware UTC instant of the request; ``local_time``/``day_type`` are derived by the caller
            from the branch time zone (``day_type``: ``weekday``, ``saturday``, ``sunday``, ``holiday``).
        sla_share: share of customers called within the SLA target in the last window (0..1).
        time_zone: IANA zone of the branch; when ``local_time``/``day_type`` are not given the
            engine derives them from ``now`` in this zone (``holiday`` only comes from the caller).
    """

    branch_id: str
    service_type: str
    now: datetime
    amount: Decimal | None = None
    currency: str | None = None
    customer_id: str | None = None
    tier: str | None = None
    propensity: dict[str, float] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()
    counter_wait_s: float | None = None
    counter_wait_p90_s: float | None = None
    p_called_within_sla: float | None = None
    devices: tuple[DeviceView, ...] = ()
    local_time: str | None = None
    day_type: str | None = None
    zone: str | None = None
    sla_share: float | None = None
    channel_of_request: str = "kiosk"
    time_zone: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome: a ``ticket`` (with an optional priority boost / fee notice / VIP
    routing) or an ``offer`` of another channel. Always names the rule set version and
    rule that produced it, and the inputs it used (for the decision record)."""

    kind: Literal["ticket", "offer"]
    rule_set_version: int
    rule_id: str
    channel: str = "counter"
    device_id: str | None = None
    priority_boost: int = 0
    route_to: str | None = None
    fee_notice: str | None = None
    explanation: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    expected_accept: float | None = None
    offer_ttl_s: int | None = None
    message: str | None = None
    vetoes: tuple[str, ...] = ()
    devices_not_offered: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the decision record)."""
        return {
            "kind": self.kind,
            "rule_set_version": self.rule_set_version,
            "rule_id": self.rule_id,
            "channel": self.channel,
            "device_id": self.device_id,
            "priority_boost": self.priority_boost,
            "route_to": self.route_to,
            "fee_notice": self.fee_notice,
            "explanation": self.explanation,
            "expected_accept": self.expected_accept,
            "offer_ttl_s": self.offer_ttl_s,
            "message": self.message,
            "vetoes": list(self.vetoes),
            "inputs": self.inputs,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: format(v, "f") for k, v in values.items()}


def device_to_record(device: DeviceView) -> dict[str, Any]:
    """JSON-ready form of a :class:`DeviceView` (amounts as decimal strings, times ISO 8601)."""
    return {
        "device_id": device.device_id,
        "branch_id": device.branch_id,
        "kind": device.kind,
        "status": device.status,
        "service_types": sorted(device.service_types),
        "cash_available": _money(device.cash_available),
        "max_amount": _money(device.max_amount),
        "queue_length": device.queue_length,
        "expected_wait_s": device.expected_wait_s,
        "forecast_cash_out_at": _iso(device.forecast_cash_out_at),
        "accessible": device.accessible,
        "zone": device.zone,
        "unavailable": dict(device.unavailable),
    }


def input_to_record(request: DecisionInput) -> dict[str, Any]:
    """The recorded form of ``request``: plain JSON (amounts as decimal strings in major
    units, instants as ISO 8601 with offset). One such object per line is the what-if
    traffic format (JSON lines)."""
    return {
        "branch_id": request.branch_id,
        "service_type": request.service_type,
        "now": request.now.isoformat(),
        "amount": format(request.amount, "f") if request.amount is not None else None,
        "currency": request.currency,
        "customer_id": request.customer_id,
        "tier": request.tier,
        "propensity": dict(request.propensity),
        "needs": sorted(request.needs),
        "counter_wait_s": request.counter_wait_s,
        "counter_wait_p90_s": request.counter_wait_p90_s,
        "p_called_within_sla": request.p_called_within_sla,
        "devices": [device_to_record(d) for d in request.devices],
        "local_time": request.local_time,
        "day_type": request.day_type,
        "zone": request.zone,
        "sla_share": request.sla_share,
        "channel_of_request": request.channel_of_request,
        "time_zone": request.time_zone,
    }


def _aware(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"{name}: instant must carry a UTC offset")
    return parsed


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise ValueError(f"{name}: amounts are decimal strings, not JSON numbers with a fraction")
    try:
        return Decimal(str(value))
    except Exception as exc:  # noqa: BLE001 - decimal raises several kinds
        raise ValueError(f"{name}: {value!r} is not a decimal amount") from exc


def device_from_record(data: dict[str, Any], where: str = "device") -> DeviceView:
    """Inverse of :func:`device_to_record`.

    Raises:
        ValueError: a field is missing or malformed; the message starts with its path.
    """
    try:
        return DeviceView(
            device_id=str(data["device_id"]),
            branch_id=str(data["branch_id"]),
            kind=str(data["kind"]),
            status=str(data["status"]),
            service_types=frozenset(data.get("service_types") or ()),
            cash_available={k: _decimal(v, f"{where}.cash_available.{k}") for k, v in (data.get("cash_available") or {}).items()},
            max_amount={k: _decimal(v, f"{where}.max_amount.{k}") for k, v in (data.get("max_amount") or {}).items()},
            queue_length=int(data.get("queue_length") or 0),
            expected_wait_s=float(data.get("expected_wait_s") or 0.0),
            forecast_cash_out_at=_aware(data.get("forecast_cash_out_at"), f"{where}.forecast_cash_out_at"),
            accessible=bool(data.get("accessible", False)),
            zone=str(data.get("zone") or "self_service"),
            unavailable={str(k): str(v) for k, v in (data.get("unavailable") or {}).items()},
        )
    except KeyError as exc:
        raise ValueError(f"{where}.{exc.args[0]}: is required") from exc


def input_from_record(data: dict[str, Any]) -> DecisionInput:
    """Inverse of :func:`input_to_record`.

    Raises:
        ValueError: a field is missing or malformed; the message starts with its name.
    """
    if not isinstance(data, dict):
        raise ValueError("record: must be a JSON object")
    for required in ("branch_id", "service_type", "now"):
        if data.get(required) in (None, ""):
            raise ValueError(f"{required}: is required")
    now = _aware(data["now"], "now")
    assert now is not None
    return DecisionInput(
        branch_id=str(data["branch_id"]),
        service_type=str(data["service_type"]),
        now=now,
        amount=_decimal(data["amount"], "amount") if data.get("amount") is not None else None,
        currency=data.get("currency"),
        customer_id=data.get("customer_id"),
        tier=data.get("tier"),
        propensity={str(k): float(v) for k, v in (data.get("propensity") or {}).items()},
        needs=frozenset(data.get("needs") or ()),
        counter_wait_s=float(data["counter_wait_s"]) if data.get("counter_wait_s") is not None else None,
        counter_wait_p90_s=float(data["counter_wait_p90_s"]) if data.get("counter_wait_p90_s") is not None else None,
        p_called_within_sla=float(data["p_called_within_sla"]) if data.get("p_called_within_sla") is not None else None,
        devices=tuple(device_from_record(d, f"devices[{i}]") for i, d in enumerate(data.get("devices") or ())),
        local_time=data.get("local_time"),
        day_type=data.get("day_type"),
        zone=data.get("zone"),
        sla_share=float(data["sla_share"]) if data.get("sla_share") is not None else None,
        channel_of_request=str(data.get("channel_of_request") or "kiosk"),
        time_zone=data.get("time_zone"),
    )


def decide(rule_set: Any, request: DecisionInput) -> Decision:
    """Decide for ``request`` under ``rule_set``.

    Args:
        rule_set: ``None`` (no active set: always a plain ticket, version 0), a compiled
            :class:`~counterflow_shared.rules.engine.RuleSet` (the fast path), or a rule set
            document (plain data, version = its ``version`` field stamped at activation;
            compiled once and kept in a small cache keyed by its canonical JSON).

    Raises:
        RuleSetInvalid: ``rule_set`` is a document that does not validate.
    """
    if rule_set is None:
        from counterflow_shared.rules.protections import ProtectionSettings, devices_not_offered

        return Decision(
            kind="ticket",
            rule_set_version=0,
            rule_id="default",
            explanation="no active rule set",
            inputs=input_to_record(request),
            devices_not_offered=devices_not_offered(request, ProtectionSettings(), None),
        )
    from counterflow_shared.rules.engine import RuleSet, evaluate

    if not isinstance(rule_set, RuleSet):
        rule_set = _compiled(json.dumps(rule_set, sort_keys=True, default=str))
    return evaluate(rule_set, request)


@lru_cache(maxsize=16)
def _compiled(canonical: str) -> Any:
    from counterflow_shared.rules.loader import load_rule_set

    return load_rule_set(json.loads(canonical))
