#!/usr/bin/env bash
# Load benchmark for portcullis (issues #3 and #4, "Speed"). Not a test: it prints figures.
#
# Starts, all on 127.0.0.1 with free ports picked at run time:
#   - a fast upstream: nginx `return 200 "ok\n"` (1 worker, no access log);
#   - nginx as a plain keep-alive reverse proxy to it (NGINX_WORKERS, default one per CPU
#     like portcullis) — the baseline;
#   - portcullis with a generated config: route `plain` (auth: none) to the same upstream;
#   - with BENCH_AUTH=1 (default), a fake identity provider (examples/bench_idp.rs) and four
#     more portcullis routes: bearer JWT verified afresh on every request, bearer JWT with
#     the verified-token cache, cached introspection of an opaque token, session cookie,
#     bearer JWT (cached) plus a signed identity assertion (issue 17);
#     and (BENCH_REDIS=1, default) a redis-server plus a second portcullis instance with
#     `session.store: redis` and a Redis-session route (issue #6);
# then measures the targets interleaved (round 1: A B C, round 2: A B C, ...) with wrk at
# 1, 64 and 256 connections and prints the median of the rounds: requests/s, p50, p99 and
# CPU µs per request of the server process (utime+stime from /proc/PID/stat), plus the
# ratios portcullis/nginx. Finally measures portcullis's peak RSS holding 10,000 idle
# keep-alive connections (nginx's too, for reference).
#
# Usage: bash benches/load.sh          (see benches/README.md for the env knobs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/bench_providers.sh
source "$ROOT/benches/bench_providers.sh"
LOADDIR=$ROOT/benches/load

# The command as given (env knobs that were set), for the summary.
CMDLINE=
for v in BENCH_SECS BENCH_ROUNDS BENCH_CONNS BENCH_WARMUP_SECS BENCH_TARGETS BENCH_RSS_CONNS \
  BENCH_RSS_NGINX BENCH_INFO_LOG BENCH_ACCESS_LOG BENCH_PORTCULLIS PORTCULLIS_BIN PORTCULLIS_WORKERS \
  PORTCULLIS_LOG_LEVEL PORTCULLIS_LOG_FORMAT NGINX_KEEPALIVE NGINX_WORKERS BENCH_AUTH BENCH_IDP_BIN \
  BENCH_SESSION_FRESH BENCH_REDIS PORTCULLIS_BASELINE_BIN; do
  if [[ -n ${!v+x} ]]; then CMDLINE+="$v=$(printf '%q' "${!v}") "; fi
done
CMDLINE+="bash benches/load.sh"

BENCH_SECS=${BENCH_SECS:-10}                 # duration of each wrk run
BENCH_ROUNDS=${BENCH_ROUNDS:-4}              # interleaved rounds, every other one in reverse order; medians shown (0: RSS test only)
BENCH_CONNS=${BENCH_CONNS:-"1 64 256"}       # connection counts
BENCH_WARMUP_SECS=${BENCH_WARMUP_SECS:-2}    # per target, before round 1 (0: none)
BENCH_TARGETS=${BENCH_TARGETS:-}             # optional filter: space-separated target names
BENCH_RSS_CONNS=${BENCH_RSS_CONNS:-10000}    # idle keep-alive connections for the RSS test (0: skip)
BENCH_RSS_NGINX=${BENCH_RSS_NGINX:-1}        # also measure the nginx proxy's RSS (reference)
BENCH_INFO_LOG=${BENCH_INFO_LOG:-0}          # 1: add target `portcullis-info` (log level info)
BENCH_ACCESS_LOG=${BENCH_ACCESS_LOG:-1}      # 1: access logs on in the nginx proxy (buffer=64k) and portcullis; 0: off in both
BENCH_OUT=${BENCH_OUT:-}                     # directory to keep raw results, wrk output and logs
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}          # 1: keep the temp dir (configs, logs)
PORTCULLIS_BIN=${PORTCULLIS_BIN:-}           # prebuilt binary; default: cargo build --release
PORTCULLIS_BASELINE_BIN=${PORTCULLIS_BASELINE_BIN:-}  # another build: target `portcullis-baseline`
BENCH_PORTCULLIS=${BENCH_PORTCULLIS:-1}      # 0: no portcullis at all (direct + nginx only)
PORTCULLIS_WORKERS=${PORTCULLIS_WORKERS:-}   # tokio worker threads, if the binary supports it
PORTCULLIS_LOG_LEVEL=${PORTCULLIS_LOG_LEVEL:-warn}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-64}         # nginx proxy's idle upstream connection cache
NGINX_WORKERS=${NGINX_WORKERS:-auto}         # nginx proxy's worker_processes: auto = one per CPU, as portcullis runs by default
PORTCULLIS_LOG_FORMAT=${PORTCULLIS_LOG_FORMAT:-json}
BENCH_AUTH=${BENCH_AUTH:-1}                  # 1: fake IdP + jwt / jwt-cached / introspect / session routes
BENCH_IDP_BIN=${BENCH_IDP_BIN:-}             # prebuilt bench_idp; default: cargo build --release --example bench_idp
BENCH_SESSION_FRESH=${BENCH_SESSION_FRESH:-1}  # 1: a freshly minted session cookie before each session run
BENCH_REDIS=${BENCH_REDIS:-1}                # 1 (with BENCH_AUTH=1): redis-server + the Redis-session instance/target

log() { printf '[load %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --------------------------------------------------------------------------------------
# Process bookkeeping and cleanup: everything started here is killed on exit.
# --------------------------------------------------------------------------------------
PIDS=()
WRK_PID=
TMP=$(mktemp -d /tmp/portcullis-load.XXXXXX)
chmod 755 "$TMP"   # nginx workers run as nobody

stop_pid() {  # stop_pid PID: TERM, wait up to 5 s, then KILL (the process and its children)
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive 5 s after SIGTERM: SIGKILL"
    kill -KILL "$pid" $kids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ $BENCH_KEEP_TMP == 1 || $rc != 0 ]]; then
    log "temp dir kept: $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Many sockets: the RSS client, nginx and portcullis inherit this. 65536, or the hard
