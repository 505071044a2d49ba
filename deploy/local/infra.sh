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

kafka_config() {
  cat > "$CF_STATE_DIR/kafka.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
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
}

kafka_java() { java -Xms256m -Xmx768m -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" "$@"; }

kafka_start() {
  if pid_alive "$KAFKA_PID" && port_open "$KAFKA_PORT"; then return 1; fi
  kafka_fetch
  kafka_config
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    mkdir -p "$KAFKA_DATA"
    local cluster_id; cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$CF_STATE_DIR/kafka.properties" >>"$LOG_DIR/kafka.log" 2>&1 \
      || die "kafka storage format failed, see $LOG_DIR/kafka.log"
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$CF_STATE_DIR/kafka.properties" >>"$LOG_DIR/kafka.log" 2>&1 &
  echo $! > "$KAFKA_PID"
  for _ in $(seq 1 120); do
    port_open "$KAFKA_PORT" && return 0
    pid_alive "$KAFKA_PID" || die "Kafka exited during start, see $LOG_DIR/kafka.log"
    sleep 0.5
  done
  die "Kafka did not open port $KAFKA_PORT in 60 s, see $LOG_DIR/kafka.log"
}

kafka_stop() {
  pid_alive "$KAFKA_PID" || { rm -f "$KAFKA_PID"; return 0; }
  local pid; pid=$(cat "$KAFKA_PID")
  say "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$KAFKA_PID"
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
