"""Handlers of the events consumed by the ``ticketing`` consumer group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from counterflow_shared.events.consumer import Handler

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime


def handlers(runtime: "ServiceRuntime") -> Mapping[str, Handler]:
    """CloudEvents type -> handler for this service's consumer group."""
    return {}
