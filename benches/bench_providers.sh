# Sourced by benches/load.sh and benches/callgrind_auth.sh (not run on its own).
# bench_providers IDP_PORT INTRO_CLIENT_ID INTRO_SECRET: prints the `providers:` block
# of the benchmark configs: three providers on bench_idp's issuer — `bench` (every JWT
# verified afresh), `bench-cached` (verified-token cache at its default size) and
# `bench-intro` (introspection, verdicts cached 5 min).
bench_providers() {
  local port=$1 intro_id=$2 intro_secret=$3 name
  echo "providers:"
  for name in bench bench-cached bench-intro; do
    cat <<YAML
  - name: $name
    issuer: "http://127.0.0.1:$port"
    client_id: portcullis
    client_secret: bench-client-secret
    signing_algs: [RS256]
    tokens:
      audiences: [bench]
YAML
    case $name in
      bench) echo "      verified_cache_size: 0    # every token verified afresh" ;;
      bench-intro)
        cat <<YAML
      introspection:
        client_id: $intro_id
        client_secret: "$intro_secret"
        cache_ttl: 5m
YAML
        ;;
    esac
  done
}
