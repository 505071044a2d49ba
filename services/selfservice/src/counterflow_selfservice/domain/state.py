"""The published state of a device: built from the device, refreshed demand model and
cash-out forecast, and published only on a material change."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from counterflow_shared.events.payloads.devices import CashUnitState, DeviceCapabilities, DeviceState
from counterflow_selfservice.domain import forecast
from counterflow_selfservice.domain.availability import available_service_types, expected_wait_s, typical_withdrawal, unavailable_reasons
from counterflow_selfservice.domain.cash import cash_by_currency, dispensable
from counterflow_selfservice.domain.context import Ctx
from counterflow_selfservice.domain.models import DemandModel, Device
from counterflow_selfservice.persistence import devices as device_repo
from counterflow_selfservice.persistence import transactions as tx_repo

#: The forecast enters the change fingerprint rounded to this, so a forecast drifting
#: by minutes does not republish the device on every heartbeat.
FORECAST_RESOLUTION = timedelta(hours=1)


def forecast_currency(device: Device) -> str | None:
    """The currency the cash-out forecast is made for: the device's first currency."""
    if device.capabilities.currencies:
        return device.capabilities.currencies[0]
    return device.cash_units[0].currency if device.cash_units else None


async def refresh_demand_model(ctx: Ctx, device: Device) -> bool:
    """Refit the device's demand model when it is older than ``forecast_refit_s``.

    History: complete local days (the branch's zone) of net withdrawals over the last
    ``forecast.PROFILE_WEEKS`` weeks, from the device's first transaction on; days
    without transactions count as zero demand.

    Returns:
        ``True`` when the model was refitted (the caller saves the device).
    """
    currency = forecast_currency(device)
    if not device.kind.handles_cash or currency is None:
        return False
    model = device.demand_model
    if model is not None and (ctx.now - model.fitted_at).total_seconds() < ctx.settings.forecast_refit_s:
        return False
    tz = ZoneInfo(device.time_zone)
    today = ctx.now.astimezone(tz).date()
    earliest = today - timedelta(days=7 * forecast.PROFILE_WEEKS)
    first_seen = await tx_repo.first_activity(ctx.session, device.device_id)
    level, index = 0.0, [1.0] * 7
    if first_seen is not None:
        first = max(first_seen.astimezone(tz).date(), earliest)
        last = today - timedelta(days=1)
        if last >= first:
            since = datetime(first.year, first.month, first.day, tzinfo=tz)
            days = await tx_repo.daily_net_withdrawals(ctx.session, device.device_id, currency, device.time_zone, since)
            history = forecast.fill_daily(days, first, last)
            profile = forecast.weekday_profile(history, last.weekday())
            level = forecast.fit_level(history, profile, last.weekday())
            index = [float(x) for x in profile]
            if not forecast.is_finite(level):
                level = 0.0
    amounts = await tx_repo.recent_withdrawal_amounts(ctx.session, device.device_id, currency)
    device.demand_model = DemandModel(
        currency=currency,
        level=max(level, 0.0),
        weekday_index=index,
        typical_withdrawal=forecast.median_amount(amounts, ctx.settings.default_typical_withdrawal),
        fitted_at=ctx.now,
    )
    return True


def cash_out_at(device: Device, now: datetime, default_typical: Decimal) -> datetime | None:
    """Expected time the device can no longer pay a typical withdrawal (``None`` for
    devices without cash, without a model, or beyond the forecast horizon)."""
    model = device.demand_model
    if not device.kind.handles_cash or model is None:
        return None
    return forecast.cash_out_at(
        now=now,
        cash=dispensable(device.cash_units, model.currency),
        typical_withdrawal=typical_withdrawal(device, default_typical),
        level=model.level,
        weekday_index=model.weekday_index,
        time_zone=device.time_zone,
    )


def build_state(device: Device, ctx: Ctx) -> DeviceState:
    """The ``selfservice.device.state`` payload of ``device`` at ``ctx.now``."""
    caps = device.capabilities
    return DeviceState(
        device_id=device.device_id,
        branch_id=device.branch_id,
        zone=device.zone,
        kind=device.kind.value,
        status=device.status.value,
        accessible=device.accessible,
        capabilities=DeviceCapabilities(
            service_types=list(caps.service_types),
            max_amount=dict(caps.max_amount),
            denominations=list(caps.denominations),
            currencies=list(caps.currencies),
        ),
        cash_units=[
            CashUnitState(unit_id=u.unit_id, currency=u.currency, denomination=u.denomination, count=u.count, status=u.status.value)
            for u in device.cash_units
        ],
        cash_available=cash_by_currency(device.cash_units),
        available_service_types=available_service_types(device, ctx.now, ctx.settings.default_typical_withdrawal),
        unavailable_service_types=unavailable_reasons(device, ctx.now, ctx.settings.default_typical_withdrawal),
        forecast_cash_out_at=cash_out_at(device, ctx.now, ctx.settings.default_typical_withdrawal),
        queue_length=device.queue_length,
        expected_wait_s=expected_wait_s(device, ctx.settings.mean_transaction_s),
        at=ctx.now,
    )


def fingerprint(state: DeviceState) -> str:
    """SHA-256 over everything material in ``state``: all fields but ``at``, with the
    forecast rounded to :data:`FORECAST_RESOLUTION`."""
    doc = state.model_dump(mode="json", exclude={"at", "forecast_cash_out_at"})
    if state.forecast_cash_out_at is not None:
        epoch = state.forecast_cash_out_at.timestamp()
        doc["forecast_bucket"] = int(epoch // FORECAST_RESOLUTION.total_seconds())
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


async def save_and_publish(ctx: Ctx, device: Device, *, force: bool = False, **columns: object) -> DeviceState | None:
    """Save the device (one UPDATE, ``columns`` included) and publish its state when it
    differs materially from the last one published, or when ``force``.

    Returns:
        the state published, else ``None``.
    """
    state = build_state(device, ctx)
    fp = fingerprint(state)
    changed = force or fp != device.published_fingerprint
    if changed:
        columns["state_fingerprint"] = fp
    await device_repo.save(ctx.session, device, now=ctx.now, **columns)
    if not changed:
        return None
    await ctx.publish(ctx.session, state)
    device.published_fingerprint = fp
    return state
