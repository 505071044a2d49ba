"""The published state of a device: built from the device, refreshed demand model and
cash-out forecast, and published only on a material change."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from counterflow_shared.events.payloads.devices import CashUnitState, DeviceCapabilities, DeviceState
from counterflow_selfservice.domain import demand, forecast
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
    :data:`demand.HISTORY_DAYS` days, from the device's first transaction on. A day
    without any transaction is *censored* (the device was most likely empty, offline or
    faulted; a cash device in use is rarely idle for a whole day), not zero demand. The
    model (:func:`demand.fit`) has the weekday profile, the calendar factors of the
    configured holiday calendar and the P90 of cumulative demand.

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
    earliest = today - timedelta(days=demand.HISTORY_DAYS)
    first_seen = await tx_repo.first_activity(ctx.session, device.device_id)
    country, subdiv = ctx.settings.holiday_country, ctx.settings.holiday_subdivision
    fit = demand.DemandFit(0.0, [1.0] * 7, [1.0] * len(demand.EFFECTS))
    if first_seen is not None:
        first = max(first_seen.astimezone(tz).date(), earliest)
        last = today - timedelta(days=1)
        if last >= first:
            since = datetime(first.year, first.month, first.day, tzinfo=tz)
            days = await tx_repo.daily_net_withdrawals(ctx.session, device.device_id, currency, device.time_zone, since)
            dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            history = np.array([days.get(d, np.nan) for d in dates], dtype=float)
            ahead = [today + timedelta(days=k) for k in range(14)]
            fit = demand.fit(history, dates, demand.calendar_flags(dates, country, subdiv), future_flags=demand.calendar_flags(ahead, country, subdiv), horizon=14)
    amounts = await tx_repo.recent_withdrawal_amounts(ctx.session, device.device_id, currency)
    level = fit.level if forecast.is_finite(fit.level) else 0.0
    device.demand_model = DemandModel(
        currency=currency,
        level=max(level, 0.0),
        weekday_index=list(fit.weekday_index),
        typical_withdrawal=forecast.median_amount(amounts, ctx.settings.default_typical_withdrawal),
        fitted_at=ctx.now,
        factors=list(fit.factors),
        p90_cumulative_ratio=list(fit.cumulative_ratio.get(0.9, [])),
        path_start=fit.path_start,
        path=list(fit.path),
        country=country,
        subdivision=subdiv,
    )
    return True


def cash_out_at(device: Device, now: datetime, default_typical: Decimal) -> datetime | None:
    """When the device can no longer pay a typical withdrawal, at the P90 of cumulative
    demand (it runs dry later than this nine times in ten); ``None`` for devices without
    cash, without a model, with no demand or beyond the forecast horizon. A model stored
    before calendar effects existed gives the median time of :func:`forecast.cash_out_at`."""
    model = device.demand_model
    if not device.kind.handles_cash or model is None:
        return None
    cash = dispensable(device.cash_units, model.currency)
    typical = typical_withdrawal(device, default_typical)
    if len(model.factors) != len(demand.EFFECTS) or model.country is None:
        return forecast.cash_out_at(now=now, cash=cash, typical_withdrawal=typical, level=model.level, weekday_index=model.weekday_index, time_zone=device.time_zone)
    if cash - typical < 0:
        return now
    if model.level <= 0:
        return None
    today = now.astimezone(ZoneInfo(device.time_zone)).date()
    dates = [today + timedelta(days=k) for k in range(forecast.HORIZON_DAYS + 1)]
    fit = demand.DemandFit(model.level, model.weekday_index, model.factors, cumulative_ratio={0.9: model.p90_cumulative_ratio} if model.p90_cumulative_ratio else {}, path_start=model.path_start, path=model.path)
    daily = fit.daily(today, len(dates), demand.calendar_flags(dates, model.country, model.subdivision))
    return demand.cash_out_at(now=now, spare=float(cash - typical), daily_p=fit.cumulative_quantile(daily, 0.9), first_day=today, time_zone=device.time_zone)


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
