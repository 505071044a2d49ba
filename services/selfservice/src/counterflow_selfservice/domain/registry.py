"""Device registry: register, update, configure cash units, rotate credentials, retire.
Every change that matters to other services publishes the device's state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from counterflow_shared.web.auth import hash_secret
from counterflow_shared.web.problems import conflict, not_found
from counterflow_selfservice.domain import validation
from counterflow_selfservice.domain.context import Ctx
from counterflow_selfservice.domain.models import Capabilities, CashUnit, Device
from counterflow_selfservice.domain.state import save_and_publish
from counterflow_selfservice.persistence import devices as device_repo


def new_secret() -> str:
    """A fresh device secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


async def register(ctx: Ctx, device: Device) -> str:
    """Register ``device`` (offline until its first heartbeat) and publish its state.

    Returns:
        the device's secret, shown once; only its Argon2id hash is stored.

    Raises:
        Problem: 409 ``device-exists`` when the id is taken (also by a retired device);
            422 for an invalid configuration.
    """
    validation.check_time_zone(device.time_zone)
    validation.check_opening_hours(device.opening_hours)
    validation.check_unit_config(device.cash_units)
    if await device_repo.device_exists(ctx.session, device.device_id):
        raise conflict("device-exists", f"device {device.device_id} is already registered", device_id=device.device_id)
    secret = new_secret()
    await device_repo.insert_device(ctx.session, device, secret_hash=hash_secret(secret), now=ctx.now)
    await save_and_publish(ctx, device, force=True)
    return secret


async def get(ctx: Ctx, device_id: str, *, lock: bool = False) -> Device:
    """The device ``device_id``.

    Raises:
        Problem: 404 when unknown.
    """
    device = await device_repo.load(ctx.session, device_id, lock=lock)
    if device is None:
        raise not_found("device", device_id)
    return device


def _require_active(device: Device) -> None:
    if device.retired:
        raise conflict("device-retired", f"device {device.device_id} is retired", device_id=device.device_id)


@dataclass
class DeviceChanges:
    """Fields an operator may change; ``None`` leaves a field as it is (except
    ``opening_hours`` and ``typical_withdrawal``, which are replaced when their
    ``set_`` flag is true, so that they can be cleared)."""

    zone: str | None = None
    accessible: bool | None = None
    capabilities: Capabilities | None = None
    time_zone: str | None = None
    opening_hours: dict[str, list[list[str]]] | None = None
    set_opening_hours: bool = False
    typical_withdrawal: Decimal | None = None
    set_typical_withdrawal: bool = False


async def update(ctx: Ctx, device_id: str, changes: DeviceChanges) -> Device:
    """Apply ``changes`` to the device and publish its state when it changed materially.

    Raises:
        Problem: 404 unknown, 409 retired, 422 invalid time zone or opening hours.
    """
    device = await get(ctx, device_id, lock=True)
    _require_active(device)
    if changes.time_zone is not None:
        validation.check_time_zone(changes.time_zone)
        device.time_zone = changes.time_zone
    if changes.set_opening_hours:
        validation.check_opening_hours(changes.opening_hours)
        device.opening_hours = changes.opening_hours
    if changes.zone is not None:
        device.zone = changes.zone
    if changes.accessible is not None:
        device.accessible = changes.accessible
    if changes.capabilities is not None:
        device.capabilities = changes.capabilities
    if changes.set_typical_withdrawal:
        device.typical_withdrawal = changes.typical_withdrawal
    await save_and_publish(ctx, device)
    return device


async def configure_units(ctx: Ctx, device_id: str, units: list[CashUnit]) -> Device:
    """Replace the device's cash unit configuration (ids, denominations, capacity,
    low/full thresholds, counts) and publish its state.

    Raises:
        Problem: 404 unknown, 409 retired, 422 invalid configuration.
    """
    validation.check_unit_config(units)
    device = await get(ctx, device_id, lock=True)
    _require_active(device)
    await device_repo.replace_units(ctx.session, device_id, units)
    device.cash_units = sorted(units, key=lambda u: u.unit_id)
    await save_and_publish(ctx, device)
    return device


async def rotate_secret(ctx: Ctx, device_id: str) -> str:
    """Give the device a new secret (the old one stops working at once).

    Raises:
        Problem: 404 unknown, 409 retired.
    """
    device = await get(ctx, device_id, lock=True)
    _require_active(device)
    secret = new_secret()
    await device_repo.set_secret(ctx.session, device_id, hash_secret(secret), ctx.now)
    return secret


async def retire(ctx: Ctx, device_id: str) -> Device:
    """Retire the device: its credentials are revoked and its state (``retired``, no
    service types) is published. Retiring twice is a no-op.

    Raises:
        Problem: 404 unknown.
    """
    device = await get(ctx, device_id, lock=True)
    if device.retired:
        return device
    device.retired = True
    await save_and_publish(ctx, device, retired_at=ctx.now)
    return device