# limit when that is lower and can't be raised (containers without CAP_SYS_RESOURCE).
raise_nofile() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }
raise_nofile
if (($(ulimit -n) < BENCH_RSS_CONNS + 1000)); then
  log "warning: open-files limit $(ulimit -n) is low for $BENCH_RSS_CONNS idle connections"
fi

# --------------------------------------------------------------------------------------
# 1. Tools.
# --------------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_apt+=(nginx-light)
command -v python3 >/dev/null || need_apt+=(python3)
command -v curl >/dev/null || need_apt+=(curl)
if [[ $BENCH_PORTCULLIS == 1 && $BENCH_AUTH == 1 && $BENCH_REDIS == 1 ]]; then
  command -v redis-server >/dev/null || need_apt+=(redis-server)
fi
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
WRK=$(command -v wrk)
CLK_TCK=$(getconf CLK_TCK)

# --------------------------------------------------------------------------------------
# 2. The portcullis binary.
# --------------------------------------------------------------------------------------
if [[ $BENCH_PORTCULLIS != 1 ]]; then
  log "BENCH_PORTCULLIS=$BENCH_PORTCULLIS: measuring direct + nginx only"
elif [[ -z $PORTCULLIS_BIN ]]; then
  log "cargo build --release (set PORTCULLIS_BIN to skip)"
  (cd "$ROOT" && cargo build --release) >&2
  PORTCULLIS_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/portcullis
fi
PC_ARGS=()
if [[ $BENCH_PORTCULLIS == 1 ]]; then
  [[ -x $PORTCULLIS_BIN ]] || die "no portcullis binary at $PORTCULLIS_BIN"
fi
# The fake identity provider for the auth routes (examples/bench_idp.rs).
if [[ $BENCH_PORTCULLIS != 1 ]]; then
  BENCH_AUTH=0
fi
if [[ $BENCH_AUTH != 1 ]]; then
  BENCH_REDIS=0
fi
if [[ $BENCH_PORTCULLIS != 1 ]]; then
  :
elif [[ $BENCH_AUTH == 1 && -z $BENCH_IDP_BIN ]]; then
  log "cargo build --release --example bench_idp (set BENCH_IDP_BIN to skip, BENCH_AUTH=0 for no auth routes)"
  (cd "$ROOT" && cargo build --release --example bench_idp) >&2
  BENCH_IDP_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_idp
fi
if [[ $BENCH_AUTH == 1 ]]; then
  [[ -x $BENCH_IDP_BIN ]] || die "no bench_idp binary at $BENCH_IDP_BIN"
fi
if [[ $BENCH_PORTCULLIS == 1 && -n $PORTCULLIS_WORKERS ]]; then
  help=$("$PORTCULLIS_BIN" --help 2>&1 || true; "$PORTCULLIS_BIN" run --help 2>&1 || true)
  flag=$(grep -oE -- '--(worker-threads|workers|threads)\b' <<<"$help" | head -n1 || true)
  if [[ -n $flag ]]; then
    PC_ARGS+=("$flag" "$PORTCULLIS_WORKERS")
    log "portcullis worker threads: $flag $PORTCULLIS_WORKERS"
  else
    # tokio's multi-thread runtime reads TOKIO_WORKER_THREADS unless the code overrides it.
    export PORTCULLIS_WORKERS TOKIO_WORKER_THREADS=$PORTCULLIS_WORKERS
    log "portcullis --help has no worker flag; exported PORTCULLIS_WORKERS/TOKIO_WORKER_THREADS=$PORTCULLIS_WORKERS"
  fi
fi

# --------------------------------------------------------------------------------------
# Helpers: free ports, readiness, CPU ticks, RSS.
# --------------------------------------------------------------------------------------
# Ports below the ephemeral range (so they don't collide with port-0 binds elsewhere),
# checked bindable, never handed out twice in one run.
declare -A PORT_TAKEN=()
free_port() {
  local p
  p=$(python3 - "${!PORT_TAKEN[@]}" <<'EOF'
import random, socket, sys
taken = set(sys.argv[1:])
for _ in range(2000):
    p = random.randint(20000, 32000)
    if str(p) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    sys.exit("no free port")
EOF
  )
  PORT_TAKEN[$p]=1
  echo "$p"
}

