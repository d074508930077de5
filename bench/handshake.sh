#!/usr/bin/env bash
# TLS handshake rate (new connections per second, full handshakes, no resumption) of proxykit
# against the shared harness's TLS targets, one at a time, each pinned to core 1 with the client
# (`openssl s_time -new`) on core 0. Same certificate (ECDSA P-256) for every target.
#
#   bench/handshake.sh                 # proxykit-tls, node-ref-tls, caddy-tls, nginx-tls
#   SECONDS_PER=10 bench/handshake.sh  # longer runs
#
# Needs ../shared/bench (or BENCH_DIR) for the reference launchers, openssl, and the references
# themselves (nginx, caddy). Prints handshakes/s per target and the ratios to node-ref and Caddy.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$repo/../shared/bench}
SECONDS_PER=${SECONDS_PER:-5}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/pk-handshake-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; sleep 0.5; for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
# The Node reference needs its own node_modules (undici); installed once, like the harness does.
NODE_DIR=${NODE_DIR:-/tmp/pk-handshake-node}
if [[ ! -f "$NODE_DIR/.installed" ]]; then
  mkdir -p "$NODE_DIR"
  cp "$BENCH_DIR/node/package.json" "$BENCH_DIR/node/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$NODE_DIR/.installed"
fi
cp "$BENCH_DIR/node/ref-proxy.mjs" "$NODE_DIR/"
export TLS_CERT=$work/cert.pem TLS_KEY=$work/key.pem UPSTREAM_URL=http://127.0.0.1:18080 \
  UPSTREAM=127.0.0.1:18080 UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT=18080 BENCH_DIR NODE_DIR

node -e "require('node:http').createServer((q, s) => s.end('hello world\n')).listen(18080, '127.0.0.1')" &
pids+=($!)

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

declare -A rate cpu
# CPU ticks (user + sys) of a process and its children (nginx's worker, Caddy, node).
ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [[ -r /proc/$p/stat ]] && total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$p/stat") ))
  done
  echo "$total"
}
measure() { # name port cmd...
  local name=$1 port=$2; shift 2
  mkdir -p "$work/$name"
  (export PORT=$port WORK_DIR=$work/$name; exec taskset -c 1 "$@") > "$work/$name/log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_port "$port"
  # Let start-up work that runs after the port opens (module loading, JIT warm-up, an esbuild
  # service winding down) finish, so it is not counted as handshake CPU.
  sleep 1
  local best=0 r n t0 t1 conns=0 hz
  hz=$(getconf CLK_TCK)
  t0=$(ticks "$pid")
  for _ in $(seq "$ROUNDS"); do
    out=$(taskset -c 0 openssl s_time -connect "127.0.0.1:$port" -new -time "$SECONDS_PER" 2>/dev/null)
    r=$(awk '/connections in .* real seconds/ { printf "%d", $1 / $4 }' <<<"$out")
    n=$(awk '/connections in .* real seconds/ { print $1 }' <<<"$out")
    conns=$(( conns + n ))
    (( r > best )) && best=$r
  done
  t1=$(ticks "$pid")
  # Handshakes per CPU-second of the server: meaningful even when the client is the limit.
  cpu[$name]=$(awk -v c="$conns" -v t=$(( t1 - t0 )) -v hz="$hz" 'BEGIN { printf "%d", (t > 0 ? c / (t / hz) : 0) }')
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rate[$name]=$best
  printf '%-14s %6d handshakes/s (best of %d × %ds), %6d per CPU-second\n' "$name" "$best" "$ROUNDS" "$SECONDS_PER" "${cpu[$name]}"
}

measure proxykit-tls 18301 node "$repo/bin/proxykit.js" start -c "$repo/bench/proxykit.tls.bench.config.ts" --data-dir "$work/proxykit-tls"
measure node-ref-tls 18205 node "$NODE_DIR/ref-proxy.mjs" --tls
command -v caddy >/dev/null && measure caddy-tls 18203 "$BENCH_DIR/targets/caddy.sh" --tls
command -v nginx >/dev/null && measure nginx-tls 18201 "$BENCH_DIR/targets/nginx.sh" --tls

ratios() { # label, array name
  local -n a=$2
  awk -v l="$1" -v p="${a[proxykit-tls]}" -v n="${a[node-ref-tls]}" -v c="${a[caddy-tls]:-0}" -v x="${a[nginx-tls]:-0}" 'BEGIN {
    printf "%s: proxykit / node-ref = %.2f", l, p / n
    if (c > 0) printf "   proxykit / caddy = %.2f", p / c
    if (x > 0) printf "   proxykit / nginx = %.2f", p / x
    printf "\n" }'
}
ratios 'handshakes/s' rate
ratios 'per CPU-second' cpu
echo "(openssl s_time is one client process on one core: a server faster than it shows the client's limit in handshakes/s, not in handshakes per CPU-second)"
