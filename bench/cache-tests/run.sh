#!/usr/bin/env bash
# Run the http-tests "cache-tests" suite (RFC 9111 conformance, github.com/http-tests/cache-tests)
# against proxykit's HTTP cache. See bench/cache-tests/README.md. The suite is not vendored: point
# CACHE_TESTS_DIR at a checkout of it.
#
# What it starts (each by pid, stopped by pid on exit, never looked up by name):
#   1. the suite's origin server   node $CACHE_TESTS_DIR/test-engine/server/server.mjs  127.0.0.1:$ORIGIN_PORT
#   2. proxykit                    node bin/proxykit.js start -c bench/cache-tests/proxykit.cache-tests.config.ts
#                                  on 127.0.0.1:$PROXY_PORT, everything routed to the origin with .cache()
# then runs the suite's CLI against proxykit, writes the results JSON and prints a summary.
#
# Environment:
#   CACHE_TESTS_DIR  the suite checkout                          (default /tmp/cache-tests)
#   ORIGIN_PORT      the suite's origin server                    (default 18440)
#   PROXY_PORT       proxykit                                     (default 18450)
#   NO_CACHE=1       proxykit without .cache() (pass-through baseline)
#   DIRECT=1         no proxykit at all: run the suite against the origin itself
#   TEST_ID=<id>     run one test, with the suite's request/response dump (e.g. freshness-max-age)
#   OUT_DIR          where results and logs go                    (default /tmp/proxykit-cache-tests)
#   RESULTS          the results JSON                             (default $OUT_DIR/<label>.json)
#   COMPARE=<file>   also list the tests whose outcome changed against an earlier results JSON
#   BUILD=1          run `npm run build` first (otherwise only when dist/ is missing)
#   STRICT=1         exit 1 when a required test fails (default: exit 0 once results are written)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_TESTS_DIR=${CACHE_TESTS_DIR:-/tmp/cache-tests}
ORIGIN_PORT=${ORIGIN_PORT:-18440}
PROXY_PORT=${PROXY_PORT:-18450}
OUT_DIR=${OUT_DIR:-/tmp/proxykit-cache-tests}
NO_CACHE=${NO_CACHE:-0}
DIRECT=${DIRECT:-0}
TEST_ID=${TEST_ID:-}

if [[ "$DIRECT" == 1 ]]; then label=origin-direct
elif [[ "$NO_CACHE" == 1 ]]; then label=proxykit-nocache
else label=proxykit; fi
RESULTS=${RESULTS:-$OUT_DIR/$label.json}

log() { printf '[cache-tests] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---- the suite checkout
[[ -f "$CACHE_TESTS_DIR/test-engine/cli.mjs" && -f "$CACHE_TESTS_DIR/tests/index.mjs" ]] \
  || die "no cache-tests checkout in $CACHE_TESTS_DIR (git clone https://github.com/http-tests/cache-tests; see bench/cache-tests/README.md)"
CACHE_TESTS_DIR=$(cd "$CACHE_TESTS_DIR" && pwd)
if [[ ! -d "$CACHE_TESTS_DIR/node_modules/undici" ]]; then
  log "installing the suite's dependencies (npm install in $CACHE_TESTS_DIR)"
  (cd "$CACHE_TESTS_DIR" && npm install --omit=dev --no-audit --no-fund >&2)
  [[ -d "$CACHE_TESTS_DIR/node_modules/undici" ]] || (cd "$CACHE_TESTS_DIR" && npm install --no-save --no-audit --no-fund undici@7 >&2)
fi
# On Node < 23 the built-in fetch is undici 6, which cannot use the undici 7 dispatcher the suite's
# client composes to observe 1xx responses (the interim-* tests fail with "fetch failed"). The shim
# swaps in npm undici's fetch; without it those 4 tests are harness errors, not cache results.
shim="$CACHE_TESTS_DIR/fetch-shim.mjs"
if [[ ! -f "$shim" ]]; then
  shim="$OUT_DIR/fetch-shim.mjs"
  mkdir -p "$OUT_DIR"
  cat > "$shim" <<EOF
import { fetch, Headers, Request, Response, FormData } from '$CACHE_TESTS_DIR/node_modules/undici/index.js'
if (Number(process.versions.node.split('.')[0]) < 23) Object.assign(globalThis, { fetch, Headers, Request, Response, FormData })
EOF
fi
summary="$repo/bench/cache-tests/summary.mjs"
export CACHE_TESTS_DIR

# ---- proxykit build
if [[ "$DIRECT" != 1 ]]; then
  if [[ "${BUILD:-0}" == 1 || ! -f "$repo/dist/cli/main.js" ]]; then
    log "building proxykit (npm run build)"
    (cd "$repo" && npm run build >&2)
  fi
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port pid what
  local i
  for ((i = 0; i < 150; i++)); do
    port_busy "$1" && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited during startup (see its log)"
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1 within 15 s"
}

