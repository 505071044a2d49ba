"""The kustomize overlays build, validate strictly against the Kubernetes, Strimzi and KEDA
schemas, and agree with the code: every catalog topic has its KafkaTopic, every consumer
group its ScaledObject, every Deployment its probes, resources, PDB and NetworkPolicy."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import yaml

from counterflow_shared.events.catalog import CONSUMER_GROUPS, all_topics
from counterflow_shared.rules.loader import load_rule_set
from counterflow_shared.settings import PlatformSettings

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
PUBLIC = {"ticketing", "selfservice", "mobile-gateway"}  # kiosk + staff, device, mobile APIs


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"]["labels"]


# --------------------------------------------------------------------------- schemas
def test_every_overlay_builds_and_validates_strictly(built, validate, overlay) -> None:
    result = validate(built[overlay].path)
    report = json.loads(result.stdout)
    bad = [r for r in report["resources"] if r["status"] != "statusValid"]
    assert result.returncode == 0 and not bad, f"{overlay}: {bad or result.stderr}"
    summary = report["summary"]
    assert summary["valid"] == len(built[overlay].docs) and summary["skipped"] == 0 and summary["errors"] == 0


def test_validation_rejects_unknown_fields_and_wrong_types(built, validate, tmp_path) -> None:
    """The validator is not vacuous: one broken copy of each kind family is refused."""
    prod = built["prod"]
    broken = []
    deployment = copy.deepcopy(prod.get("Deployment", "ticketing-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    broken.append(deployment)
    topic = copy.deepcopy(prod.get("KafkaTopic", "branch.tickets.v1"))
    topic["spec"]["partitions"] = "six"
    broken.append(topic)
    scaled = copy.deepcopy(prod.get("ScaledObject", "scoring-worker"))
    scaled["spec"]["maxReplicas"] = 3
    broken.append(scaled)
    kafka = copy.deepcopy(prod.get("Kafka", "counterflow"))
    kafka["spec"]["kafka"]["listeners"][0]["tls"] = "no"
    broken.append(kafka)
    policy = copy.deepcopy(prod.get("NetworkPolicy", "scoring"))
    policy["spec"]["egress"][0]["to"][0]["podSelecter"] = {}
    broken.append(policy)
    rule = copy.deepcopy(prod.get("PrometheusRule", "counterflow"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = 60  # a duration is a string
    rule["spec"]["groups"][0]["rules"][0]["exprr"] = "up"
    broken.append(rule)
    monitor = copy.deepcopy(prod.get("PodMonitor", "counterflow-services"))
    monitor["spec"]["podMetricsEndpoints"][0]["paht"] = "/metrics"
    broken.append(monitor)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken))
    report = json.loads(validate(path).stdout)
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    assert len(statuses) == len(broken)
    assert all(s == "statusInvalid" for s in statuses.values()), statuses


def test_generated_manifests_are_current() -> None:
    result = subprocess.run([sys.executable, str(REPO / "deploy/k8s/generate.py"), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"run .venv/bin/python deploy/k8s/generate.py:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------------- Kafka
def test_every_catalog_topic_has_its_kafka_topic(built, overlay) -> None:
    b = built[overlay]
    topics = {d["spec"]["topicName"]: d for d in b.of("KafkaTopic")}
    assert set(topics) == {t.name for t in all_topics()}, "KafkaTopics and the catalog differ"
    brokers = sum(p["spec"]["replicas"] for p in b.of("KafkaNodePool") if "broker" in p["spec"]["roles"])
    min_isr = int(b.get("Kafka", "counterflow")["spec"]["kafka"]["config"]["min.insync.replicas"])
    for topic in all_topics():
        spec = topics[topic.name]["spec"]
        assert topics[topic.name]["metadata"]["labels"]["strimzi.io/cluster"] == "counterflow"
        assert spec["partitions"] == topic.partitions, topic.name
        assert {k: str(v) for k, v in spec["config"].items()} == topic.config, topic.name
        assert spec["config"]["cleanup.policy"] == ("compact" if topic.compacted else "delete")
        assert min_isr <= spec["replicas"] <= brokers, f"{topic.name}: replicas {spec['replicas']}, {brokers} brokers, min ISR {min_isr}"
    assert {t for t in topics if t.startswith("dlq.")} == {g.dead_letter_topic.name for g in CONSUMER_GROUPS}


def test_kafka_is_kraft_through_strimzi_v1(built, overlay) -> None:
    b = built[overlay]
    kafka = b.get("Kafka", "counterflow")
    pools = b.of("KafkaNodePool")
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1" and all(p["apiVersion"] == "kafka.strimzi.io/v1" for p in pools)
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == "counterflow" for p in pools)
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "topicOperator" in kafka["spec"]["entityOperator"]
    platform = b.get("ConfigMap", _generated_name(b, "counterflow-platform"))["data"]
    host, port = platform["CF_KAFKA_BOOTSTRAP_SERVERS"].split(":")
    assert host == "counterflow-kafka-bootstrap" and int(port) in {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"]}
    if overlay == "prod":
        assert sum(p["spec"]["replicas"] for p in pools) >= 3


# --------------------------------------------------------------------------- scaling
def test_every_consumer_group_in_code_has_its_scaled_object(built, overlay, service) -> None:
    import importlib

    spec = importlib.import_module(f"{service.module}.main").SPEC
    groups = list(spec.consumers)
    assert groups, f"{service.name} declares no consumer group"
    b = built[overlay]
    prefix = b.get("ConfigMap", _generated_name(b, "counterflow-platform"))["data"].get("CF_TOPIC_PREFIX", "")
    for group in groups:
        scaled = [s for s in b.of("ScaledObject") if {t["metadata"]["consumerGroup"] for t in s["spec"]["triggers"]} == {prefix + group.name}]
        assert len(scaled) == 1, f"{overlay}: no single ScaledObject for consumer group {group.name}"
        s = scaled[0]["spec"]
        target = b.get("Deployment", s["scaleTargetRef"]["name"])
        assert _pod_labels(target)["app.kubernetes.io/name"] == service.name
        assert "serve" in target["spec"]["template"]["spec"]["containers"][0]["args"] and "--no-workers" not in target["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "replicas" not in target["spec"], "KEDA owns the replica count; an apply must not reset it"
        assert {t["type"] for t in s["triggers"]} == {"kafka"}
        assert {t["metadata"]["topic"] for t in s["triggers"]} == {prefix + t.name for t in group.topics}
        assert all(t["metadata"]["bootstrapServers"] == "counterflow-kafka-bootstrap:9093" for t in s["triggers"])
        assert 1 <= s["minReplicaCount"] <= s["maxReplicaCount"] <= max(t.partitions for t in group.topics)
        assert s["cooldownPeriod"] >= 60
        assert s["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60


def test_api_deployments_scale_on_cpu(built, overlay, service) -> None:
    b = built[overlay]
    hpas = [h for h in b.of("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == f"{service.name}-api"]
    assert len(hpas) == 1
    spec = hpas[0]["spec"]
    assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    api = b.get("Deployment", f"{service.name}-api")
    assert api["spec"]["template"]["spec"]["containers"][0]["args"] == ["serve", "--no-workers"]
    assert "replicas" not in api["spec"], "the HPA owns the replica count; an apply must not reset it"


# --------------------------------------------------------------------------- workloads
def test_each_service_migrates_in_one_job_as_the_schema_owner(built, overlay, service) -> None:
    """The schema upgrade is a Job run once per release by the user with DDL rights; the
    Deployments' pods run as the runtime user and carry no migration of their own."""
    b = built[overlay]
    job = b.get("Job", f"{service.name}-migrate")
    pod = job["spec"]["template"]["spec"]
    api_image = b.get("Deployment", f"{service.name}-api")["spec"]["template"]["spec"]["containers"][0]["image"]
    secret_of = lambda c: next(e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"] if e["name"] == f"{service.env_prefix}DATABASE_URL")  # noqa: E731
    steps = [*pod.get("initContainers", []), *pod["containers"]]
    assert steps[0]["args"] == ["migrate"] and secret_of(steps[0]) == f"counterflow-{service.name}-database-migrator"
    assert all(c["image"] == api_image for c in steps), "the Job migrates to the heads of the image it deploys"
    assert pod["restartPolicy"] in {"OnFailure", "Never"} and job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0, "a finished Job removes itself, so the next release's apply can create it anew"
    assert _selects(next(p for p in b.of("NetworkPolicy") if p["metadata"]["name"] == service.name)["spec"]["podSelector"], job["spec"]["template"]["metadata"]["labels"]), "the Job may reach its database"
    for c in steps:
        sc = c.get("securityContext", {})
        assert sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["limits"])
    if service.name == "ticketing":
        bootstrap = steps[1]
        assert bootstrap["args"][:2] == ["rules", "propose"], "the initial rule set is proposed after the migration"
        assert secret_of(bootstrap) == "counterflow-ticketing-database", "rows, not schema: the runtime user"
        mounted = {m["mountPath"]: m["name"] for m in bootstrap["volumeMounts"]}
        path = Path(bootstrap["args"][2])
        volume = next(v for v in pod["volumes"] if v["name"] == mounted[str(path.parent)])
        assert path.name in b.get("ConfigMap", volume["configMap"]["name"])["data"], "the bootstrap reads a key of the rule set ConfigMap"
    else:
        assert len(steps) == 1


