"""The event catalog: every topic, every event type with its payload and key, and every
consumer group. The single source for topic creation, the published contract
(``docs/events/``), the Kubernetes KafkaTopic/KEDA manifests' tests and the consumers.

Retention figures: 7 days for fact topics (Kafka's own default ``log.retention.hours=168``)
and 14 days for dead-letter topics, long enough to replay after a week-end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from dataclasses import dataclass

from pydantic import BaseModel

if TYPE_CHECKING:  # the envelope module imports the catalog
    from counterflow_shared.events.envelope import Envelope

from counterflow_shared.events.payloads import branches, devices, diversions, mobile, rules, scores, tickets

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    """A Kafka topic of the catalog.

    Attributes:
        name: topic name without the environment prefix.
        key: what the record key is (documentation).
        partitions: partition count (also the ceiling of consumer replicas).
        compacted: ``cleanup.policy=compact`` (state) instead of ``delete`` (facts).
        retention_ms: ``retention.ms`` for delete topics (milliseconds), ``None`` for compacted.
    """

    name: str
    key: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = 7 * DAY_MS
    description: str = ""

    @property
    def config(self) -> dict[str, str]:
        """Topic-level configs for ``CreateTopics``."""
        if self.compacted:
            return {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": str(3600 * 1000)}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


BRANCH_TICKETS = Topic("branch.tickets.v1", "branch_id", 6, description="every ticket transition")
BRANCH_LOAD = Topic("branch.load.v1", "branch_id", 3, compacted=True, retention_ms=None, description="branch load snapshots")
BRANCH_DIRECTORY = Topic("branch.directory.v1", "branch_id", 3, compacted=True, retention_ms=None, description="branch profiles: hours, services, time zone")
CHANNEL_DIVERSIONS = Topic("channel.diversions.v1", "customer_id", 6, description="diversion offered/accepted/declined/completed/expired")
CHANNEL_RULES = Topic("channel.rules.v1", "scope", 1, compacted=True, retention_ms=None, description="active channel rule set")
SELFSERVICE_DEVICES = Topic("selfservice.devices.v1", "device_id", 6, compacted=True, retention_ms=None, description="device state")
SELFSERVICE_TRANSACTIONS = Topic("selfservice.transactions.v1", "device_id", 6, description="transactions at devices")
MOBILE_ACTIVITY = Topic("mobile.activity.v1", "customer_id", 6, description="remote tickets, appointments, drafts, notifications")
CUSTOMER_SCORES = Topic("customer.scores.v1", "customer_id", 6, compacted=True, retention_ms=None, description="tier and propensity")

TOPICS: tuple[Topic, ...] = (
    BRANCH_TICKETS,
    BRANCH_LOAD,
    BRANCH_DIRECTORY,
    CHANNEL_DIVERSIONS,
    CHANNEL_RULES,
    SELFSERVICE_DEVICES,
    SELFSERVICE_TRANSACTIONS,
    MOBILE_ACTIVITY,
    CUSTOMER_SCORES,
)

#: which services write each topic (their outbox relays): the Kafka ACLs of
#: :mod:`counterflow_shared.events.acl` let a service's user write these and nothing else
#: (dead-letter topics: the consumer group's own service). Checked against the services'
#: code by the ACL tests (a service that publishes elsewhere is refused by the broker).
TOPIC_PRODUCERS: dict[str, tuple[str, ...]] = {
    BRANCH_TICKETS.name: ("ticketing",),
    BRANCH_LOAD.name: ("ticketing",),
    BRANCH_DIRECTORY.name: ("ticketing",),
    CHANNEL_RULES.name: ("ticketing",),
    CHANNEL_DIVERSIONS.name: ("ticketing", "selfservice", "mobile-gateway"),
    SELFSERVICE_DEVICES.name: ("selfservice",),
    SELFSERVICE_TRANSACTIONS.name: ("selfservice",),
    MOBILE_ACTIVITY.name: ("mobile-gateway",),
    CUSTOMER_SCORES.name: ("scoring",),
}


@dataclass(frozen=True)
class EventType:
    """One event type: CloudEvents ``type`` (``<name>.v<version>``), its topic, payload
    model and the payload attribute used as key/subject."""

    name: str
    version: int
    topic: Topic
    payload: type[BaseModel]
    key: Callable[[BaseModel], str]
    description: str = ""

    @property
    def type(self) -> str:
        """The CloudEvents ``type`` attribute, e.g. ``branch.ticket.issued.v1``."""
        return f"{self.name}.v{self.version}"

    def key_of(self, payload: BaseModel) -> str:
        """The Kafka key / CloudEvents subject of ``payload``."""
        return str(self.key(payload))


def _attr(name: str) -> Callable[[BaseModel], str]:
    return lambda p: getattr(p, name)


_T = tickets
EVENT_TYPES: tuple[EventType, ...] = (
    EventType("branch.ticket.issued", 1, BRANCH_TICKETS, _T.TicketIssued, _attr("branch_id"), "ticket issued"),
    EventType("branch.ticket.called", 1, BRANCH_TICKETS, _T.TicketCalled, _attr("branch_id"), "ticket called"),
    EventType("branch.ticket.recalled", 1, BRANCH_TICKETS, _T.TicketRecalled, _attr("branch_id"), "ticket called again"),
    EventType("branch.ticket.serving_started", 1, BRANCH_TICKETS, _T.TicketServingStarted, _attr("branch_id"), "service started"),
    EventType("branch.ticket.served", 1, BRANCH_TICKETS, _T.TicketServed, _attr("branch_id"), "service finished"),
    EventType("branch.ticket.no_show", 1, BRANCH_TICKETS, _T.TicketNoShow, _attr("branch_id"), "customer did not come"),
    EventType("branch.ticket.transferred", 1, BRANCH_TICKETS, _T.TicketTransferred, _attr("branch_id"), "moved to another queue"),
    EventType("branch.ticket.priority_raised", 1, BRANCH_TICKETS, _T.TicketPriorityRaised, _attr("branch_id"), "priority raised by hand"),
    EventType("branch.ticket.cancelled", 1, BRANCH_TICKETS, _T.TicketCancelled, _attr("branch_id"), "cancelled"),
    EventType("branch.ticket.diverted", 1, BRANCH_TICKETS, _T.TicketDiverted, _attr("branch_id"), "customer took another channel"),
    EventType("branch.ticket.expired", 1, BRANCH_TICKETS, _T.TicketExpired, _attr("branch_id"), "business day closed before service"),
    EventType("branch.remote_ticket.rejected", 1, BRANCH_TICKETS, _T.RemoteTicketRejected, _attr("branch_id"), "remote request refused"),
    EventType("branch.load.snapshot", 1, BRANCH_LOAD, branches.BranchLoadSnapshot, _attr("branch_id"), "branch load"),
    EventType("branch.profile.updated", 1, BRANCH_DIRECTORY, branches.BranchProfile, _attr("branch_id"), "branch profile"),
    EventType("channel.diversion.offered", 1, CHANNEL_DIVERSIONS, diversions.DiversionOffered, _attr("key"), "offer made"),
    EventType("channel.diversion.accepted", 1, CHANNEL_DIVERSIONS, diversions.DiversionAccepted, _attr("key"), "offer accepted"),
    EventType("channel.diversion.declined", 1, CHANNEL_DIVERSIONS, diversions.DiversionDeclined, _attr("key"), "offer declined"),
    EventType("channel.diversion.completed", 1, CHANNEL_DIVERSIONS, diversions.DiversionCompleted, _attr("key"), "diverted transaction done"),
    EventType("channel.diversion.expired", 1, CHANNEL_DIVERSIONS, diversions.DiversionExpired, _attr("key"), "accepted but not done in time"),
    EventType("channel.ruleset.activated", 1, CHANNEL_RULES, rules.RuleSetActivated, _attr("scope"), "rule set activated or rolled back"),
    EventType("selfservice.device.state", 1, SELFSERVICE_DEVICES, devices.DeviceState, _attr("device_id"), "device state"),
    EventType("selfservice.transaction.done", 1, SELFSERVICE_TRANSACTIONS, devices.DeviceTransactionDone, _attr("device_id"), "transaction at a device"),
    EventType("mobile.remote_ticket.requested", 1, MOBILE_ACTIVITY, mobile.RemoteTicketRequested, _attr("customer_id"), "join a queue from the app"),
    EventType("mobile.remote_ticket.cancelled", 1, MOBILE_ACTIVITY, mobile.RemoteTicketCancelled, _attr("customer_id"), "remote ticket cancelled"),
    EventType("mobile.appointment.booked", 1, MOBILE_ACTIVITY, mobile.AppointmentBooked, _attr("customer_id"), "appointment booked"),
    EventType("mobile.appointment.rescheduled", 1, MOBILE_ACTIVITY, mobile.AppointmentRescheduled, _attr("customer_id"), "appointment moved"),
    EventType("mobile.appointment.cancelled", 1, MOBILE_ACTIVITY, mobile.AppointmentCancelled, _attr("customer_id"), "appointment cancelled"),
    EventType("mobile.draft.completed", 1, MOBILE_ACTIVITY, mobile.DraftCompleted, _attr("customer_id"), "hand-off draft completed"),
    EventType("mobile.draft.expired", 1, MOBILE_ACTIVITY, mobile.DraftExpired, _attr("customer_id"), "hand-off draft expired"),
    EventType("mobile.notification.issued", 1, MOBILE_ACTIVITY, mobile.NotificationIssued, _attr("customer_id"), "notification for push"),
    EventType("mobile.feedback.given", 1, MOBILE_ACTIVITY, mobile.FeedbackGiven, _attr("customer_id"), "customer feedback after service"),
    EventType("customer.score.updated", 1, CUSTOMER_SCORES, scores.CustomerScored, _attr("customer_id"), "tier/propensity changed"),
)


@dataclass(frozen=True)
class ConsumerGroup:
    """A consumer group: its owning service and the topics it reads. Its dead-letter
    topic is ``dlq.<name>`` (same partitions as its widest input, 14 days retention)."""

    name: str
    service: str
    topics: tuple[Topic, ...]
    description: str = ""

    @property
    def dead_letter_topic(self) -> Topic:
        """The dead-letter topic of this group."""
        return Topic(
            f"dlq.{self.name}",
            "original key",
            max(t.partitions for t in self.topics),
            retention_ms=14 * DAY_MS,
            description=f"events {self.name} could not process",
        )


CONSUMER_GROUPS: tuple[ConsumerGroup, ...] = (
    ConsumerGroup(
        "ticketing",
        "ticketing",
        (CUSTOMER_SCORES, SELFSERVICE_DEVICES, MOBILE_ACTIVITY, CHANNEL_RULES, CHANNEL_DIVERSIONS),
        "tier, device availability, remote tickets/appointments, rule sets, offers made in the app and every diversion's closure",
    ),
    ConsumerGroup("selfservice", "selfservice", (CHANNEL_DIVERSIONS, BRANCH_DIRECTORY), "expected diverted customers; branch names and languages for the fleet page"),
    ConsumerGroup(
        "mobile-gateway",
        "mobile-gateway",
        (BRANCH_TICKETS, BRANCH_LOAD, BRANCH_DIRECTORY, CHANNEL_DIVERSIONS, CHANNEL_RULES, CUSTOMER_SCORES),
        "ticket status, waits, branch info, hand-off drafts, rule sets, tier/propensity for the channel rules",
    ),
    ConsumerGroup(
        "scoring",
        "scoring",
        (BRANCH_TICKETS, SELFSERVICE_TRANSACTIONS, MOBILE_ACTIVITY, CHANNEL_DIVERSIONS),
        "profile updates and accept/decline history",
    ),
)

_BY_TYPE = {e.type: e for e in EVENT_TYPES}
_BY_PAYLOAD = {e.payload: e for e in EVENT_TYPES}


def entry(event_type: str) -> EventType:
    """The catalog entry of CloudEvents type ``event_type``; raises ``KeyError`` if unknown."""
    return _BY_TYPE[event_type]


def entry_for_payload(model: type[BaseModel]) -> EventType:
    """The catalog entry whose payload model is exactly ``model``; raises ``KeyError``."""
    return _BY_PAYLOAD[model]


def payload_of(envelope: Envelope) -> BaseModel:
    """Validate ``envelope.data`` into its catalog payload model.

    Raises:
        KeyError: unknown event type.
        pydantic.ValidationError: data does not match the payload schema.
    """
    return entry(envelope.type).payload.model_validate(envelope.data)


def consumer_group(name: str) -> ConsumerGroup:
    """The consumer group called ``name``; raises ``KeyError``."""
    for group in CONSUMER_GROUPS:
        if group.name == name:
            return group
    raise KeyError(name)


def all_topics() -> tuple[Topic, ...]:
    """Every topic, dead-letter topics included."""
    return TOPICS + tuple(g.dead_letter_topic for g in CONSUMER_GROUPS)
