#!/usr/bin/env bash
# Start Pebble (Debian's `pebble` package) + its DNS stub on loopback, for ACME tests.
# Usage: test/pebble-up.sh DIR       stop: kill $(cat DIR/pebble.pid DIR/challtestsrv.pid)
# See ../shared/docs/acme-testing.md. Environment (all optional):
#   PEBBLE_BASE_PORT   first of 6 ports (default 21400): +0 ACME directory (/dir), +1 management
#                      (roots/0), +2 HTTP-01 port, +3 TLS-ALPN-01 port, +4 DNS stub, +5 stub mgmt
#   PEBBLE_VALIDITY    certificate lifetime in seconds (default 300)
#   PEBBLE_AUTHZREUSE  % of valid authorizations reused (default 0; Pebble 2.4 still reuses 1 %
#                      of the time: `rand.Intn(100) > pct` decides a new authz; use a fresh
#                      account when a challenge must run)
set -euo pipefail
dir=${1:?work dir}; mkdir -p "$dir"; cd "$dir"
base=${PEBBLE_BASE_PORT:-21400}
validity=${PEBBLE_VALIDITY:-300}
command -v pebble >/dev/null || { apt-get update -qq && apt-get install -y -qq pebble >/dev/null; }

# 1. A throwaway CA + server cert for Pebble's own HTTPS listeners (Debian ships none).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=pebble listener test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout pebble.key -out pebble.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in pebble.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
  -extfile ext.cnf -out pebble.pem 2>/dev/null

# 2. Config: everything on 127.0.0.1.
cat > pebble-config.json <<JSON
{ "pebble": {
    "listenAddress": "127.0.0.1:$base",
    "managementListenAddress": "127.0.0.1:$((base + 1))",
    "certificate": "pebble.pem", "privateKey": "pebble.key",
    "httpPort": $((base + 2)), "tlsPort": $((base + 3)),
    "ocspResponderURL": "", "externalAccountBindingRequired": false,
    "certificateValidityPeriod": $validity } }
JSON

# 3. DNS stub: every name -> 127.0.0.1, no AAAA (Pebble would try ::1 first).
pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" \
  -dns01 "127.0.0.1:$((base + 4))" -management "127.0.0.1:$((base + 5))" \
  -defaultIPv4 127.0.0.1 -defaultIPv6 "" > challtestsrv.log 2>&1 &
echo $! > challtestsrv.pid

# 4. Pebble: no random validation sleeps, no injected bad nonces.
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=${PEBBLE_AUTHZREUSE:-0} \
  pebble -config pebble-config.json -dnsserver "127.0.0.1:$((base + 4))" > pebble.log 2>&1 &
echo $! > pebble.pid

for _ in $(seq 100); do
  curl -sf --cacert ca.pem "https://127.0.0.1:$base/dir" >/dev/null \
    && curl -sf -o /dev/null -X POST -d '{"host":"probe.","value":"x"}' "http://127.0.0.1:$((base + 5))/set-txt" \
    && exit 0
  sleep 0.1
done
echo "pebble did not start:" >&2; cat pebble.log challtestsrv.log >&2; exit 1
