"""Least-privilege Kafka ACLs, derived from the event catalog (ADR 0215).

Each service has its own Kafka user (``User:<service>``: SCRAM-SHA-512 locally, a Strimzi
``KafkaUser`` on Kubernetes) allowed exactly:

* ``Write`` + ``Describe`` on the topics it produces (:data:`~counterflow_shared.events.catalog.TOPIC_PRODUCERS`)
  and on its consumer group's dead-letter topic;
* ``Read`` + ``Describe`` on its consumer group's input topics (the compacted ones are also
  replayed into its read models, group-less, with the same rights);
* ``Read`` on its own consumer groups: the group name is a prefix (``<topic prefix><group>``;
  tests append a suffix), so the pattern is ``PREFIXED``.

Nothing else: no ``Create`` (topics are made by the admin / Strimzi's topic operator), no
``Alter``, no cluster rights. The same list renders the Strimzi ``KafkaUser`` manifests
(``deploy/k8s/generate.py``) and is applied to the local broker by ``infra.sh``
(``python -m counterflow_shared.events.acl apply``), so the two cannot drift.

Protocol codes (resource type, pattern type, operation, permission) are those of Apache
Kafka's ``org.apache.kafka.common.resource.ResourceType``, ``PatternType``,
``org.apache.kafka.common.acl.AclOperation`` and ``AclPermissionType``; aiokafka 0.14 ships the
``CreateAcls`` request (API key 30) but no admin method, so :func:`apply_grants` sends it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import IntEnum

import typer
from aiokafka.protocol.admin import CreateAclsRequest

from counterflow_shared.events.catalog import CONSUMER_GROUPS, TOPIC_PRODUCERS
from counterflow_shared.events.kafka import bounded, new_admin, wait_for_broker
from counterflow_shared.settings import platform_settings


class ResourceType(IntEnum):
    """Kafka ``ResourceType`` codes."""

    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    """Kafka ``PatternType`` codes."""

    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka ``AclOperation`` codes."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8


ALLOW = 3  # AclPermissionType.ALLOW


class AclError(RuntimeError):
    """The broker refused to create an ACL binding (message names the binding)."""


@dataclass(frozen=True)
class Grant:
    """One ACL binding: ``principal`` may do ``operation`` on ``resource`` ``name``."""

    principal: str
    resource: ResourceType
    name: str
    pattern: PatternType
    operation: Operation

    def __str__(self) -> str:
        return f"{self.principal} {self.operation.name} {self.resource.name}:{self.pattern.name}:{self.name}"


def services() -> tuple[str, ...]:
    """Every service that has a Kafka user (one per service with a consumer group or a topic)."""
    names = {g.service for g in CONSUMER_GROUPS} | {s for owners in TOPIC_PRODUCERS.values() for s in owners}
    return tuple(sorted(names))


def produced_by(service: str) -> tuple[str, ...]:
    """Topic names (without prefix) ``service`` writes: its topics and its dead-letter topics."""
    own = [t for t, owners in TOPIC_PRODUCERS.items() if service in owners]
    own += [g.dead_letter_topic.name for g in CONSUMER_GROUPS if g.service == service]
    return tuple(sorted(own))


def consumed_by(service: str) -> tuple[str, ...]:
    """Topic names (without prefix) ``service``'s consumer groups read."""
    return tuple(sorted({t.name for g in CONSUMER_GROUPS if g.service == service for t in g.topics}))


def groups_of(service: str) -> tuple[str, ...]:
    """Consumer group names (without prefix) of ``service``."""
    return tuple(g.name for g in CONSUMER_GROUPS if g.service == service)


def grants(prefix: str = "") -> list[Grant]:
    """Every ACL binding of every service's user, topics and groups under ``prefix``."""
    out: list[Grant] = []
    for service in services():
        user = f"User:{service}"
        for topic in produced_by(service):
            out += [Grant(user, ResourceType.TOPIC, prefix + topic, PatternType.LITERAL, op) for op in (Operation.WRITE, Operation.DESCRIBE)]
        for topic in consumed_by(service):
            out += [Grant(user, ResourceType.TOPIC, prefix + topic, PatternType.LITERAL, op) for op in (Operation.READ, Operation.DESCRIBE)]
        for group in groups_of(service):
            out.append(Grant(user, ResourceType.GROUP, prefix + group, PatternType.PREFIXED, Operation.READ))
    return list(dict.fromkeys(out))  # a topic both written and read needs one Describe


async def apply_grants(bootstrap_servers: str, bindings: list[Grant], *, kafka: dict | None = None, timeout_s: float = 30.0) -> int:
    """Create ``bindings`` on the broker (creating an existing binding is a no-op in Kafka).

    Args:
        kafka: options of a user allowed to alter ACLs (the admin / a super user);
            ``None``: the platform's from the environment.

    Returns:
        the number of bindings sent.

    Raises:
        AclError: the broker refused one (e.g. the caller is not allowed to create ACLs,
            or the broker has no authorizer).
        BrokerTimeout: the broker did not answer within ``timeout_s`` seconds.
    """
    admin = new_admin(bootstrap_servers, timeout_s=timeout_s, kafka=kafka)
    await bounded(admin.start(), timeout_s, "admin start")
    try:
        for g in bindings:
            request = CreateAclsRequest(int(g.resource), g.name, int(g.pattern), g.principal, "*", int(g.operation), ALLOW)
            response = await bounded(admin._send_request(request), timeout_s, "create acls")  # noqa: SLF001 - aiokafka has no create_acls
            for error_code, message in response.creation_responses:
                if error_code:
                    raise AclError(f"{g}: error {error_code} {message or ''}".strip())
    finally:
        await bounded(admin.close(), timeout_s, "admin close")
    return len(bindings)


app = typer.Typer(help="Kafka ACLs of the services' users (from the event catalog)", no_args_is_help=True)


@app.command("show")
def show(prefix: str = typer.Option("", help="topic and group prefix")) -> None:
    """Print every binding, one a line."""
    for g in grants(prefix):
        typer.echo(str(g))


@app.command("apply")
def apply(prefix: str = typer.Option(None, help="topic and group prefix (default: CF_TOPIC_PREFIX)"), wait_s: float = 90.0) -> None:
    """Wait for the broker, then create every binding (as the platform's Kafka user, which
    must be allowed to alter ACLs: the local broker's ``admin``)."""
    p = platform_settings()
    bindings = grants(p.topic_prefix if prefix is None else prefix)

    async def _run() -> int:
        await wait_for_broker(p.kafka_bootstrap_servers, wait_s)
        return await apply_grants(p.kafka_bootstrap_servers, bindings)

    typer.echo(f"{asyncio.run(_run())} ACL bindings applied for {', '.join(services())}")


if __name__ == "__main__":
    app()
