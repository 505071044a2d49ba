#!/usr/bin/env bash
# Local infrastructure without Docker: Apache Kafka (KRaft, JVM, jars from Maven Central),
# PostgreSQL and Redis (Debian packages), all on 127.0.0.1.
#   infra.sh start [kafka|postgres|redis ...]   start (install first when missing); idempotent
#   infra.sh stop  [kafka|postgres|redis ...]   stop cleanly
#   infra.sh status
#   infra.sh start --record FILE   also write to FILE the components this call started
# With no component names, all three.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

KAFKA_DATA="$CF_STATE_DIR/kafka-data"
KAFKA_PID="$RUN_DIR/kafka.pid"
REDIS_PID="$RUN_DIR/redis.pid"
PG_DATA="$CF_STATE_DIR/pg"

# ---------------------------------------------------------------- Kafka
kafka_fetch() {
  [ -f "$KAFKA_HOME/.complete" ] && return 0
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_HOME"
  mkdir -p "$KAFKA_HOME"
  cat > "$KAFKA_HOME/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.counterflow.local</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
  (cd "$KAFKA_HOME" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime) \
    || die "could not fetch Kafka $KAFKA_VERSION with Maven (command: mvn dependency:copy-dependencies in $KAFKA_HOME)"
  touch "$KAFKA_HOME/.complete"
}

