#!/usr/bin/env bash
# The full test suite: unit + integration tests (cargo test, which also starts real
# redis-server and nginx processes for the scale-out and forward-auth tests, and runs
# Debian's python3-grpcio as a gRPC client), then the
# end-to-end browser suite (real OpenID provider + Debian chromium, tests/e2e/run.sh).
# Installs the system packages the tests need when they are missing (Debian, as root),
# and PyJWT from PyPI for the identity-assertion tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs npm)
# A real gRPC client library (C-core) for tests/it/edge/grpc_library.rs.
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
if ((${#need[@]})); then
  echo "== installing: ${need[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
export PATH="$PATH:/usr/sbin"

# PyJWT (with cryptography): the independent verifier of identity assertions in the
# integration tests (tests/it/support/pyjwt.rs; under CI a missing PyJWT fails them).
# Debian's packages first (no PyPI needed), for when python3 is the system's; pip for
# another python3 (pyenv, a venv) or when apt has none.
if ! python3 -c "import jwt, cryptography" 2>/dev/null && [[ $(command -v python3) == /usr/bin/python3 ]]; then
  echo "== installing: python3-jwt python3-cryptography (apt)"
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y -qq python3-jwt python3-cryptography >/dev/null || true
  else
    sudo apt-get install -y -qq python3-jwt python3-cryptography >/dev/null || true
  fi
fi
if ! python3 -c "import jwt, cryptography" 2>/dev/null; then
  echo "== installing: pyjwt[crypto] (pip)"
  python3 -m pip install --quiet --root-user-action=ignore "pyjwt[crypto]" \
    || python3 -m pip install --quiet --break-system-packages "pyjwt[crypto]"
fi

echo "== cargo test"
cargo test

echo "== end-to-end (browser + OpenID provider)"
bash tests/e2e/run.sh
