#!/usr/bin/env bash
# Usage: bash benches/callgrind_auth.sh BIN IDP_BIN LABEL "ROUTES" [CONNS] [SECS]
#   e.g. bash benches/callgrind_auth.sh target/release/portcullis \
#          target/release/examples/bench_idp now "plain jwtc intro sess" 8 4
# (cargo build --release --bin portcullis --example bench_idp first). Needs valgrind,
# nginx, redis-server, wrk. KEEP: the temp dir's path is printed last (callgrind.out per
# route, for callgrind_annotate); it is left for inspection.
# Instructions per request under callgrind, per route, measured only while wrk runs
# (--instr-atstart=no, then callgrind_control -i on/off around wrk, after a warm-up of
# 200 requests per route). 1 worker, nginx upstream "ok", access log on, level warn.
# ROUTES: space-separated of plain plainj plainc (the plain route carrying the JWT
# header / the session cookie) jwt jwtc intro sess rsess edge assert (rsess runs a
# redis-store instance; edge = bearer + CORS + principal limit, assert = bearer +
# identity assertion). Prints "LABEL route: requests=N Ir/req=X" per route.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench_providers.sh"
BIN=$1; IDP=$2; LABEL=$3; ROUTES=$4; CONNS=${5:-8}; SECS=${6:-4}
T=$(mktemp -d)
fp() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
UP=$(fp); IDP_PORT=$(fp); RP=$(fp)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
mkdir -p $T/ng/logs
cat > $T/ng/nginx.conf <<NG
worker_processes 1; daemon off; pid $T/ng/nginx.pid; error_log $T/ng/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
NG
/usr/sbin/nginx -c $T/ng/nginx.conf -p $T/ng & PIDS+=($!)
redis-server --bind 127.0.0.1 --port $RP --save '' --appendonly no --dir $T --daemonize no > $T/redis.log 2>&1 & PIDS+=($!)
SECRET=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
BENCH_SESSION_SECRET=$SECRET BENCH_REDIS_URL=redis://127.0.0.1:$RP $IDP $IDP_PORT $T/idp > $T/idp.log 2>&1 & PIDS+=($!)
for i in $(seq 1 300); do grep -q '^READY' $T/idp.log 2>/dev/null && break; sleep 0.1; done
JWT=$(<$T/idp/jwt.txt); REF=$(<$T/idp/reference.txt)
conf() {  # conf FILE PORT STORE
  cat > $1 <<Y
server: { listen: "127.0.0.1:$2", public_url: "http://127.0.0.1:$2" }
admin: { listen: "127.0.0.1:0" }
log: { level: warn, format: json, access: on }
Y
  bench_providers "$IDP_PORT" bench-api bench-api-secret >> $1
  printf 'session:\n  cookie_name: portcullis\n  secrets: ["%s"]\n' "$SECRET" >> $1
  if [[ $3 == redis ]]; then printf '  store: redis\n  redis:\n    url: "redis://127.0.0.1:%s"\n' $RP >> $1; fi
  echo "routes:" >> $1
  echo "  - { name: plain, match: { path_prefix: \"/\" }, upstream: \"http://127.0.0.1:$UP\", auth: none }" >> $1
  for r in "jwt bearer bench" "jwtc bearer bench-cached" "intro bearer bench-intro" "sess session bench" "rsess session bench"; do
    set -- $r
    echo "  - { name: $1, match: { path_prefix: \"/$1/\" }, upstream: \"http://127.0.0.1:$UP\", auth: $2, provider: $3 }" >> $CONF_FILE
  done
  echo "  - { name: edge, match: { path_prefix: \"/edge/\" }, upstream: \"http://127.0.0.1:$UP\", auth: bearer, provider: bench-cached, cors: { allow_origins: [\"https://app.example.com\"], allow_credentials: true }, rate_limit: [{ key: principal, rate: 1000000/s, burst: 1000000 }] }" >> $CONF_FILE
  echo "  - { name: assert, match: { path_prefix: \"/assert/\" }, upstream: \"http://127.0.0.1:$UP\", auth: bearer, provider: bench-cached, identity_assertion: { audience: bench-upstream } }" >> $CONF_FILE
}
for route in $ROUTES; do
  GW=$(fp); CONF_FILE=$T/p-$route.yaml
  store=cookie; [[ $route == rsess ]] && store=redis
  conf $CONF_FILE $GW $store
  case $route in
    plain) H=(); P=/ ;;
    plainj) H=(-H "Authorization: Bearer $JWT"); P=/ ;;
    plainr) H=(-H "Authorization: Bearer $REF"); P=/ ;;
    plainc) H=(-H "Cookie: $(curl -sSf http://127.0.0.1:$IDP_PORT/bench/session-cookie)"); P=/ ;;
    jwt|jwtc|assert) H=(-H "Authorization: Bearer $JWT"); P=/$route/ ;;
    edge) H=(-H "Authorization: Bearer $JWT" -H "Origin: https://app.example.com"); P=/edge/ ;;
    intro) H=(-H "Authorization: Bearer $REF"); P=/intro/ ;;
    sess) H=(-H "Cookie: $(curl -sSf http://127.0.0.1:$IDP_PORT/bench/session-cookie)"); P=/sess/ ;;
    rsess) H=(-H "Cookie: $(curl -sSf http://127.0.0.1:$IDP_PORT/bench/redis-session-cookie)"); P=/rsess/ ;;
  esac
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$T/cg-$route.out $BIN run --workers 1 --config $CONF_FILE > $T/gw-$route.log 2>&1 & VPID=$!
  for i in $(seq 1 200); do curl -s -o /dev/null http://127.0.0.1:$GW/ && break; sleep 0.5; done
  code=000
  for i in $(seq 1 100); do code=$(curl -s -o /dev/null -w '%{http_code}' "${H[@]}" http://127.0.0.1:$GW$P) ; [[ $code == 200 ]] && break; sleep 0.5; done
  [[ $code == 200 ]] || { echo "$route: answers $code"; tail $T/gw-$route.log; kill $VPID; continue; }
  wrk -t1 -c$CONNS -d2s "${H[@]}" http://127.0.0.1:$GW$P > /dev/null   # warm-up
  redis-cli -p $RP info commandstats > $T/redis-before-$route.txt 2>/dev/null || true
  callgrind_control -i on $VPID > /dev/null
  wrk -t1 -c$CONNS -d${SECS}s --latency "${H[@]}" http://127.0.0.1:$GW$P > $T/wrk-$route.txt
  callgrind_control -i off $VPID > /dev/null
  redis-cli -p $RP info commandstats > $T/redis-after-$route.txt 2>/dev/null || true
  REQS=$(awk '/requests in/ {print $1}' $T/wrk-$route.txt)
  NON2XX=$(awk '/Non-2xx/ {print $NF}' $T/wrk-$route.txt)
  kill -TERM $VPID; wait $VPID 2>/dev/null || true
  IR=$(callgrind_annotate $T/cg-$route.out 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  echo "$LABEL $route: requests=$REQS non2xx=${NON2XX:-0} Ir=$IR Ir/req=$(python3 -c "print(round($IR/($REQS)))")"
done
echo "kept: $T"
for route in $ROUTES; do R=$(awk '/requests in/ {print $1}' $T/wrk-$route.txt 2>/dev/null); echo "$route $R" >> $T/reqs.txt; done