# Security material of the local broker (ADR 0215), made once per machine in
# $KAFKA_SECURITY_DIR: a CA and the broker's certificate (openssl; SAN 127.0.0.1 and
# localhost), a random password per Kafka user (admin, the controller and one per service),
# the broker's security properties (broker-security.properties, also used by the tests'
# private brokers), the SCRAM credentials the storage format adds (scram-credentials) and
# client.env (the CF_KAFKA_* variables of the admin user, sourced by env.sh).
kafka_security() {
  local d="$KAFKA_SECURITY_DIR"
  [ -f "$d/.complete" ] && return 0
  command -v openssl >/dev/null || apt_install openssl
  say "generating the local Kafka CA, broker certificate and SCRAM passwords in $d"
  rm -rf "$d"; mkdir -p "$d/passwords"; chmod 700 "$d"
  openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes -subj "/CN=Counterflow local Kafka CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || die "openssl could not make the local Kafka CA"
  openssl req -newkey rsa:3072 -sha256 -nodes -subj "/CN=127.0.0.1" -keyout "$d/broker.key" -out "$d/broker.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$d/broker.ext"
  openssl x509 -req -sha256 -days 3650 -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -extfile "$d/broker.ext" -out "$d/broker.crt" >/dev/null 2>&1 || die "openssl could not sign the broker certificate"
  # Kafka's PEM key store: an unencrypted PKCS#8 key followed by the certificate chain
  openssl pkcs8 -topk8 -nocrypt -in "$d/broker.key" > "$d/broker-keystore.pem"
  cat "$d/broker.crt" "$d/ca.pem" >> "$d/broker-keystore.pem"
  local u scram=""
  for u in controller $KAFKA_USERS; do
    openssl rand -hex 24 > "$d/passwords/$u"
    [ "$u" = controller ] || scram="$scram SCRAM-SHA-512=[name=$u,password=$(cat "$d/passwords/$u")]"
  done
  printf '%s\n' $scram > "$d/scram-credentials"
  local admin_pw controller_pw; admin_pw=$(cat "$d/passwords/admin"); controller_pw=$(cat "$d/passwords/controller")
  cat > "$d/broker-security.properties" <<PROPS
# clients: TLS + SCRAM-SHA-512 on the SASL_SSL listener; controller: SASL PLAIN on loopback
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_pw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$controller_pw" user_controller="$controller_pw";
ssl.keystore.type=PEM
ssl.keystore.location=$d/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$d/ca.pem
ssl.endpoint.identification.algorithm=https
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
PROPS
  cat > "$d/client.env" <<ENV
# the admin user of the local broker (tests, topic creation, tools); services get their own users
export CF_KAFKA_SECURITY_PROTOCOL=SASL_SSL
export CF_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export CF_KAFKA_SASL_USERNAME=admin
export CF_KAFKA_SASL_PASSWORD=$admin_pw
export CF_KAFKA_SSL_CAFILE=$d/ca.pem
ENV
  chmod 600 "$d"/*.key "$d"/*.pem "$d"/passwords/* "$d"/broker-security.properties "$d"/scram-credentials "$d/client.env"
  rm -f "$d/broker.csr" "$d/broker.ext"
  touch "$d/.complete"
}

kafka_config() {
  cat > "$CF_STATE_DIR/kafka.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DATA
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
PROPS
  cat "$KAFKA_SECURITY_DIR/broker-security.properties" >> "$CF_STATE_DIR/kafka.properties"
}

kafka_java() { java -Xms256m -Xmx768m -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" "$@"; }

kafka_start() {
  if pid_alive "$KAFKA_PID" && port_open "$KAFKA_PORT"; then return 1; fi
  kafka_fetch
  kafka_security
  kafka_config
  # a data directory formatted before the broker was secured (no SCRAM users in its
  # metadata) holds only local test data: it is formatted again, once
  if [ -f "$KAFKA_DATA/meta.properties" ] && [ ! -f "$KAFKA_DATA/.secured" ]; then
    say "the local Kafka data in $KAFKA_DATA predates SCRAM/TLS: formatting it again (local test data only)"
    rm -rf "$KAFKA_DATA"
  fi
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    mkdir -p "$KAFKA_DATA"
    local cluster_id; cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    local scram=() c
    while read -r c; do [ -n "$c" ] && scram+=(--add-scram "$c"); done < "$KAFKA_SECURITY_DIR/scram-credentials"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$CF_STATE_DIR/kafka.properties" "${scram[@]}" >>"$LOG_DIR/kafka.log" 2>&1 \
      || die "kafka storage format failed, see $LOG_DIR/kafka.log"
    touch "$KAFKA_DATA/.secured"
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (TLS + SCRAM-SHA-512)"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$CF_STATE_DIR/kafka.properties" >>"$LOG_DIR/kafka.log" 2>&1 &
  echo $! > "$KAFKA_PID"
  # TLS start-up on a loaded 2-core machine can take well over a minute
  local limit="${CF_KAFKA_START_TIMEOUT_S:-180}"
  for _ in $(seq 1 $((limit * 2))); do
    port_open "$KAFKA_PORT" && break
    pid_alive "$KAFKA_PID" || die "Kafka exited during start, see $LOG_DIR/kafka.log"
    sleep 0.5
  done
  port_open "$KAFKA_PORT" || { kafka_stop; die "Kafka did not open port $KAFKA_PORT in $limit s, see $LOG_DIR/kafka.log"; }
  # clients of this machine authenticate from now on (env.sh sources client.env when the
  # marker says the broker on KAFKA_PORT is the secured one)
  cp "$KAFKA_SECURITY_DIR/client.env" "$RUN_DIR/kafka-client.env"
  # each service's user may touch only its own topics and groups (idempotent; catalog-derived)
  if [ -x "$VENV_PY" ]; then
    (source "$KAFKA_SECURITY_DIR/client.env"; "$VENV_PY" -m counterflow_shared.events.acl apply --prefix "" >>"$LOG_DIR/kafka.log" 2>&1) \
      || die "could not apply the Kafka ACLs, see $LOG_DIR/kafka.log"
  fi
  return 0
}

kafka_stop() {
  pid_alive "$KAFKA_PID" || { rm -f "$KAFKA_PID"; return 0; }
  local pid; pid=$(cat "$KAFKA_PID")
  say "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$KAFKA_PID" "$RUN_DIR/kafka-client.env"
}

# ---------------------------------------------------------------- PostgreSQL
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
pg_run() { # run a PostgreSQL binary as the postgres user when we are root (initdb refuses root)
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin; bin=$(pg_bin)
  if pg_run "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then return 1; fi
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = "0" ] && chown -R postgres:postgres "$PG_DATA" "$LOG_DIR"
    pg_run "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust -E UTF8 >/dev/null
  fi
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$LOG_DIR" && touch "$LOG_DIR/postgres.log" && chown postgres "$LOG_DIR/postgres.log"
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg_run "$bin/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=400 -c shared_buffers=256MB" start >/dev/null \
    || die "PostgreSQL did not start, see $LOG_DIR/postgres.log"
  local db
  for db in $PG_DATABASES; do
    psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
      || psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $db" >/dev/null
  done
}

postgres_stop() {
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && [ -f "$PG_DATA/PG_VERSION" ] || return 0
  pg_run "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 || return 0
  say "stopping PostgreSQL"
  pg_run "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
}

# ---------------------------------------------------------------- Redis
redis_start() {
  command -v redis-server >/dev/null || apt_install redis-server
  if pid_alive "$REDIS_PID" && port_open "$REDIS_PORT"; then return 1; fi
  mkdir -p "$CF_STATE_DIR/redis"
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --pidfile "$REDIS_PID" \
    --logfile "$LOG_DIR/redis.log" --dir "$CF_STATE_DIR/redis" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 40); do port_open "$REDIS_PORT" && return 0; sleep 0.25; done
  die "Redis did not start, see $LOG_DIR/redis.log"
}

redis_stop() {
  pid_alive "$REDIS_PID" || { rm -f "$REDIS_PID"; return 0; }
  say "stopping Redis"
  local pid; pid=$(cat "$REDIS_PID")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$REDIS_PID"
}

status_line() { if "$2"; then printf '  %-9s running   %s\n' "$1" "$3"; else printf '  %-9s stopped\n' "$1"; fi; }
kafka_up() { pid_alive "$KAFKA_PID" && port_open "$KAFKA_PORT"; }
pg_up() { port_open "$PG_PORT"; }
redis_up() { port_open "$REDIS_PORT"; }

cmd="${1:-status}"; shift || true
record=""
components=()
while [ $# -gt 0 ]; do
  case "$1" in
    --record) record="$2"; shift 2 ;;
    kafka|postgres|redis) components+=("$1"); shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
[ ${#components[@]} -eq 0 ] && components=(postgres redis kafka)

case "$cmd" in
  start)
    if [ -n "$record" ]; then : > "$record"; fi
    for c in "${components[@]}"; do
      if "${c}_start" && [ -n "$record" ]; then echo "$c" >> "$record"; fi
    done
    true ;;
  stop)
    for c in "${components[@]}"; do "${c}_stop"; done ;;
  status)
    echo "infrastructure:"
    status_line kafka kafka_up "127.0.0.1:$KAFKA_PORT (Kafka $KAFKA_VERSION, KRaft)"
    status_line postgres pg_up "127.0.0.1:$PG_PORT"
    status_line redis redis_up "127.0.0.1:$REDIS_PORT" ;;
  *) die "usage: infra.sh start|stop|status [kafka|postgres|redis] [--record FILE]" ;;
esac
