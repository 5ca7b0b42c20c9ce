#!/usr/bin/env bash
# The dev stack in one command: a dev OpenID provider (tests/e2e/provider.mjs, the npm
# package oidc-provider), the bundled echo upstream and portcullis with
# deploy/dev/portcullis.dev.yaml. Open the printed URL and sign in as alice or bob.
#
#   deploy/dev/up.sh            Ctrl-C stops everything
#
# Ports (override with the variables): provider 127.0.0.1:9000 (DEV_PROVIDER_PORT), a
# second "partner" provider with other users 127.0.0.1:9001 (DEV_PARTNER_PORT), echo upstream 127.0.0.1:8081 (DEV_ECHO_PORT), gateway 127.0.0.1:8080 (DEV_GATEWAY_PORT),
# admin 127.0.0.1:9090 (DEV_ADMIN_PORT). PORTCULLIS_BIN runs that binary instead of
# building with cargo; PORTCULLIS_COOKIE_SECRET keeps sessions valid across restarts.
# Needs: node >= 20 with npm (dependencies are installed on the first run), cargo, curl.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E="$ROOT/tests/e2e"
OP_PORT="${DEV_PROVIDER_PORT:-9000}"
ECHO_PORT="${DEV_ECHO_PORT:-8081}"
GW_PORT="${DEV_GATEWAY_PORT:-8080}"
ADMIN_PORT="${DEV_ADMIN_PORT:-9090}"
GW="http://127.0.0.1:$GW_PORT"
ISSUER="http://127.0.0.1:$OP_PORT"
CLIENT_SECRET="${DEV_CLIENT_SECRET:-portcullis-dev-secret}"
PARTNER_PORT="${DEV_PARTNER_PORT:-9001}"
PARTNER_ISSUER="http://127.0.0.1:$PARTNER_PORT"
PARTNER_SECRET="${DEV_PARTNER_CLIENT_SECRET:-portcullis-partner-secret}"

say() { printf '\033[1mup.sh:\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

PIDS=()
stop() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#PIDS[@]})); then
    say "stopping"
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  fi
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT TERM

# --- prerequisites ----------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (Node.js >= 20)"
node -e 'const [a]=process.versions.node.split(".").map(Number); process.exit(a>=20?0:1)' \
  || die "Node.js >= 20 is needed (found $(node --version))"
command -v curl >/dev/null || die "curl is needed"

for port in "$OP_PORT" "$PARTNER_PORT" "$ECHO_PORT" "$GW_PORT" "$ADMIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port 127.0.0.1:$port is already in use (another dev stack or \`cargo run\` demo?); set DEV_*_PORT to move"
  fi
done

lock_sum="$(sha256sum "$E2E/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$E2E/node_modules/.e2e-lock-sha256" ]] \
  || [[ "$(cat "$E2E/node_modules/.e2e-lock-sha256")" != "$lock_sum" ]]; then
  say "installing the dev provider's npm dependencies (first run)"
  (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$E2E/node_modules/.e2e-lock-sha256"
fi

if [[ -n "${PORTCULLIS_BIN:-}" ]]; then
  BIN="$PORTCULLIS_BIN"
else
  say "building portcullis (cargo build)"
  (cd "$ROOT" && cargo build --bin portcullis)
  BIN="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/debug/portcullis"
fi
[[ -x "$BIN" ]] || die "portcullis binary not found: $BIN"

# Runs "$@" in the background with its output prefixed by [name].
start() {
  local name=$1
  shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  PIDS+=($!)
}

wait_for() {
  local what=$1 pid=$2
  shift 2
  local deadline=$((SECONDS + 60))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what exited during startup (see its output above)"
    ((SECONDS < deadline)) || die "$what not ready after 60s"
    sleep 0.2
  done
}

# --- the stack --------------------------------------------------------------------------
start provider env CLIENT_ID=portcullis CLIENT_SECRET="$CLIENT_SECRET" \
  REDIRECT_URIS="$GW/oauth2/callback" node "$E2E/provider.mjs" "$OP_PORT"
wait_for provider "${PIDS[-1]}" curl -fsS "$ISSUER/.well-known/openid-configuration"
start partner env CLIENT_ID=portcullis CLIENT_SECRET="$PARTNER_SECRET" PROVIDER_USERS=partner \
  PROVIDER_LABEL="partner provider" REDIRECT_URIS="$GW/oauth2/callback" \
  node "$E2E/provider.mjs" "$PARTNER_PORT"
wait_for partner "${PIDS[-1]}" curl -fsS "$PARTNER_ISSUER/.well-known/openid-configuration"

start echo "$BIN" echo --listen "127.0.0.1:$ECHO_PORT"
wait_for echo "${PIDS[-1]}" curl -fsS "http://127.0.0.1:$ECHO_PORT/"

export DEV_GATEWAY_ADDR="127.0.0.1:$GW_PORT" DEV_PUBLIC_URL="$GW" DEV_ADMIN_ADDR="127.0.0.1:$ADMIN_PORT"
export DEV_ISSUER="$ISSUER" DEV_CLIENT_ID=portcullis DEV_CLIENT_SECRET="$CLIENT_SECRET"
export DEV_UPSTREAM="http://127.0.0.1:$ECHO_PORT"
export DEV_PARTNER_ISSUER="$PARTNER_ISSUER" DEV_PARTNER_CLIENT_SECRET="$PARTNER_SECRET"
if [[ -z "${PORTCULLIS_COOKIE_SECRET:-}" ]]; then
  PORTCULLIS_COOKIE_SECRET="$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64"))')"
  export PORTCULLIS_COOKIE_SECRET
fi
start portcullis "$BIN" run --config "$ROOT/deploy/dev/portcullis.dev.yaml"
wait_for portcullis "${PIDS[-1]}" curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz"

cat >&2 <<EOF

  portcullis dev stack is up — open $GW/

    $GW/hello          any signed-in user; the echo upstream shows the identity headers
    $GW/admin/         group admins only (alice: yes, bob: 403)
    $GW/both/          a chooser: dev provider or partner provider (or ?login_hint=dana@partner.example)
    $GW/api/data       JSON API: session cookie or Bearer token, 401 (not a redirect) without
    $GW/oauth2/userinfo   your session as JSON
    $GW/oauth2/sign_out   sign out, here and at the provider

  test users (dev provider login form; other names and wrong passwords are refused)
    alice / alice      groups admins, staff   alice@example.com
    bob   / bob        groups staff           bob@example.com
    carol / carol      groups staff           access tokens expire after 35 s: watch the gateway refresh
    dana  / dana       groups partners        dana@partner.example (partner provider; route both only)

  provider  $ISSUER   (client portcullis / $CLIENT_SECRET)
  partner   $PARTNER_ISSUER   (client portcullis / $PARTNER_SECRET)
  metrics   http://127.0.0.1:$ADMIN_PORT/metrics
  config    deploy/dev/portcullis.dev.yaml — edits are reloaded live

  Ctrl-C stops everything.

EOF

# Run until Ctrl-C or until one of them exits.
interrupted=0
trap 'interrupted=1' INT TERM
set +e
wait -n "${PIDS[@]}"
rc=$?
set -e
sleep 0.5 # a Ctrl-C reaches every process at once: let our own trap see it first
((interrupted)) && exit 0
say "a process exited (status $rc); stopping the rest"
exit 1