def test_every_deployment_has_probes_resources_security_pdb_and_policy(built, overlay) -> None:
    b = built[overlay]
    for dep in b.of("Deployment") + b.of("StatefulSet"):
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        labels = _pod_labels(dep)
        for c in pod.get("initContainers", []) + pod["containers"]:
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})) and {"cpu", "memory"} <= set(res.get("limits", {})), f"{name}/{c['name']}: resources"
            sc = c.get("securityContext", {})
            assert sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False, f"{name}/{c['name']}"
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}/{c['name']}: capabilities"
            assert ":" in c["image"] and not c["image"].endswith(":latest"), f"{name}: image tag {c['image']}"
        assert (pod.get("securityContext") or {}).get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
        for c in pod["containers"]:
            assert "readinessProbe" in c and "livenessProbe" in c, f"{name}/{c['name']}: probes"
        assert any(_selects(p["spec"]["podSelector"], labels) and p["spec"]["podSelector"] for p in b.of("NetworkPolicy")), f"{name}: no own NetworkPolicy"
        assert any(_selects(p["spec"]["selector"], labels) for p in b.of("PodDisruptionBudget")), f"{name}: no PodDisruptionBudget"


def test_service_deployments_match_the_service_code(built, overlay, service) -> None:
    b = built[overlay]
    settings = b.get("ConfigMap", f"{service.name}-settings")["data"]
    for key in settings:
        assert key.startswith(service.env_prefix), key
        assert key.removeprefix(service.env_prefix).lower() in service.settings_fields, f"{key} is no setting of {service.name}"
    assert int(settings[f"{service.env_prefix}HTTP_PORT"]) == service.port and settings[f"{service.env_prefix}HTTP_HOST"] == "0.0.0.0"
    secret_of = lambda c: next(e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"] if e["name"] == f"{service.env_prefix}DATABASE_URL")  # noqa: E731
    for component in ("api", "worker"):
        dep = b.get("Deployment", f"{service.name}-{component}")
        pod = dep["spec"]["template"]["spec"]
        main = pod["containers"][0]
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz" and main["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert main["ports"][0]["containerPort"] == service.port
        assert "initContainers" not in pod, "the schema is the migration Job's; pods wait for it (readiness, workers)"
        assert secret_of(main) == f"counterflow-{service.name}-database"
        assert pod["serviceAccountName"] == service.name and b.get("ServiceAccount", service.name)
        names = {e["name"] for e in main["env"]}
        assert f"{service.env_prefix}DATABASE_URL" in names and f"{service.env_prefix}SESSION_SECRET" in names and not any("JWT_SECRET" in n for n in names)
        for e in main["env"]:
            if e["name"].startswith(service.env_prefix):
                assert e["name"].removeprefix(service.env_prefix).lower() in service.settings_fields, e["name"]
        assert f"counterflow/{service.name}:" in main["image"] or f"/counterflow/{service.name}:" in main["image"]


def test_platform_settings_and_tracing(built, overlay) -> None:
    b = built[overlay]
    data = b.get("ConfigMap", _generated_name(b, "counterflow-platform"))["data"]
    fields = set(PlatformSettings.model_fields)
    for key in data:
        assert key == "CF_ENVIRONMENT" or key.removeprefix("CF_").lower() in fields, f"{key} is no platform setting"
    assert data["CF_OTEL_EXPORTER"] == "otlp"
    endpoint = data["CF_OTEL_ENDPOINT"]
    host, port = endpoint.removeprefix("http://").split(":")
    collector = b.get("Service", host)
    assert int(port) in {p["port"] for p in collector["spec"]["ports"]}
    b.get("Deployment", "otel-collector")
    config = yaml.safe_load(b.get("ConfigMap", _generated_name(b, "otel-collector-config"))["data"]["config.yaml"])
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(f":{port}")
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_tail_sampling_sees_whole_traces(built, overlay) -> None:
    """The collector the services reach only load-balances by trace id onto the pods of a
    headless Service; tail sampling (prod) happens behind it, never in the first tier."""
    b = built[overlay]
    front = yaml.safe_load(b.get("ConfigMap", _generated_name(b, "otel-collector-config"))["data"]["config.yaml"])
    assert front["service"]["pipelines"]["traces"]["exporters"] == ["loadbalancing"]
    assert "tail_sampling" not in front.get("processors", {})
    lb = front["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    target = b.get("Service", lb["resolver"]["dns"]["hostname"])
    assert target["spec"]["clusterIP"] == "None", "the resolver must see every sampler pod, not one virtual IP"
    assert lb["resolver"]["dns"]["port"] in {p["port"] for p in target["spec"]["ports"]}
    sampler = b.get("Deployment", "otel-collector-sampler")
    assert _selects({"matchLabels": target["spec"]["selector"]}, _pod_labels(sampler))
    volume = sampler["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
    back = yaml.safe_load(b.get("ConfigMap", volume)["data"]["config.yaml"])
    processors = back["service"]["pipelines"]["traces"]["processors"]
    if overlay == "prod":
        assert "tail_sampling" in processors and sampler["spec"]["replicas"] == 2
        assert back["exporters"]["otlphttp"]["endpoint"] == "${env:OTEL_BACKEND_ENDPOINT}"
    policy = b.get("NetworkPolicy", "otel-collector-sampler")["spec"]
    assert [p["podSelector"]["matchLabels"] for r in policy["ingress"] for p in r["from"]] == [{"app.kubernetes.io/name": "otel-collector"}]


def test_initial_rule_set_config_map_is_the_rules_file(built) -> None:
    source = (REPO / "deploy/config/rulesets/default.yaml").read_text()
    b = built["prod"]
    cm = b.get("ConfigMap", _generated_name(b, "counterflow-rulesets"))
    assert cm["data"]["default.yaml"] == source
    load_rule_set(cm["data"]["default.yaml"], version=1)  # raises when the rule set is invalid
    ticketing = b.get("Deployment", "ticketing-api")["spec"]["template"]["spec"]
    assert {"name": "rulesets", "configMap": {"name": cm["metadata"]["name"]}} in ticketing["volumes"]


# --------------------------------------------------------------------------- network
def test_default_deny_and_only_the_public_apis_behind_the_ingress(built, overlay) -> None:
    b = built[overlay]
    deny = b.get("NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    deny_out = b.get("NetworkPolicy", "default-deny-egress-counterflow")["spec"]
    assert deny_out["policyTypes"] == ["Egress"] and not deny_out.get("egress")
    backends = {p["backend"]["service"]["name"] for ing in b.of("Ingress") for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == PUBLIC
    hosts = [r["host"] for ing in b.of("Ingress") for r in ing["spec"]["rules"]]
    assert len(hosts) == 5 and {h.split(".")[0] for h in hosts} == {"kiosk", "staff", "devices", "mobile", "fleet"}


def test_each_service_reaches_kafka_its_database_redis_and_nothing_else_of_ours(built, overlay, service) -> None:
    b = built[overlay]
    policy = b.get("NetworkPolicy", service.name)["spec"]
    api_pods = _pod_labels(b.get("Deployment", f"{service.name}-api"))
    worker_pods = _pod_labels(b.get("Deployment", f"{service.name}-worker"))
    assert _selects(policy["podSelector"], api_pods) and _selects(policy["podSelector"], worker_pods)
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    peers = [(peer, {p["port"] for p in rule["ports"]}) for rule in policy["egress"] for peer in rule["to"]]
    ours = [(peer["podSelector"]["matchLabels"], ports) for peer, ports in peers if "podSelector" in peer and "namespaceSelector" not in peer]
    allowed = {
        "kafka": lambda m: m == {"strimzi.io/cluster": "counterflow", "strimzi.io/kind": "Kafka"},
        "database": lambda m: m == {"app.kubernetes.io/name": "postgresql", "counterflow.io/database": service.database},
        "redis": lambda m: m.get("app.kubernetes.io/name") == "redis",
        "otel": lambda m: m == {"app.kubernetes.io/name": "otel-collector"},
    }
    for labels, _ in ours:
        assert any(check(labels) for check in allowed.values()), f"{service.name} may reach {labels}"
    reached = {name for name, check in allowed.items() if any(check(labels) for labels, _ in ours)}
    external = [peer["ipBlock"]["cidr"] for peer, _ in peers if "ipBlock" in peer]
    if overlay == "dev":
        assert reached == set(allowed)
    else:  # prod: database and Redis are managed services outside the cluster
        assert reached == {"kafka", "otel"} and len(external) == 2
    sources = [p["namespaceSelector"]["matchLabels"] for rule in policy["ingress"] for p in rule["from"]]
    scrapers = [{"kubernetes.io/metadata.name": "monitoring"}]  # Prometheus, /metrics on the HTTP port
    if service.name in PUBLIC:
        assert sources == [{"kubernetes.io/metadata.name": "ingress-nginx"}, *scrapers]
    else:
        assert sources == scrapers
    assert all(p["port"] == service.port for rule in policy["ingress"] for p in rule["ports"])
    if overlay == "dev":  # the database admits only its own service
        db = b.get("NetworkPolicy", f"{service.name}-postgresql")["spec"]
        assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for r in db["ingress"] for p in r["from"]] == [service.name]
    kafka_peers = b.get("Kafka", "counterflow")["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    assert any(_selects(p.get("podSelector", {"matchLabels": {"-": "-"}}), api_pods) for p in kafka_peers)


# --------------------------------------------------------------------------- secrets
def test_no_secret_committed_and_every_secret_reference_documented(built, overlay) -> None:
    b = built[overlay]
    assert not b.of("Secret"), "Secrets are created in the cluster, never committed"
    for cm in b.of("ConfigMap"):
        for key, value in (cm.get("data") or {}).items():
            if any(w in key.upper() for w in ("SECRET", "PASSWORD", "TOKEN", "PRIVATE")):
                raise AssertionError(f"ConfigMap {cm['metadata']['name']} carries {key}")
            assert "BEGIN PRIVATE KEY" not in value
    doc = OPERATIONS.read_text()
    refs = set()
    for d in b.docs:
        text = json.dumps(d)
        for obj in _walk(d):
            if isinstance(obj, dict) and "secretKeyRef" in obj:
                refs.add((obj["secretKeyRef"]["name"], obj["secretKeyRef"]["key"]))
        assert "stringData" not in text
    assert refs
    for name, key in sorted(refs):
        assert f"`{name}`" in doc and f"`{key}`" in doc, f"docs/operations.md does not document Secret {name} key {key}"


def _walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _generated_name(b, name: str) -> str:
    """The hashed name kustomize gave the generated ConfigMap ``name``."""
    found = [d["metadata"]["name"] for d in b.of("ConfigMap") if d["metadata"]["name"].rsplit("-", 1)[0] == name]
    assert len(found) == 1, f"{b.overlay}: generated ConfigMap {name}: {found}"
    return found[0]


def _parse_cli(root, args: list[str]) -> str:
    """Resolve ``args`` through the (typer) command tree as the CLI would, options parsed;
    returns the leaf command's name. Raises the CLI's usage error when they do not parse."""
    ctx = root.make_context("cli", list(args))
    command, rest, name = root, list(args), ""
    while hasattr(command, "list_commands"):  # a group (typer vendors its own click classes)
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, list(rest), parent=ctx)
    return name


def test_every_container_command_is_one_the_service_cli_accepts(built, overlay, service) -> None:
    """Each container's ``args`` parse with the service's own command line (typer), options
    included; the rule set path is checked against the repository's file."""
    import importlib

    import pytest
    import typer

    root = typer.main.get_command(importlib.import_module(f"{service.module}.cli").app)
    for bogus in (["sevre"], ["serve", "--no-such-option"]):  # the check can fail
        with pytest.raises(Exception, match="No such"):
            _parse_cli(root, bogus)
    b = built[overlay]
    leaves = []
    for dep in b.of("Deployment") + b.of("Job"):
        if _pod_labels(dep).get("app.kubernetes.io/name") != service.name:
            continue
        pod = dep["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            args = [a.replace("/etc/counterflow/rulesets", str(REPO / "deploy/config/rulesets")) for a in c["args"]]
            leaves.append(_parse_cli(root, args))
    assert {"migrate", "serve"} <= set(leaves)
