#!/usr/bin/env bash
# The four services as background processes (the same way `make up` and `make demo` run them).
#   services.sh start | stop | status
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PY="$VENV_PY"
# name module port env-prefix
SERVICES=(
  "ticketing counterflow_ticketing 8101 CF_TICKETING"
  "selfservice counterflow_selfservice 8102 CF_SELFSERVICE"
  "mobile-gateway counterflow_mobile_gateway 8103 CF_MOBILE"
  "scoring counterflow_scoring 8104 CF_SCORING"
)

start_one() {
  local name=$1 module=$2 port=$3 prefix=$4 pidf="$RUN_DIR/$1.pid"
  if pid_alive "$pidf"; then return 0; fi
  "$PY" -m "$module" migrate >>"$LOG_DIR/$name.log" 2>&1 || die "$name migrations failed, see $LOG_DIR/$name.log"
  # each service authenticates to the secured local broker as its own Kafka user, whose
  # ACLs allow only its topics and groups (ADR 0215); the admin user stays with the tools
  local kafka=()
  if [ "${CF_KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}" != PLAINTEXT ] && [ -f "$KAFKA_SECURITY_DIR/passwords/$name" ]; then
    kafka=("${prefix}_KAFKA_SASL_USERNAME=$name" "${prefix}_KAFKA_SASL_PASSWORD=$(cat "$KAFKA_SECURITY_DIR/passwords/$name")")
  fi
  # the local platform offers the development sign-in of the pages (docs/pages.md)
  env "${kafka[@]}" "${prefix}_HTTP_PORT=$port" "${prefix}_DEV_SIGN_IN=${CF_DEV_SIGN_IN:-true}" nohup "$PY" -m "$module" serve >>"$LOG_DIR/$name.log" 2>&1 &
  echo $! > "$pidf"
}

wait_ready() {
  local name=$1 port=$3 pidf="$RUN_DIR/$1.pid"
  # CF_READY_TIMEOUT_S: on a loaded 2-core machine a service can take over a minute
  local limit="${CF_READY_TIMEOUT_S:-180}"
  for _ in $(seq 1 $((limit * 2))); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    pid_alive "$pidf" || die "$name exited during start, see $LOG_DIR/$name.log"
    sleep 0.5
  done
  die "$name not ready in $limit s, see $LOG_DIR/$name.log"
}

stop_one() {
  local name=$1 pidf="$RUN_DIR/$1.pid"
  pid_alive "$pidf" || { rm -f "$pidf"; return 0; }
  local pid; pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

case "${1:-status}" in
  start)
    "$PY" -m counterflow_shared.events.admin create-topics >/dev/null
    # the development identity provider: a generated ES256 signing key and its JWKS file,
    # which the services read (CF_JWT_JWKS_URL defaults to it; docs/security.md)
    "$PY" -m counterflow_shared.devidp init >/dev/null
    for s in "${SERVICES[@]}"; do start_one $s; done
    for s in "${SERVICES[@]}"; do wait_ready $s; done
    echo "services:"
    for s in "${SERVICES[@]}"; do set -- $s; printf '  %-15s http://127.0.0.1:%s  (docs: /docs, health: /readyz)\n' "$1" "$3"; done
    echo "pages (sign in at /signin: pick a role, a staff id and the branch ids; docs/pages.md):"
    echo "  home             http://127.0.0.1:8101/               links to every page of your branches"
    echo "  lobby console    http://127.0.0.1:8101/branches/<branch_id>/lobby          (lobby_manager, operations)"
    echo "  calling display  http://127.0.0.1:8101/branches/<branch_id>/display        (no sign-in)"
    echo "  teller           http://127.0.0.1:8101/counters/<counter_id>/workstation   (teller, lobby_manager)"
    echo "  rules            http://127.0.0.1:8101/rules                               (operations, approver, analyst)"
    echo "  device fleet     http://127.0.0.1:8102/branches/<branch_id>/fleet          (any staff of the branch)"
    branches=$(curl -s -H "Authorization: Bearer $("$PY" -m counterflow_shared.devidp token --role operations --branch '*' --subject make-up 2>/dev/null)" http://127.0.0.1:8101/v1/branches 2>/dev/null | "$PY" -c 'import json,sys
try: print(" ".join(b["branch_id"] for b in json.load(sys.stdin)[:5]))
except Exception: print("")' 2>/dev/null)
    [ -n "$branches" ] && echo "  branches: $branches"
    echo "staff token for the APIs (any role, branch; docs/security.md):"
    echo "  $PY -m counterflow_shared.devidp token --role teller --branch <branch_id>" ;;
  stop)
    for s in "${SERVICES[@]}"; do set -- $s; stop_one "$1" "$2"; done ;;
  status)
    echo "services:"
    for s in "${SERVICES[@]}"; do
      set -- $s
      if pid_alive "$RUN_DIR/$1.pid"; then
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$3/readyz" || true)
        printf '  %-15s running   http://127.0.0.1:%s  readyz=%s\n' "$1" "$3" "$code"
      else
        printf '  %-15s stopped\n' "$1"
      fi
    done ;;
  *) die "usage: services.sh start|stop|status" ;;
esac
