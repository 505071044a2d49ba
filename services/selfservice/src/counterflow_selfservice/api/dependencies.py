"""Dependencies of the selfservice routes: the domain context, device and staff
authentication.

Devices authenticate with ``Authorization: Bearer <device_id>:<secret>`` over TLS. The
row is read on every request and the Argon2id check is memoised per stored hash
(:class:`counterflow_shared.web.auth.VerifiedSecrets`), so a heartbeat does not pay
Argon2's deliberate cost every 30 seconds while retirement and rotation take effect at
once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from counterflow_shared.runtime import RuntimeDep, ServiceRuntime, SessionDep
from counterflow_shared.web.auth import StaffPrincipal, VerifiedSecrets, staff_dependency
from counterflow_shared.web.problems import Problem
from counterflow_selfservice.domain.context import Ctx, context_of
from counterflow_selfservice.persistence import devices as device_repo

_bearer = HTTPBearer(auto_error=False, scheme_name="DeviceCredentials", description="device credentials: `<device_id>:<secret>`")
_CACHE_KEY = "device_secret_cache"


async def get_ctx(session: SessionDep, runtime: RuntimeDep) -> Ctx:
    """The unit of work of this request."""
    return await context_of(runtime, session)


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Authentication required", detail)


def _verified(runtime: ServiceRuntime) -> VerifiedSecrets:
    return runtime.state.setdefault(_CACHE_KEY, VerifiedSecrets())


async def current_device(
    session: SessionDep,
    runtime: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The id of the device calling, from its bearer credentials.

    Raises:
        Problem: 401 when the header is missing or malformed, the device is unknown
            or retired, or the secret does not match.
    """
    if creds is None:
        raise _unauthorized("missing device credentials")
    device_id, sep, secret = creds.credentials.partition(":")
    if not sep or not device_id or not secret:
        raise _unauthorized("device credentials are <device_id>:<secret>")
    found = await device_repo.credentials(session, device_id)
    if found is None:
        raise _unauthorized("unknown device")
    stored_hash, retired = found
    if retired:
        raise _unauthorized("device credentials revoked (device retired)")
    if not await _verified(runtime).verify(device_id, stored_hash, secret):
        raise _unauthorized("wrong device secret")
    return device_id


DeviceIdDep = Annotated[str, Depends(current_device)]
OperationsDep = Annotated[StaffPrincipal, Depends(staff_dependency("operations"))]
StaffDep = Annotated[StaffPrincipal, Depends(staff_dependency())]
