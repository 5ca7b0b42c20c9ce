#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind (user space only, independent of
# machine load): the proxy under test runs under valgrind with one worker, in front of an
# nginx `return 200 "ok\n"` upstream; wrk -t1 -cCONNS warms it up for 2 s, the counters
# are zeroed, wrk runs SECS seconds, the counters are dumped; Ir/request = instructions of
# the whole process / requests. Not a test: it prints one line.
#
# Usage: bash benches/callgrind.sh portcullis [BIN] | nginx
#   env: CONNS (8), SECS (5), ACCESS (on|off: the access log; nginx: combined, buffer=64k)
#   KEEP=1 keeps the temp dir (callgrind.out.* for callgrind_annotate).
# Needs valgrind, nginx and wrk; BIN defaults to target/release/portcullis.
set -euo pipefail
WHAT=${1:?portcullis [BIN] | nginx}
BIN=${2:-target/release/portcullis}
CONNS=${CONNS:-8}
SECS=${SECS:-5}
ACCESS=${ACCESS:-on}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
T=$(mktemp -d)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
UP=$(free_port)
PX=$(free_port)
mkdir -p "$T/up" "$T/px"
cat >"$T/up/nginx.conf" <<NG
worker_processes 1; daemon off; pid $T/up/nginx.pid; error_log $T/up/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
NG
"$NGINX" -c "$T/up/nginx.conf" -p "$T/up" &
UP_PID=$!
if [[ $WHAT == nginx ]]; then
  log="access_log off;"
  [[ $ACCESS == on ]] && log="access_log $T/px/access.log combined buffer=64k;"
  cat >"$T/px/nginx.conf" <<NG
worker_processes 1; daemon off; master_process off; pid $T/px/nginx.pid; error_log $T/px/error.log;
events { worker_connections 4096; }
http { $log keepalive_requests 1000000; keepalive_timeout 300s;
  upstream up { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$PX;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NG
  cmd=("$NGINX" -c "$T/px/nginx.conf" -p "$T/px")
else
  cat >"$T/px/portcullis.yaml" <<Y
server: { listen: "127.0.0.1:$PX" }
admin: { listen: "127.0.0.1:0" }
log: { level: warn, format: json, access: $ACCESS }
routes:
  - { name: plain, match: { path_prefix: "/" }, upstream: "http://127.0.0.1:$UP", auth: none }
Y
  cmd=("$BIN" run --workers 1 --config "$T/px/portcullis.yaml")
fi
valgrind --tool=callgrind --callgrind-out-file="$T/callgrind.out" "${cmd[@]}" >"$T/proxy.log" 2>&1 &
VG_PID=$!
cleanup() {
  kill -TERM "$VG_PID" "$UP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ ${KEEP:-0} == 1 ]] && echo "kept: $T" || rm -rf "$T"
}
trap cleanup EXIT
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$PX/" && break; sleep 0.5; done
wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$PX/" >/dev/null
callgrind_control -z "$VG_PID" >/dev/null
wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PX/" >"$T/wrk.txt"
callgrind_control -d "$VG_PID" >/dev/null
sleep 3
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
dump=$(ls "$T"/callgrind.out.* | head -1)
ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$WHAT access=$ACCESS: requests=$reqs instructions=$ir per_request=$((ir / reqs))"
