#!/usr/bin/env bash
# Browser single sign-on, end to end: a real OpenID provider (the certified npm package
# oidc-provider, tests/e2e/provider.mjs) and a second one with other users and its own
# issuer (the "partner", for the login chooser), the bundled echo upstream, portcullis with
# deploy/dev/portcullis.dev.yaml on free ports, and Debian's chromium driven by
# playwright-core (tests/e2e/scenarios.mjs). Everything runs on 127.0.0.1, offline.
#
#   tests/e2e/run.sh [scenario-name-filter]
#
# Environment:
#   PORTCULLIS_BIN   use this portcullis binary instead of `cargo build`
#   CHROMIUM         browser binary (default /usr/bin/chromium; installed with apt when missing)
#   E2E_KEEP=1       keep the work directory (logs of provider, echo, gateway) after the run
#   E2E_LOG_LEVEL    gateway log level (default info)
#   E2E_ARTIFACTS    where failure screenshots/HTML go (default tests/e2e/artifacts)
#   E2E_PROVIDER_HOST  provider host name (default 127.0.0.1; `localhost` puts the provider
#                    on another site than the gateway, so cookies and SameSite work cross-site)
#   CONFORM_ID_TOKEN_CLAIMS=0  the provider also puts profile/email/groups in the ID token
# Needs: node >= 20 and npm, python3, curl, cargo (unless PORTCULLIS_BIN).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { printf '== e2e: %s\n' "$*" >&2; }
die() { printf '== e2e: FAILED: %s\n' "$*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portcullis-e2e.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc -ne 0 && $rc -ne 141 ]]; then
    for log in provider partner echo gateway; do
      if [[ -s "$WORK/$log.log" ]]; then
        say "last lines of $log.log"
        tail -n 40 "$WORK/$log.log" >&2
      fi
    done
  fi
  if [[ "${E2E_KEEP:-0}" == 1 ]]; then
    say "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE   # e.g. `run.sh | head`: still stop everything

# --- dependencies -----------------------------------------------------------------------
command -v node >/dev/null || die "node is not installed"
node -e 'const [a]=process.versions.node.split(".").map(Number); process.exit(a>=20?0:1)' \
  || die "node >= 20 is needed (found $(node --version))"

lock_sum="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$HERE/node_modules/.e2e-lock-sha256" ]] \
  || [[ "$(cat "$HERE/node_modules/.e2e-lock-sha256")" != "$lock_sum" ]]; then
  say "npm ci"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$HERE/node_modules/.e2e-lock-sha256"
fi

if [[ ! -x "$CHROMIUM" ]]; then
  [[ "$CHROMIUM" == /usr/bin/chromium ]] || die "CHROMIUM=$CHROMIUM is not executable"
  [[ $(id -u) -eq 0 ]] || die "chromium is missing: apt-get install -y chromium (as root)"
  say "installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [[ -n "${PORTCULLIS_BIN:-}" ]]; then
  BIN="$PORTCULLIS_BIN"
else
  say "cargo build"
  (cd "$ROOT" && cargo build --quiet --bin portcullis)
  target_dir="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  BIN="$target_dir/debug/portcullis"
fi
[[ -x "$BIN" ]] || die "portcullis binary not found: $BIN"

# --- ports, secrets ---------------------------------------------------------------------
read -r OP_PORT ECHO_PORT GW_PORT ADMIN_PORT SPA_PORT PARTNER_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()')

export GW_URL="http://127.0.0.1:$GW_PORT"
OP_HOST="${E2E_PROVIDER_HOST:-127.0.0.1}"
export ISSUER="http://$OP_HOST:$OP_PORT"
export CLIENT_ID=portcullis
CLIENT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
export CLIENT_SECRET
export REDIRECT_URI="$GW_URL/oauth2/callback"
export PARTNER_ISSUER="http://$OP_HOST:$PARTNER_PORT"
PARTNER_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"

# Wait (bounded) until `cmd...` succeeds, failing early if process $pid died.
wait_for() {
  local what=$1 pid=$2 timeout=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what exited during startup"
    ((SECONDS < deadline)) || die "$what not ready after ${timeout}s"
    sleep 0.2
  done
}

# --- provider ---------------------------------------------------------------------------
say "provider on $ISSUER"
PROVIDER_HOST="$OP_HOST" REDIRECT_URIS="$REDIRECT_URI" node "$HERE/provider.mjs" "$OP_PORT" >"$WORK/provider.log" 2>&1 &
PIDS+=($!)
wait_for provider "${PIDS[-1]}" 30 grep -q '^READY ' "$WORK/provider.log"
node "$HERE/provider-selftest.mjs" || die "provider self-test"

say "partner provider on $PARTNER_ISSUER"
PROVIDER_HOST="$OP_HOST" REDIRECT_URIS="$REDIRECT_URI" CLIENT_SECRET="$PARTNER_SECRET" \
  PROVIDER_USERS=partner PROVIDER_LABEL="partner provider" \
  node "$HERE/provider.mjs" "$PARTNER_PORT" >"$WORK/partner.log" 2>&1 &
PIDS+=($!)
wait_for partner "${PIDS[-1]}" 30 grep -q '^READY ' "$WORK/partner.log"

# --- echo upstream ----------------------------------------------------------------------
say "echo upstream on 127.0.0.1:$ECHO_PORT"
"$BIN" echo --listen "127.0.0.1:$ECHO_PORT" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
wait_for echo "${PIDS[-1]}" 30 curl -fsS "http://127.0.0.1:$ECHO_PORT/ready"

# --- gateway ----------------------------------------------------------------------------
export DEV_GATEWAY_ADDR="127.0.0.1:$GW_PORT"
export DEV_PUBLIC_URL="$GW_URL"
export DEV_ADMIN_ADDR="127.0.0.1:$ADMIN_PORT"
export DEV_ISSUER="$ISSUER"
export DEV_CLIENT_ID="$CLIENT_ID"
export DEV_CLIENT_SECRET="$CLIENT_SECRET"
export DEV_UPSTREAM="http://127.0.0.1:$ECHO_PORT"
export DEV_PARTNER_ISSUER="$PARTNER_ISSUER"
export DEV_PARTNER_CLIENT_SECRET="$PARTNER_SECRET"
export DEV_LOG_LEVEL="${E2E_LOG_LEVEL:-info}"
# The cross-origin page of the CORS scenario (served by scenarios.mjs itself).
export DEV_SPA_PORT="$SPA_PORT"
export NO_COLOR=1
PORTCULLIS_COOKIE_SECRET="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
export PORTCULLIS_COOKIE_SECRET
CONFIG="$ROOT/deploy/dev/portcullis.dev.yaml"
"$BIN" check-config "$CONFIG" >&2 || die "config rejected: $CONFIG"

say "gateway on $GW_URL (admin 127.0.0.1:$ADMIN_PORT)"
"$BIN" run --config "$CONFIG" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)
# Ready = listening and both providers' discovery documents loaded.
wait_for gateway "${PIDS[-1]}" 60 curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz"

# --- scenarios --------------------------------------------------------------------------
say "browser scenarios"
[[ -n "${E2E_ARTIFACTS:-}" ]] || rm -rf "$HERE/artifacts"
set +e
node "$HERE/scenarios.mjs" "$@"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  say "gateway log: $WORK/gateway.log (E2E_KEEP=1 keeps it)"
  exit "$rc"
fi
say "all green"