mkdir -p "$OUT_DIR" "$(dirname "$RESULTS")"
work=$(mktemp -d "$OUT_DIR/run-XXXXXX")
pids=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for p in "$ORIGIN_PORT" $([[ "$DIRECT" == 1 ]] || echo "$PROXY_PORT"); do
  port_busy "$p" && die "127.0.0.1:$p is already in use (set ORIGIN_PORT / PROXY_PORT)"
done

# ---- 1. the suite's origin server (its config comes from npm_config_* like `npm run server`)
log "origin: cache-tests server on 127.0.0.1:$ORIGIN_PORT (log $work/origin.log)"
(cd "$CACHE_TESTS_DIR" && exec env npm_config_protocol=http npm_config_port="$ORIGIN_PORT" \
  npm_config_pidfile="$work/origin.pid" node test-engine/server/server.mjs) > "$work/origin.log" 2>&1 &
pids+=($!)
wait_port "$ORIGIN_PORT" "${pids[-1]}" "the origin server"

# ---- 2. proxykit
base="http://127.0.0.1:$ORIGIN_PORT"
if [[ "$DIRECT" != 1 ]]; then
  log "proxykit: 127.0.0.1:$PROXY_PORT -> $base, $([[ "$NO_CACHE" == 1 ]] && echo 'NO cache (pass-through)' || echo '.cache() on') (log $work/proxykit.log)"
  (cd "$repo" && exec env PORT="$PROXY_PORT" ORIGIN_URL="$base" NO_CACHE="$NO_CACHE" LOG_FILE="$work/access.log" \
    node bin/proxykit.js start -c bench/cache-tests/proxykit.cache-tests.config.ts --data-dir "$work/data") \
    > "$work/proxykit.log" 2>&1 &
  pids+=($!)
  wait_port "$PROXY_PORT" "${pids[-1]}" "proxykit"
  base="http://127.0.0.1:$PROXY_PORT"
  # forwarding check: the origin answers 404 "/index.html Not Found" for / (it serves files from its cwd)
  probe=$(node -e "fetch(process.argv[1]).then(async r => console.log(r.status + ' ' + (await r.text()).trim())).catch(e => console.log('ERR ' + e.message))" "$base/" 2>&1)
  [[ "$probe" == *"Not Found"* ]] || die "proxykit does not forward to the origin (GET / -> $probe); see $work/proxykit.log"
fi

# ---- 3. the suite's CLI
log "running cache-tests against $base${TEST_ID:+ (only $TEST_ID)}; about a minute for the full suite"
start=$(date +%s)
set +e
(cd "$CACHE_TESTS_DIR" && exec env npm_config_base="$base" npm_package_config_base="" \
  npm_config_id="$TEST_ID" npm_package_config_id="" \
  timeout 900 node --no-warnings --import "$shim" test-engine/cli.mjs) > "$work/cli.out" 2> "$work/cli.err"
cli_rc=$?
set -e
log "cli finished in $(( $(date +%s) - start )) s (exit $cli_rc)"
if [[ -n "$TEST_ID" ]]; then
  cat "$work/cli.out"
  [[ -s "$work/cli.err" ]] && cat "$work/cli.err" >&2
  exit "$cli_rc"
fi
[[ $cli_rc == 0 ]] || { cat "$work/cli.err" >&2; die "the suite's CLI failed (exit $cli_rc)"; }
cp "$work/cli.out" "$RESULTS"
[[ -s "$work/cli.err" ]] && log "cli stderr (harness messages): $(wc -l < "$work/cli.err") lines in $work/cli.err"
log "results: $RESULTS   logs: $work"

# ---- 4. summary
node "$summary" "$RESULTS" ${COMPARE:+--compare "$COMPARE"}
if [[ "${STRICT:-0}" == 1 ]]; then
  failed=$(node "$summary" "$RESULTS" --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).failedRequired))")
  [[ "$failed" == 0 ]] || exit 1
fi