wait_port() {  # wait_port PORT PID NAME LOGFILE
  local port=$1 pid=$2 name=$3 logf=$4 i
  for ((i = 0; i < 150; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logf" >&2 || true
      die "$name exited during start-up (log: $logf)"
    fi
    sleep 0.1
  done
  tail -n 30 "$logf" >&2 || true
  die "$name does not listen on 127.0.0.1:$port after 15 s"
}

wait_ready() {  # wait_ready ADMIN_PORT PID NAME LOGFILE: until /readyz answers 200 (30 s)
  local port=$1 pid=$2 name=$3 logf=$4 i code
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
    [[ $code == 200 ]] && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logf" >&2 || true; die "$name exited while getting ready (log: $logf)"; }
    sleep 0.1
  done
  curl -s -m 2 "http://127.0.0.1:$port/readyz" >&2 || true
  tail -n 30 "$logf" >&2 || true
  die "$name: /readyz is not 200 after 30 s"
}

proc_tree() {  # proc_tree PID: the PID and its direct children (nginx master + workers)
  echo "$1"
  pgrep -P "$1" 2>/dev/null || true
}

cpu_ticks() {  # cpu_ticks PID...: sum of utime+stime (fields 14, 15) in clock ticks
  local pid stat rest total=0
  local -a f
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || { log "warning: pid $pid vanished"; continue; }
    rest=${stat##*) }          # drop "pid (comm) " — comm may contain spaces
    read -r -a f <<<"$rest"    # f[0] is field 3 (state) → field N is f[N-3]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

rss_kb() {  # rss_kb FIELD PID...: sum of VmHWM/VmRSS (kB) over the processes
  local field=$1 pid total=0 v
  shift
  for pid in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# --------------------------------------------------------------------------------------
# 3./4. nginx: the fast upstream and the plain reverse proxy.
# --------------------------------------------------------------------------------------
declare -A SERVER_PID=()   # listen port -> pid of the process (tree) to measure

nginx_common() {  # nginx_common DIR WORKER_CONNECTIONS [WORKER_PROCESSES]
  cat <<EOF
worker_processes ${3:-1};
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections $2; }
EOF
}

nginx_http_common() {  # nginx_http_common DIR
  cat <<EOF
  access_log off;
  client_body_temp_path $1/client_body;
  proxy_temp_path $1/proxy;
  # Keep client connections open for the whole run (the default closes after 1000
  # requests, which would make wrk reconnect and count read errors).
  keepalive_requests 100000000;
  keepalive_timeout 600s;
EOF
}

start_nginx() {  # start_nginx NAME CONF_FILE PORT → sets NGINX_PID
  local name=$1 conf=$2 port=$3 dir
  dir=$(dirname "$conf")
  "$NGINX" -t -q -p "$dir" -c "$conf" 2>"$dir/config-test.log" || { cat "$dir/config-test.log" >&2; die "bad nginx config for $name"; }
  "$NGINX" -p "$dir" -c "$conf" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_port "$port" "$NGINX_PID" "$name" "$dir/error.log"
  SERVER_PID[$port]=$NGINX_PID
  log "$name: nginx pid $NGINX_PID on 127.0.0.1:$port"
}

start_upstream() {  # → UP_PORT
  local dir=$TMP/upstream
  mkdir -p "$dir"
  UP_PORT=$(free_port)
  {
    nginx_common "$dir" 16384
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  server {
    listen 127.0.0.1:$UP_PORT backlog=4096;
    location / { return 200 "ok\n"; }
  }
}
EOF
  } >"$dir/nginx.conf"
  start_nginx upstream "$dir/nginx.conf" "$UP_PORT"
  UP_PID=$NGINX_PID
}

start_nginx_proxy() {  # start_nginx_proxy NAME → NGX_PORT, NGX_PID
  local dir=$TMP/$1
  mkdir -p "$dir"
  NGX_PORT=$(free_port)
  {
    nginx_common "$dir" 32768 "$NGINX_WORKERS"
    echo "http {"
    nginx_http_common "$dir"
    local access="access_log off;"
    # As operators run it: a buffered access log (on the server level, which overrides
    # the http level's `access_log off`).
    [[ $BENCH_ACCESS_LOG == 1 ]] && access="access_log $dir/access.log combined buffer=64k;"
    cat <<EOF
  upstream fast {
    server 127.0.0.1:$UP_PORT;
    keepalive $NGINX_KEEPALIVE;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
  }
  server {
    listen 127.0.0.1:$NGX_PORT backlog=4096;
    $access
    location / {
      proxy_pass http://fast;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$dir/nginx.conf"
  start_nginx "$1" "$dir/nginx.conf" "$NGX_PORT"
  NGX_PID=$NGINX_PID
}

# --------------------------------------------------------------------------------------
# 5. portcullis.
# --------------------------------------------------------------------------------------

# ======================= EXTENSION POINT (issue #4 and later) =========================
# Extra portcullis configuration, e.g. a fake IdP provider for bearer-JWT and
# cached-introspection routes, or a session route. Emit YAML; keep the indentation.
#   extra_portcullis_config: top-level keys other than server/admin/log/routes
#                            (e.g. `providers:` pointing at a local fake IdP, `session:`)
#   extra_portcullis_routes: route items appended under `routes:` (2-space indent, "- name:")
# and register their load targets in extra_targets (below) with add_target. Any helper
# server they need (fake IdP) should be started in start_extra_servers, registered in
# PIDS for cleanup. Example, once issue #4 lands:
#   extra_portcullis_routes() { cat <<EOF
#   - name: jwt
#     match: { path_prefix: "/jwt/" }
#     upstream: "http://127.0.0.1:$UP_PORT"
#     auth: bearer
#     provider: bench
# EOF
#   }
#   extra_targets() { add_target portcullis-jwt "http://127.0.0.1:$PC_PORT/jwt/" "Authorization: Bearer $JWT"; }
#
# Implemented for issues #4 and #5 (BENCH_AUTH=1, the default): bench_idp
# (examples/bench_idp.rs) on a free port; three providers with its issuer — `bench`
# (`verified_cache_size: 0`: every JWT verified afresh), `bench-cached` (verified-token
# cache at its default size) and `bench-intro` (introspection, `cache_ttl: 5m`); a session
# secret shared with bench_idp; routes /jwt/, /jwtc/, /intro/ (bearer) and /sess/ (session,
# provider `bench`). Each provider has its own caches, so one JWT serves both JWT routes.
#
# Issue #6 (BENCH_REDIS=1, the default with the auth routes): a redis-server (free port,
# no persistence, its own dir under $TMP) and a SECOND portcullis instance, since
# `session.store` is global: the same providers and secret, `session.store: redis`, plus
# a route /rsess/ (session, provider `bench`). bench_idp gets the Redis URL and saves a
# fresh session into Redis through the library's RedisStore for each run.
IDP_PORT= IDP_DIR= BENCH_JWT= BENCH_REF= BENCH_COOKIE= SESSION_SECRET=
REDIS_PORT= REDIS_URL= REDIS_PID= BENCH_REDIS_COOKIE=
PC_SESSION_STORE=cookie   # session.store of the instance being configured (cookie|redis)
PC_TRACING=0              # 1: the instance being configured exports traces (issue 18)
# Issue 17: an API key for the /apikey/ route (its SHA-256 in a key file, as operators keep it).
BENCH_API_KEY=pk_bench_7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e
INTRO_CLIENT_ID=bench-api
INTRO_SECRET=bench-api-secret
PC_WAIT_READY=0    # 1: start_portcullis waits for /readyz 200 (providers discovered)

# redis-server on a free port: no persistence, its own dir, stopped on exit (PIDS).
start_redis() {
  local dir=$TMP/redis i reply=
  mkdir -p "$dir"
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  wait_port "$REDIS_PORT" "$REDIS_PID" redis-server "$dir/redis.log"
  for ((i = 0; i < 100; i++)); do   # listening is not always answering: PING
    reply=$(exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && timeout 1 head -c 5 <&3) || true
    [[ $reply == +PONG ]] && break
    sleep 0.1
  done
  [[ $reply == +PONG ]] || die "redis-server does not answer PING (log: $dir/redis.log)"
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT
  log "redis-server: pid $REDIS_PID on 127.0.0.1:$REDIS_PORT ($(redis-server --version | awk '{print $3}'))"
}

start_extra_servers() {
  [[ $BENCH_AUTH == 1 ]] || return 0
  local pid line i
  if [[ $BENCH_REDIS == 1 ]]; then start_redis; fi
  IDP_DIR=$TMP/idp
  mkdir -p "$IDP_DIR"
  IDP_PORT=$(free_port)
  SESSION_SECRET=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
  BENCH_SESSION_SECRET=$SESSION_SECRET BENCH_SESSION_PROVIDER=bench BENCH_COOKIE_NAME=portcullis \
    BENCH_INTROSPECTION_CLIENT_ID=$INTRO_CLIENT_ID BENCH_INTROSPECTION_SECRET=$INTRO_SECRET \
    BENCH_AUDIENCE=bench BENCH_REDIS_URL=$REDIS_URL "$BENCH_IDP_BIN" "$IDP_PORT" "$IDP_DIR/out" \
    >"$IDP_DIR/stdout.log" 2>"$IDP_DIR/stderr.log" &
  pid=$!
  PIDS+=("$pid")
  line=
  for ((i = 0; i < 300; i++)); do   # up to 30 s (RSA key generation)
    line=$(grep -m1 '^READY' "$IDP_DIR/stdout.log" || true)
    [[ -n $line ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$IDP_DIR/stderr.log" >&2; die "bench_idp exited during start-up"; }
    sleep 0.1
  done
  [[ -n $line ]] || die "bench_idp not ready after 30 s (log: $IDP_DIR/stderr.log)"
  BENCH_JWT=$(<"$IDP_DIR/out/jwt.txt")
  BENCH_REF=$(<"$IDP_DIR/out/reference.txt")
  BENCH_COOKIE=$(<"$IDP_DIR/out/session_cookie.txt")
  if [[ $BENCH_REDIS == 1 ]]; then
    [[ -s $IDP_DIR/out/redis_session_cookie.txt ]] || die "bench_idp wrote no Redis session cookie (is it built from this tree?)"
    BENCH_REDIS_COOKIE=$(<"$IDP_DIR/out/redis_session_cookie.txt")
  fi
  PC_WAIT_READY=1
  log "bench_idp: pid $pid on 127.0.0.1:$IDP_PORT (${line#READY })"
}

extra_portcullis_config() {
  [[ $BENCH_AUTH == 1 ]] || return 0
  bench_providers "$IDP_PORT" "$INTRO_CLIENT_ID" "$INTRO_SECRET"
  local keys=$TMP/api-keys.yaml
  [[ -f $keys ]] || printf -- '- { sha256: "%s", sub: ci-bot, groups: [bench] }\n' \
    "$(printf '%s' "$BENCH_API_KEY" | sha256sum | cut -d' ' -f1)" >"$keys"
  cat <<EOF
api_keys:
  - { name: bench, file: "$keys" }
session:
  cookie_name: portcullis
  secrets: ["$SESSION_SECRET"]
EOF
  if [[ $PC_SESSION_STORE == redis ]]; then
    cat <<EOF
  store: redis
  redis:
    url: "$REDIS_URL"
EOF
  fi
  # Issue 18: 1% of requests sampled, exported to the upstream nginx (which answers any
  # POST 200, a collector that never slows down).
  if [[ $PC_TRACING == 1 ]]; then
    cat <<EOF
tracing:
  otlp_endpoint: "http://127.0.0.1:$UP_PORT"
  sample_ratio: 0.01
  service_name: bench
EOF
  fi
}

extra_portcullis_routes() {
  [[ $BENCH_AUTH == 1 ]] || return 0
  local route
  for route in "jwt bearer bench" "jwtc bearer bench-cached" "intro bearer bench-intro" "sess session bench"; do
    set -- $route
    cat <<EOF
  - name: $1
    match: { path_prefix: "/$1/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: $2
    provider: $3
EOF
  done
  # Issue 17: a bearer route (cached verification) that also signs an identity
  # assertion (generated ES256 key; one signature per user per ttl, then the cache).
  cat <<EOF
  - name: assert
    match: { path_prefix: "/assert/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: bearer
    provider: bench-cached
    identity_assertion: { audience: bench-upstream }
  - name: apikey
    match: { path_prefix: "/apikey/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: api_key
  - name: edge
    match: { path_prefix: "/edge/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: bearer
    provider: bench-cached
    cors: { allow_origins: ["https://app.example.com"], allow_credentials: true }
    rate_limit: [{ key: principal, rate: 1000000/s, burst: 1000000 }]
EOF
  if [[ $PC_SESSION_STORE == redis ]]; then
    cat <<EOF
  - name: rsess
    match: { path_prefix: "/rsess/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: session
    provider: bench
EOF
  fi
}

extra_targets() {
  [[ $BENCH_AUTH == 1 ]] || return 0
  add_target portcullis-jwt "http://127.0.0.1:$PC_PORT/jwt/" "Authorization: Bearer $BENCH_JWT"
  add_target portcullis-jwt-cached "http://127.0.0.1:$PC_PORT/jwtc/" "Authorization: Bearer $BENCH_JWT"
  add_target portcullis-introspect "http://127.0.0.1:$PC_PORT/intro/" "Authorization: Bearer $BENCH_REF"
  add_target portcullis-assertion "http://127.0.0.1:$PC_PORT/assert/" "Authorization: Bearer $BENCH_JWT"
  add_target portcullis-apikey "http://127.0.0.1:$PC_PORT/apikey/" "Authorization: ApiKey $BENCH_API_KEY"
  add_target portcullis-edge "http://127.0.0.1:$PC_PORT/edge/" "Authorization: Bearer $BENCH_JWT" \
    "Origin: https://app.example.com"
  add_target portcullis-session "http://127.0.0.1:$PC_PORT/sess/" "Cookie: $BENCH_COOKIE"
  if [[ $BENCH_SESSION_FRESH == 1 ]]; then TARGET_BEFORE_RUN[portcullis-session]=fresh_session_cookie; fi
  # The plain route (no authentication) sent the same bytes as the cached-JWT and
  # cookie-session routes: what carrying a 793-byte Authorization field or a 2.8 kB
  # cookie costs (hyper reading it; the kernel, wrk and the upstream moving it on two
  # shared cores), apart from what authenticating with it costs.
  add_target portcullis-carry-jwt "http://127.0.0.1:$PC_PORT/" "Authorization: Bearer $BENCH_JWT"
  add_target portcullis-carry-cookie "http://127.0.0.1:$PC_PORT/" "Cookie: $BENCH_COOKIE"
}

# Instances of their own (called after extra_targets; start_portcullis sets PC_PORT, the
# caller restores the main one). Issue #6: session.store is global, so the Redis-session
# route needs a second portcullis, same config plus `store: redis` and /rsess/.
# Issue 18: `tracing` is global too: a third instance, the same config plus tracing at
# ratio 0.01, measured on its plain route against the main instance's.
extra_instances() {
  if [[ $BENCH_AUTH == 1 && ( -z $BENCH_TARGETS || " $BENCH_TARGETS " == *" portcullis-traced "* ) ]]; then
    PC_TRACING=1
    start_portcullis portcullis-traced "$PORTCULLIS_LOG_LEVEL"
    PC_TRACING=0
    add_target portcullis-traced "http://127.0.0.1:$PC_PORT/"
  fi
  [[ $BENCH_REDIS == 1 ]] || return 0
  if [[ -n $BENCH_TARGETS && " $BENCH_TARGETS " != *" portcullis-redis-session "* ]]; then return 0; fi
  PC_SESSION_STORE=redis
  start_portcullis portcullis-redis "$PORTCULLIS_LOG_LEVEL"
  PC_SESSION_STORE=cookie
  add_target portcullis-redis-session "http://127.0.0.1:$PC_PORT/rsess/" "Cookie: $BENCH_REDIS_COOKIE"
  if [[ $BENCH_SESSION_FRESH == 1 ]]; then
    TARGET_BEFORE_RUN[portcullis-redis-session]=fresh_redis_session_cookie
  fi
}

# The gateway re-saves a session whose last_seen_at is older than min(idle_timeout/4, 60 s)
# (one more encryption and a Set-Cookie per request), and wrk never stores the new cookie.
# A browser does, so it always sends a cookie at most a minute old: mint one per run.
fresh_session_cookie() {  # fresh_session_cookie TARGET
  local c
  c=$(curl -sSf -m 10 "http://127.0.0.1:$IDP_PORT/bench/session-cookie") || die "bench_idp: no fresh session cookie"
  TARGET_ARGS[$1]=$(printf ' %q' -H "Cookie: $c")
}

# The same for the Redis store: a new login saved into Redis (RedisStore, NewLogin) by
# bench_idp; the cookie carries only the sealed session id.
fresh_redis_session_cookie() {  # fresh_redis_session_cookie TARGET
  local c
  c=$(curl -sSf -m 10 "http://127.0.0.1:$IDP_PORT/bench/redis-session-cookie") || die "bench_idp: no fresh Redis session cookie"
  TARGET_ARGS[$1]=$(printf ' %q' -H "Cookie: $c")
}

# Sizes quoted in the summary (issue #5: "the size of a typical session cookie").
auth_summary() {
  [[ $BENCH_AUTH == 1 ]] || return 0
  local n
  n=$(awk -F'; ' '{ print NF }' <<<"$BENCH_COOKIE")
  echo "auth routes: JWT ${#BENCH_JWT} bytes (RS256, 2048-bit key); reference token ${#BENCH_REF} bytes;" \
    "session cookie ${#BENCH_COOKIE} bytes as a Cookie header value ($n cookie(s); ID, access and refresh token inside)"
  if [[ $BENCH_REDIS == 1 ]]; then
    echo "redis session: cookie ${#BENCH_REDIS_COOKIE} bytes (sealed session id only; the record is in redis-server," \
      "whose CPU is not in the figures)"
  fi
}
# ======================================================================================

write_portcullis_config() {  # write_portcullis_config FILE PORT ADMIN_PORT LEVEL [LOG_ACCESS_LINE]
  cat >"$1" <<EOF
# generated by benches/load.sh
server:
  listen: "127.0.0.1:$2"
  public_url: "http://127.0.0.1:$2"
  timeouts: { header_read: 60s, idle: 600s, shutdown_grace: 2s }
admin:
  listen: "127.0.0.1:$3"
log:
  format: $PORTCULLIS_LOG_FORMAT
  level: $4
$5
$(extra_portcullis_config)
routes:
  - name: plain
    match: { path_prefix: "/" }
    upstream: "http://127.0.0.1:$UP_PORT"
    auth: none
$(extra_portcullis_routes)
EOF
}

start_portcullis() {  # [PC_BIN=binary] start_portcullis NAME LEVEL → PC_PORT, PC_PID, PC_LOG
  local name=$1 level=$2 dir=$TMP/$1 admin bin=${PC_BIN:-$PORTCULLIS_BIN}
  mkdir -p "$dir"
  PC_PORT=$(free_port)
  admin=$(free_port)
  local access="  access: off"
  [[ $BENCH_ACCESS_LOG == 1 ]] && access="  access: on"
  write_portcullis_config "$dir/portcullis.yaml" "$PC_PORT" "$admin" "$level" "$access"
  if ! "$bin" check-config "$dir/portcullis.yaml" >/dev/null 2>&1; then
    # A build from before `log.access` (its access lines are tracing events at info).
    log "$name: no log.access in this build; its access log follows the log level ($level)"
    write_portcullis_config "$dir/portcullis.yaml" "$PC_PORT" "$admin" "$level" ""
  fi
  if ! "$bin" check-config "$dir/portcullis.yaml" >"$dir/check.log" 2>&1; then
    cat "$dir/check.log" >&2
    die "portcullis check-config rejected the generated config ($dir/portcullis.yaml)"
  fi
  PC_LOG=$dir/portcullis.log
  (raise_nofile && exec "$bin" run --config "$dir/portcullis.yaml" "${PC_ARGS[@]}") >"$PC_LOG" 2>&1 &
  PC_PID=$!
  PIDS+=("$PC_PID")
  wait_port "$PC_PORT" "$PC_PID" "$name" "$PC_LOG"
  if [[ $PC_WAIT_READY == 1 ]]; then wait_ready "$admin" "$PC_PID" "$name" "$PC_LOG"; fi
  SERVER_PID[$PC_PORT]=$PC_PID
  PC_LOGS+=("$PC_LOG")
  log "$name: portcullis pid $PC_PID on 127.0.0.1:$PC_PORT (admin $admin, log level $level)"
}
PC_LOGS=()

# --------------------------------------------------------------------------------------
# 8. Targets: one list; each entry = name, URL, extra wrk arguments.
# --------------------------------------------------------------------------------------
TARGETS=()
declare -A TARGET_URL=() TARGET_ARGS=() TARGET_BEFORE_RUN=()

# TARGET_BEFORE_RUN[NAME]=FUNCTION: called as `FUNCTION NAME` before every run of the
# target (sanity check and warm-up included); it may update TARGET_ARGS[NAME].
#
# add_target NAME URL [ARG...]: an ARG shaped like "Header-Name: value" becomes
# `-H 'Header-Name: value'`; anything else is passed to wrk verbatim (e.g. `-s x.lua`).
# CPU is measured on the server listening on the URL's port (and its children).
add_target() {
  local name=$1 url=$2 a args=() header_re='^[A-Za-z0-9_-]+: '
  shift 2
  for a in "$@"; do
    if [[ $a =~ $header_re ]]; then args+=(-H "$a"); else args+=("$a"); fi
  done
  if [[ -n $BENCH_TARGETS && " $BENCH_TARGETS " != *" $name "* ]]; then return 0; fi
  TARGETS+=("$name")
  TARGET_URL[$name]=$url
  TARGET_ARGS[$name]=
  if ((${#args[@]})); then TARGET_ARGS[$name]=$(printf ' %q' "${args[@]}"); fi
}

url_port() { local u=${1#*://}; u=${u%%/*}; echo "${u##*:}"; }

# --------------------------------------------------------------------------------------
# 6. Measurement.
# --------------------------------------------------------------------------------------
to_us() {  # wrk time ("812.00us", "1.23ms", "2.01s", "1.00m") -> microseconds
  awk -v t="$1" 'BEGIN {
    if (t == "") { print 0; exit }
    n = t + 0; u = t; sub(/^[0-9.]+/, "", u)
    m = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : 0
    printf "%.1f\n", n * m }'
}

RESULTS=$TMP/results.tsv
printf 'round\ttarget\tconns\trps\tp50_us\tp99_us\trequests\tcpu_ticks\terrors\tnon2xx\n' >"$RESULTS"

run_wrk() {  # run_wrk TARGET CONNS SECS OUTFILE → sets W_CPU (ticks)
  local name=$1 conns=$2 secs=$3 out=$4 threads before after port
  local -a extra=() pids=()
  if [[ -n ${TARGET_BEFORE_RUN[$name]:-} ]]; then "${TARGET_BEFORE_RUN[$name]}" "$name"; fi
  eval "extra=(${TARGET_ARGS[$name]})"
  threads=$((conns < 2 ? conns : 2))
  port=$(url_port "${TARGET_URL[$name]}")
  mapfile -t pids < <(proc_tree "${SERVER_PID[$port]}")
  before=$(cpu_ticks "${pids[@]}")
  # In the background + wait, so that a signal interrupts the run at once (cleanup kills it).
  timeout $((secs + 30)) "$WRK" -t"$threads" -c"$conns" -d"${secs}s" --latency \
    "${extra[@]}" "${TARGET_URL[$name]}" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { cat "$out" >&2; die "wrk failed for $name"; }
  WRK_PID=
  after=$(cpu_ticks "${pids[@]}")
  W_CPU=$((after - before))
  kill -0 "${SERVER_PID[$port]}" 2>/dev/null || die "server of $name (pid ${SERVER_PID[$port]}) died during the run"
}

measure() {  # measure ROUND TARGET CONNS
  local round=$1 name=$2 conns=$3 out rps reqs p50 p99 errs non2xx
  out=$TMP/wrk/r$round-$name-c$conns.txt
  run_wrk "$name" "$conns" "$BENCH_SECS" "$out"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  reqs=$(awk '/ requests in / { print $1 }' "$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
  errs=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$conns" "${rps:-0}" "$p50" "$p99" \
    "${reqs:-0}" "$W_CPU" "${errs:-0}" "${non2xx:-0}" >>"$RESULTS"
  log "$(printf 'round %s %-20s c=%-4s %9.0f req/s  p50 %8.0f us  p99 %8.0f us  cpu %5.1f us/req  err %s/%s' \
    "$round" "$name" "$conns" "${rps:-0}" "$p50" "$p99" \
    "$(awk -v t="$W_CPU" -v n="${reqs:-0}" -v h="$CLK_TCK" 'BEGIN { print (n > 0) ? t * 1e6 / h / n : 0 }')" \
    "${errs:-0}" "${non2xx:-0}")"
}

sanity_check() {  # one request per target: expect 200 "ok"
  local name body code port
  for name in "${TARGETS[@]}"; do
    local -a extra=() hdrs=()
    if [[ -n ${TARGET_BEFORE_RUN[$name]:-} ]]; then "${TARGET_BEFORE_RUN[$name]}" "$name"; fi
    eval "extra=(${TARGET_ARGS[$name]})"
    for ((i = 0; i < ${#extra[@]}; i++)); do
      [[ ${extra[i]} == -H ]] && hdrs+=(-H "${extra[i + 1]}")
    done
    body=$(curl -sS -m 10 -o - -w '\n%{http_code}' "${hdrs[@]}" "${TARGET_URL[$name]}" 2>&1) || true
    code=${body##*$'\n'}
    if [[ $code != 200 ]]; then
      port=$(url_port "${TARGET_URL[$name]}")
      log "sanity check failed for $name (${TARGET_URL[$name]}): $body"
      for f in "${PC_LOGS[@]}"; do tail -n 20 "$f" >&2 || true; done
      die "target $name does not answer 200"
    fi
  done
  log "sanity check: all targets answer 200"
}

# --------------------------------------------------------------------------------------
# 7. Peak RSS with N idle keep-alive connections.
# --------------------------------------------------------------------------------------
idle_rss() {  # idle_rss NAME PORT PID → prints one summary line on stdout
  local name=$1 port=$2 pid=$3 dir=$TMP/rss-$1 cpid line i estab base hwm rss
  # Not in a pipeline: the client's pid must reach PIDS in this shell for cleanup.
  local -a pids
  mkdir -p "$dir"
  mapfile -t pids < <(proc_tree "$pid")
  base=$(rss_kb VmRSS "${pids[@]}")
  : >"$dir/client.log"
  python3 "$LOADDIR/idle_conns.py" 127.0.0.1 "$port" --conns "$BENCH_RSS_CONNS" --hold 300 \
    >"$dir/client.log" 2>&1 &
  cpid=$!
  PIDS+=("$cpid")
  line=
  for ((i = 0; i < 1200; i++)); do   # up to 120 s to open everything
    line=$(grep -m1 '^READY' "$dir/client.log" || true)
    [[ -n $line ]] && break
    kill -0 "$cpid" 2>/dev/null || { cat "$dir/client.log" >&2; die "RSS client for $name exited early"; }
    sleep 0.1
  done
  [[ -n $line ]] || die "RSS client for $name did not finish opening connections in 120 s"
  sleep 2   # let the server settle with the connections idle
  estab=$(ss -Htn state established "( sport = :$port )" | wc -l)
  mapfile -t pids < <(proc_tree "$pid")
  hwm=$(rss_kb VmHWM "${pids[@]}")
  rss=$(rss_kb VmRSS "${pids[@]}")
  stop_pid "$cpid"
  printf '%-22s idle conns %5s (established at read: %5s)  peak RSS (VmHWM) %7.1f MB  RSS now %7.1f MB  RSS before %6.1f MB  [%s]\n' \
    "$name" "$BENCH_RSS_CONNS" "$estab" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$base" 'BEGIN { print k / 1024 }')" \
    "${line#READY }" | tee -a "$SUMMARY"
}

# --------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------
mkdir -p "$TMP/wrk"
log "tmp $TMP; wrk $("$WRK" -v 2>&1 | head -n1 | awk '{print $2}'); $("$NGINX" -v 2>&1); portcullis $PORTCULLIS_BIN"
log "$(nproc) CPUs; BENCH_SECS=$BENCH_SECS BENCH_ROUNDS=$BENCH_ROUNDS BENCH_CONNS='$BENCH_CONNS' log level $PORTCULLIS_LOG_LEVEL"

start_upstream
start_nginx_proxy nginx
add_target direct "http://127.0.0.1:$UP_PORT/"
add_target nginx "http://127.0.0.1:$NGX_PORT/"
if [[ $BENCH_PORTCULLIS == 1 ]]; then
  start_extra_servers
  start_portcullis portcullis "$PORTCULLIS_LOG_LEVEL"
  PC_MAIN_PORT=$PC_PORT
  add_target portcullis "http://127.0.0.1:$PC_MAIN_PORT/"
  extra_targets
  extra_instances
  PC_PORT=$PC_MAIN_PORT
  if [[ $BENCH_INFO_LOG == 1 ]]; then
    start_portcullis portcullis-info info
    add_target portcullis-info "http://127.0.0.1:$PC_PORT/"
  fi
  if [[ -n $PORTCULLIS_BASELINE_BIN ]]; then
    [[ -x $PORTCULLIS_BASELINE_BIN ]] || die "PORTCULLIS_BASELINE_BIN=$PORTCULLIS_BASELINE_BIN is not an executable"
    PC_BIN=$PORTCULLIS_BASELINE_BIN start_portcullis portcullis-baseline "$PORTCULLIS_LOG_LEVEL"
    add_target portcullis-baseline "http://127.0.0.1:$PC_PORT/"
  fi
  PC_PORT=$PC_MAIN_PORT
fi
((${#TARGETS[@]})) || die "no targets (BENCH_TARGETS='$BENCH_TARGETS')"
log "targets: ${TARGETS[*]}"

sanity_check
if ((BENCH_WARMUP_SECS > 0 && BENCH_ROUNDS > 0)); then
  for name in "${TARGETS[@]}"; do
    run_wrk "$name" 64 "$BENCH_WARMUP_SECS" "$TMP/wrk/warmup-$name.txt"
  done
  log "warm-up done"
fi

# Every other round runs the targets in reverse order: over an even number of rounds
# each target runs as often before the one it is compared with as after it, so a drift
# of the machine's speed during a round does not favour the targets that run first
# (report.py compares targets within each round).
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
  order=("${TARGETS[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#TARGETS[@]} - 1; i >= 0; i--)); do order+=("${TARGETS[i]}"); done
  fi
  for conns in $BENCH_CONNS; do
    for name in "${order[@]}"; do
      measure "$round" "$name" "$conns"
    done
  done
done

SUMMARY=$TMP/summary.txt
{
  echo "== portcullis load benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, wrk ${BENCH_SECS}s x ${BENCH_ROUNDS} rounds, portcullis log level $PORTCULLIS_LOG_LEVEL${PORTCULLIS_WORKERS:+, workers $PORTCULLIS_WORKERS}, nginx worker_processes $NGINX_WORKERS"
  echo "command: $CMDLINE"
  auth_summary
  if ((BENCH_ROUNDS > 0)); then
    goals=()
    if [[ $BENCH_AUTH == 1 ]]; then   # issue #4 and #5 targets
      goals=(--goal "portcullis-jwt cpu_plus_plain <= 20 #16: JWT verified afresh, CPU us/request over the plain route"
        --goal "portcullis-jwt-cached rps_vs_plain >= 0.95 #16: verified-token cache, rps vs plain route"
        --goal "portcullis-jwt-cached cpu_plus_plain <= 1.5 #16: verified-token cache, CPU us/request over the plain route"
        --goal "portcullis-introspect rps_vs_plain >= 0.95 #16: cached introspection, rps vs plain route"
        --goal "portcullis-introspect cpu_plus_plain <= 1.5 #16: cached introspection, CPU us/request over the plain route"
        --goal "portcullis-session rps_vs_plain >= 0.95 #16: session cookie, rps vs plain route"
        --goal "portcullis-session cpu_plus_plain <= 1.5 #16: session cookie, CPU us/request over the plain route"
        --goal "portcullis-redis-session rps_vs=portcullis-session >= 0.85 #16: Redis session, rps vs cookie session"
        --goal "portcullis-jwt-cached p99_vs_plain <= 1.2 #16: p99 vs plain route (cached JWT)"
        --goal "portcullis-introspect p99_vs_plain <= 1.2 #16: p99 vs plain route (cached introspection)"
        --goal "portcullis-session p99_vs_plain <= 1.2 #16: p99 vs plain route (cookie session)"
        --goal "portcullis-assertion rps_vs_plain >= 0.9 #17: identity assertion, rps vs plain route"
        --goal "portcullis-apikey rps_vs_plain >= 0.9 #17: API key, rps vs plain route"
        --goal "portcullis-edge rps_vs_plain >= 0.9 #18: CORS + principal rate limit, rps vs plain route"
        --goal "portcullis-traced rps_vs=portcullis >= 0.95 #18: tracing at ratio 0.01, rps vs the plain route untraced"
        --goal "portcullis-jwt-cached cpu_plus=portcullis-carry-jwt <= 1.5 #16 (authentication alone): cached JWT, CPU us/request over the plain route sent the same header"
        --goal "portcullis-jwt-cached rps_vs=portcullis-carry-jwt >= 0.95 #16 (authentication alone): cached JWT, rps vs the plain route sent the same header"
        --goal "portcullis-session cpu_plus=portcullis-carry-cookie <= 1.5 #16 (authentication alone): cookie session, CPU us/request over the plain route sent the same cookie"
        --goal "portcullis-session rps_vs=portcullis-carry-cookie >= 0.95 #16 (authentication alone): cookie session, rps vs the plain route sent the same cookie")
    fi
    python3 "$LOADDIR/report.py" --clk-tck "$CLK_TCK" ${goals[@]+"${goals[@]}"} "$RESULTS"
  fi
} | tee "$SUMMARY"

# Problems seen by portcullis during the runs (warn level and above end up here).
for f in ${PC_LOGS[@]+"${PC_LOGS[@]}"}; do
  n=$(grep -ciE 'panic|error|warn' "$f" || true)
  if ((n > 0)); then
    echo "portcullis log $f: $n warning/error lines, first ones:" | tee -a "$SUMMARY"
    grep -iE 'panic|error|warn' "$f" | head -n 5 | cut -c1-300 | tee -a "$SUMMARY"
  fi
done

if ((BENCH_RSS_CONNS > 0)); then
  log "idle keep-alive RSS test: $BENCH_RSS_CONNS connections (fresh instances)"
  # Fresh processes so that VmHWM reflects only the idle-connection scenario.
  for pid in "${SERVER_PID[@]}"; do
    [[ $pid == "$UP_PID" ]] || stop_pid "$pid"
  done
  echo "== peak RSS with $BENCH_RSS_CONNS idle keep-alive connections (one request each)" | tee -a "$SUMMARY"
  if [[ $BENCH_PORTCULLIS == 1 ]]; then
    start_portcullis portcullis-rss "$PORTCULLIS_LOG_LEVEL"
    idle_rss portcullis "$PC_PORT" "$PC_PID"
    stop_pid "$PC_PID"
  fi
  if [[ $BENCH_RSS_NGINX == 1 ]]; then
    start_nginx_proxy nginx-rss
    idle_rss nginx "$NGX_PORT" "$NGX_PID"
  fi
fi

if [[ -n $BENCH_OUT ]]; then
  mkdir -p "$BENCH_OUT"
  cp -r "$RESULTS" "$SUMMARY" "$TMP/wrk" "$BENCH_OUT"/
  for f in "${PC_LOGS[@]}"; do cp "$f" "$BENCH_OUT/$(basename "$(dirname "$f")").log"; done
  log "raw results in $BENCH_OUT"
fi
