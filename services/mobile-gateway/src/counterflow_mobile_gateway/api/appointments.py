"""Appointments: book, list, reschedule, cancel."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from counterflow_shared.runtime import RuntimeDep
from counterflow_shared.web.idempotency import run_idempotent
from counterflow_shared.web.problems import problem_responses
from counterflow_mobile_gateway.api.dependencies import CurrentCustomer, IdempotencyKey, Now, SessionDep
from counterflow_mobile_gateway.api.responses import Appointment
from counterflow_mobile_gateway.api.schemas import AppointmentRequest, RescheduleRequest
from counterflow_mobile_gateway.domain import appointments

router = APIRouter(prefix="/v1/appointments", tags=["appointments"])
_C = {"s401": "missing, invalid or expired access token", "s429": "over the customer's requests per window"}


@router.post(
    "",
    status_code=201,
    response_model=Appointment,
    responses=problem_responses(401, 404, 409, 429, s404="unknown branch", s409="``slot-full``", **_C),
    summary="Book an appointment slot",
)
async def book(body: AppointmentRequest, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """201 with the appointment; 409 ``slot-full``; 422 when ``starts_at`` is not a slot."""

    async def compute() -> tuple[int, dict]:
        return 201, await appointments.book(session, runtime, customer_id=customer.customer_id, branch_id=body.branch_id, service_type=body.service_type, starts_at=body.starts_at, now=now)

    return await run_idempotent(session, runtime.idempotency_keys, scope=f"customer:{customer.customer_id}:appointments", key=key, body=body.model_dump(mode="json"), compute=compute)


@router.get("", response_model=list[Appointment], responses=problem_responses(401, 429, **_C), summary="The customer's appointments, soonest first")
async def list_appointments(customer: CurrentCustomer, session: SessionDep) -> list[dict]:
    """Appointments of the caller."""
    return await appointments.list_appointments(session, customer_id=customer.customer_id)


@router.get("/{appointment_id}", response_model=Appointment, responses=problem_responses(401, 404, 429, s404="unknown, or someone else's", **_C), summary="One of the customer's appointments")
async def get_appointment(appointment_id: str, customer: CurrentCustomer, session: SessionDep) -> dict:
    """404 when unknown or someone else's."""
    return appointments.appointment_view(await appointments.owned_appointment(session, customer_id=customer.customer_id, appointment_id=appointment_id))


@router.post(
    "/{appointment_id}/reschedule",
    response_model=Appointment,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``slot-full`` or ``appointment-not-booked``", **_C),
    summary="Move an appointment to another slot",
)
async def reschedule(appointment_id: str, body: RescheduleRequest, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """200 with the moved appointment; 409 ``slot-full`` / ``appointment-not-booked``."""

    async def compute() -> tuple[int, dict]:
        return 200, await appointments.reschedule(session, runtime, customer_id=customer.customer_id, appointment_id=appointment_id, starts_at=body.starts_at, now=now)

    scope = f"customer:{customer.customer_id}:appointments:{appointment_id}:reschedule"
    return await run_idempotent(session, runtime.idempotency_keys, scope=scope, key=key, body=body.model_dump(mode="json"), compute=compute)


@router.post(
    "/{appointment_id}/cancel",
    response_model=Appointment,
    responses=problem_responses(401, 404, 409, 429, s404="unknown, or someone else's", s409="``appointment-not-booked``", **_C),
    summary="Cancel an appointment",
)
async def cancel(appointment_id: str, customer: CurrentCustomer, session: SessionDep, runtime: RuntimeDep, now: Now, key: IdempotencyKey = None) -> JSONResponse:
    """200 with the cancelled appointment; 409 ``appointment-not-booked``."""

    async def compute() -> tuple[int, dict]:
        return 200, await appointments.cancel(session, runtime, customer_id=customer.customer_id, appointment_id=appointment_id, now=now)

    scope = f"customer:{customer.customer_id}:appointments:{appointment_id}:cancel"
    return await run_idempotent(session, runtime.idempotency_keys, scope=scope, key=key, body={}, compute=compute)
