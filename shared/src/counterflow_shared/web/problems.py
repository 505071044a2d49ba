"""RFC 9457 problem details (``application/problem+json``).

Every error a service returns has a stable ``type`` URI per error kind
(``https://counterflow.dev/problems/<slug>``), a human ``title``, the HTTP ``status``, a
``detail`` and, for input errors, ``errors`` naming each offending field
(``[{"field": "body.amount", "message": "..."}]``). A database outage is a 503 with
``Retry-After`` logged once per outage (:mod:`counterflow_shared.persistence.outage`); other
unexpected exceptions become a 500 problem without internals, logged with the trace id.
A :class:`Problem` with a ``retry_after_s`` extension gets a ``Retry-After`` header.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from counterflow_shared.persistence.outage import OUTAGE_CLASSES, OUTAGES, is_database_outage

PROBLEM_BASE = "https://counterflow.dev/problems/"
MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    """One offending input: ``field`` is its location (``body.amount``, ``query.limit``)."""

    field: str
    message: str


class ProblemDocument(BaseModel):
    """The RFC 9457 body of every error (``application/problem+json``). Extension members
    (``errors``, ``retry_after_s``, ``counter_id``, ...) may follow the standard ones."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "validation-error",
                    "title": "Request is invalid",
                    "status": 422,
                    "detail": "body.service_type: Field required",
                    "instance": "/v1/kiosk/service-requests",
                    "errors": [{"field": "body.service_type", "message": "Field required"}],
                }
            ]
        },
    )
    type: str = Field(description="stable URI of the error kind, ``https://counterflow.dev/problems/<slug>``")
    title: str = Field(description="short summary of the kind")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what happened this time")
    instance: str | None = Field(default=None, description="the request path")
    errors: list[FieldError] | None = Field(default=None, description="input errors, one per offending field (422)")


#: What each documented error status means, as said in the OpenAPI documents.
PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request",
    401: "Missing or invalid credentials",
    403: "Authenticated, but not allowed to do this (role or branch)",
    404: "A resource named in the path does not exist (or is not visible to the caller)",
    409: "Conflicts with the current state (or with a concurrent change); nothing was applied",
    413: "Request body over the route's limit",
    422: "Invalid input; ``errors`` names each field",
    429: "Rate limited; retry after ``Retry-After`` seconds",
    500: "Internal error; nothing was applied",
    503: "Overloaded or a dependency is unreachable; nothing was applied, retry after ``Retry-After`` seconds",
}


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: each status documented as a problem+json
    :class:`ProblemDocument`. ``descriptions`` override the default text per status,
    keyed ``s404="no such ticket"``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"description": descriptions.get(f"s{status}", PROBLEM_DESCRIPTIONS[status]), "content": {MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}}}
    return out


_PROBLEM_REF = "#/components/schemas/ProblemDocument"
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1, "maximum": 3600}}}


