"""deploy/compose/compose.yaml checked statically (no Docker engine here): the components,
pinned images, healthchecks and the health-gated start order; its topic-creation step is
run for real against the local broker under a random topic prefix."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from counterflow_shared.events.security import client_env, client_options
from counterflow_shared.events.catalog import all_topics
from counterflow_shared.events.kafka import delete_topics

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
APPS = ("ticketing", "selfservice", "mobile-gateway", "scoring")
INFRA = ("kafka", "postgres", "redis", "otel-collector")


@pytest.fixture(scope="module")
def compose() -> dict:
    """The Compose file, YAML anchors and merge keys resolved."""
    return yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())


def _interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with the defaults (no variable set)."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", value)


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must use the long form with conditions"
    return {name: spec["condition"] for name, spec in deps.items()}


def test_every_component_is_there(compose) -> None:
    services = compose["services"]
    for name in (*APPS, *INFRA, "kafka-topics", *(f"migrate-{a}" for a in APPS)):
        assert name in services, name
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "single-node KRaft"
    assert "ZOOKEEPER" not in " ".join(kafka)
    assert str(kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false", "topics come from the catalog"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka["CLUSTER_ID"]), "KRaft cluster id is a base64 UUID"


def test_images_are_pinned_and_built_from_our_dockerfiles(compose) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
        if name in INFRA:
            assert re.search(r":\d+\.\d+(\.\d+)?", image), f"{name}: exact version expected, got {image}"
        if "build" in service:
            dockerfile = (COMPOSE_DIR / service["build"]["context"] / service["build"]["dockerfile"]).resolve()
            assert dockerfile.is_file() and dockerfile.parent.parent == REPO / "deploy" / "docker", dockerfile
    built = {s["image"] for s in compose["services"].values() if "build" in s}
    for app in APPS:
        assert f"counterflow/{app}:dev" in built, f"no build for {app}"


def test_data_stores_and_kafka_have_healthchecks(compose) -> None:
    for name in ("kafka", "postgres", "redis"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and check["retries"] >= 3
    assert "-h" in compose["services"]["postgres"]["healthcheck"]["test"], "TCP check: the init phase listens on the socket only"


def test_start_order_is_health_gated(compose, service_facts) -> None:
    services = compose["services"]
    assert _depends(services["kafka-topics"]) == {"kafka": "service_healthy"}
    for app in APPS:
        migrate = services[f"migrate-{app}"]
        assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
        assert _depends(migrate)["postgres"] == "service_healthy"
        assert migrate["image"] == services[app]["image"], "migrations run with the service's own image"
        deps = _depends(services[app])
        assert deps[f"migrate-{app}"] == "service_completed_successfully"
        assert deps["kafka-topics"] == "service_completed_successfully"
        assert deps["redis"] == "service_healthy"
        assert "otel-collector" in deps
    bootstrap = services["rules-bootstrap"]
    assert bootstrap["command"][:2] == ["rules", "propose"] and bootstrap["image"] == services["ticketing"]["image"]
    assert _depends(bootstrap) == {"migrate-ticketing": "service_completed_successfully"}
    assert _depends(services["ticketing"])["rules-bootstrap"] == "service_completed_successfully"
    host_dir, mounted = bootstrap["volumes"][0].split(":")[:2]
    target = Path(bootstrap["command"][2])
    assert target.parent == Path(mounted) and (COMPOSE_DIR / host_dir / target.name).is_file()


def test_service_settings_match_the_code(compose, service_facts) -> None:
    services = compose["services"]
    init_sql = (COMPOSE_DIR / "postgres-init.sql").read_text()
    for app in APPS:
        facts = service_facts[app]
        env = {k: _interpolate(str(v)) for k, v in services[app]["environment"].items()}
        assert f"127.0.0.1:{facts.port}:{facts.port}" in services[app]["ports"]
        assert env["CF_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["CF_REDIS_URL"].startswith("redis://redis:6379/")
        assert env["CF_POSTGRES_DSN_TEMPLATE"].startswith("postgresql+asyncpg://") and "@postgres:5432/{database}" in env["CF_POSTGRES_DSN_TEMPLATE"]
        assert f"CREATE DATABASE {facts.database};" in init_sql
        assert env["CF_OTEL_EXPORTER"] == "otlp" and env["CF_OTEL_ENDPOINT"] == "http://otel-collector:4318"
        for key in env:
            if key.startswith(facts.env_prefix):
                assert key.removeprefix(facts.env_prefix).lower() in facts.settings_fields, key
    collector = yaml.safe_load((COMPOSE_DIR / "otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    mounted = services["otel-collector"]["volumes"][0].split(":")[0]
    assert (COMPOSE_DIR / mounted).resolve() == (COMPOSE_DIR / "otel-collector.yaml").resolve()


def test_every_copied_path_survives_the_dockerignore(compose) -> None:
    """What a Dockerfile COPYs from the context is not excluded by its .dockerignore
    (Docker's rules: the last matching pattern wins, ``!`` re-includes)."""
    for app in APPS:
        dockerfile = REPO / "deploy" / "docker" / app / "Dockerfile"
        patterns = [p for p in (dockerfile.parent / "Dockerfile.dockerignore").read_text().splitlines() if p and not p.startswith("#")]
        sources = []
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                sources += line.split()[1:-1]
        assert sources
        for source in sources:
            files = [source] if (REPO / source).is_file() else [str(p.relative_to(REPO)) for p in (REPO / source).rglob("*.py")]
            assert files, source
            for f in files:
                if "__pycache__" in f:
                    continue
                assert _included(f, patterns), f"{app}: {f} is excluded from the build context"


def _included(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern.lstrip("!").rstrip("/")
        if p.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, p[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, p) and prefix.count("/") == p.count("/") for prefix in prefixes)
        if hit:
            included = negate
    return included


async def _topic_facts(bootstrap: str, names: list[str]) -> dict[str, tuple[int, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        partitions = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in partitions])
        policy = {}
        for response in configs:
            for resource in response.resources:
                name, entries = resource[3], resource[4]
                policy[name] = next(e[1] for e in entries if e[0] == "cleanup.policy")
        return {n: (partitions[n], policy[n]) for n in partitions}
    finally:
        await admin.close()


def test_the_topic_step_creates_every_catalog_topic(compose, image_env, infrastructure) -> None:
    """The kafka-topics container's own command, run in the ticketing image's environment
    against the local broker with a random prefix (and the topics deleted afterwards)."""
    step = compose["services"]["kafka-topics"]
    assert step["entrypoint"] == ["python", "-c"]
    prefix = f"t{uuid.uuid4().hex[:10]}."
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CF_")},
        "CF_KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        **client_env(),
        "CF_TOPIC_PREFIX": prefix,
    }
    names = [prefix + t.name for t in all_topics()]
    try:
        result = subprocess.run([str(image_env("ticketing")), "-c", step["command"][0]], env=env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-3000:]
        facts = asyncio.run(_topic_facts(infrastructure.kafka_bootstrap_servers, names))
        for topic in all_topics():
            assert facts[prefix + topic.name] == (topic.partitions, topic.config["cleanup.policy"]), topic.name
    finally:
        asyncio.run(delete_topics(infrastructure.kafka_bootstrap_servers, names))