def document_problems(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document say what every route may answer besides its own
    errors (those are in each route's ``responses=``, via :func:`problem_responses`):
    a problem+json 422 where the operation takes input (instead of FastAPI's
    ``HTTPValidationError``, which the service never sends), 413 where it takes a body
    (:class:`~counterflow_shared.web.edge.EdgeGuard`), 503 with ``Retry-After`` (overload,
    database unreachable) and 500 everywhere. Adds the :class:`ProblemDocument` schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app, "_problems_documented", False):
            return build()
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["ProblemDocument"] = problem
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
                if takes_input:
                    responses["422"] = problem_responses(422)[422]
                if operation.get("requestBody"):
                    responses.setdefault("413", problem_responses(413)[413])
                responses.setdefault("503", {**problem_responses(503)[503], "headers": _RETRY_AFTER})
                responses.setdefault("500", problem_responses(500)[500])
                if "429" in responses:
                    responses["429"].setdefault("headers", _RETRY_AFTER)
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused in schemas and f'"#/components/schemas/{unused}"' not in json.dumps(spec["paths"]):
                schemas.pop(unused)
        app._problems_documented = True  # type: ignore[attr-defined]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


class Problem(Exception):
    """An error with its own HTTP status, rendered as problem+json.

    Args:
        status: HTTP status code.
        slug: stable error kind, the last segment of ``type``.
        title: short summary of the kind.
        detail: what happened this time.
        **extra: extension members (e.g. ``counter_id`` of a 409, ``field``); they
            cannot replace ``type``/``title``/``status``/``detail``/``instance``.
    """

    def __init__(self, status: int, slug: str, title: str, detail: str = "", /, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        # extension members never override the RFC 9457 members
        doc = dict(self.extra)
        doc.update({"type": PROBLEM_BASE + self.slug, "title": self.title, "status": self.status, "detail": self.detail or self.title})
        if instance:
            doc["instance"] = instance
        return doc


def not_found(what: str, ident: Any) -> Problem:
    """404 for ``what`` with id ``ident``."""
    return Problem(404, "not-found", f"{what} not found", f"no {what} with id {ident!r}")


def conflict(slug: str, detail: str, **extra: Any) -> Problem:
    """409 of kind ``slug``."""
    return Problem(409, slug, "Conflict with the current state", detail, **extra)


def invalid(field: str, message: str) -> Problem:
    """422 naming ``field`` (for checks that pydantic cannot express)."""
    return Problem(422, "validation-error", "Request is invalid", f"{field}: {message}", errors=[{"field": field, "message": message}])


def problem_response(problem: Problem, request: Request | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """Render ``problem`` as a JSON response with the problem media type."""
    return JSONResponse(problem.body(str(request.url.path) if request else None), status_code=problem.status, media_type=MEDIA_TYPE, headers=headers)


def _field_name(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    """Render :class:`Problem`, validation errors, HTTP errors and crashes as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        retry = exc.extra.get("retry_after_s")
        return problem_response(exc, request, headers={"Retry-After": str(max(1, int(retry)))} if retry is not None else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_name(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(Problem(422, "validation-error", "Request is invalid", detail, errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed", 429: "rate-limited"}.get(exc.status_code, "http-error")
        problem = Problem(exc.status_code, slug, str(exc.detail) if exc.status_code != 404 else "Not found", str(exc.detail))
        return problem_response(problem, request, headers=getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _busy(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        log.warning("http.database_pool_exhausted", path=request.url.path)
        problem = Problem(503, "service-busy", "Service busy", "no database connection became free in time; nothing was applied, retry later")
        return problem_response(problem, request, headers={"Retry-After": "1"})

    @app.exception_handler(DataError)
    async def _unfit(request: Request, exc: DataError) -> JSONResponse:
        # the last line of defence: the edge and the constrained types refuse such values
        # with the field named; reaching here means a bound is missing, so it is logged
        log.error("http.value_does_not_fit", path=request.url.path, error=str(exc.orig)[:200])
        return problem_response(Problem(422, "validation-error", "Request is invalid", "a value does not fit the column it is stored in; nothing was applied"), request)

    @app.exception_handler(IntegrityError)
    async def _clash(request: Request, exc: IntegrityError) -> JSONResponse:
        # two requests raced for the same key: the loser's transaction was rolled back
        log.warning("http.integrity_conflict", path=request.url.path, error=str(exc.orig)[:200])
        return problem_response(conflict("conflict", "the change conflicts with a concurrent one; nothing was applied, read and retry"), request)

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        # Registered per exception class (not on ``Exception``, whose handler Starlette
        # runs in its outermost middleware and then re-raises, so every request would
        # log a traceback); anything that is not an outage goes on to ``_crash``.
        if not is_database_outage(exc):
            raise exc
        runtime = getattr(request.app.state, "runtime", None)
        (runtime.outages if runtime is not None else OUTAGES).failed(exc, request.url.path)
        problem = Problem(503, "database-unavailable", "Service unavailable", "the database cannot be reached; nothing was applied, retry later", retry_after_s=2)
        return problem_response(problem, request, headers={"Retry-After": "2"})

    for cls in OUTAGE_CLASSES:
        app.add_exception_handler(cls, _outage)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path)
        return problem_response(Problem(500, "internal-error", "Internal error", "the request could not be completed; it was not applied"), request)
