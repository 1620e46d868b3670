#!/usr/bin/env bash
# Transport fairness and idle memory, weft against nginx, on loopback.
#
#   benches/fairness.sh                  # both sections
#   benches/fairness.sh --only latency   # small-GET latency while 1 GiB downloads run
#   benches/fairness.sh --only idle      # RSS per idle keep-alive connection
#   benches/fairness.sh --only calls     # bytes and time per sendfile call (strace)
#   benches/fairness.sh --quick          # fewer samples, 2,000 idle connections
#
# latency: one server thread (nginx: 1 worker; weft http:
# TOKIO_WORKER_THREADS=1) serves a 1 GiB file to DOWNLOADS connections over
# and over while one more keep-alive connection GETs a 4 KiB file every 10 ms;
# `conn-load latency` prints the distribution of those small GETs (request
# written to last byte read): p50, p90, p99, max in ms.
#
# idle: 10,000 connections each make one request and stay open
# (`conn-load idle`); the server's VmRSS (nginx: its worker's) before the
# connections and with them open, divided by their number, is the RSS per
# idle keep-alive connection. Servers: the transport's echo example
# (length-framed echo on weft-transport alone), weft http, nginx.
#
# WEFT=/path/to/weft runs another build of `weft` in place of this tree's;
# WEFT_BASE=/path/to/weft adds a second one (an earlier commit) to the latency
# section. ROUNDS=N (default 3) repeats the latency runs, interleaved
# (nginx, weft, base, nginx, ...), so a drift of the machine hits all alike;
# BASE_NAME names the second build in the output (default weft-http-base).
#
# calls: one download of the 1 GiB file from each server under
# `strace -f -T -e trace=sendfile` (strace slows each call; the figures
# compare the servers, they are not absolute): calls, the largest call in
# bytes, and the median and longest time in a call.
#
# Every process this script starts is stopped by its PID on exit; every
# wait is bounded.
set -euo pipefail

QUICK=0
ONLY=all
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: $0 [--quick] [--only latency|idle|calls]" >&2; exit 2 ;;
  esac
  shift
done
section() { [[ $ONLY == all || $ONLY == "$1" ]]; }
if ((QUICK)); then
  SAMPLES=200; IDLE_CONNS=2000
else
  SAMPLES=1000; IDLE_CONNS=10000
fi
DOWNLOADS=${DOWNLOADS:-1}
ROUNDS=${ROUNDS:-3}
WEFT_BASE=${WEFT_BASE:-}
BIG_MIB=1024

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
WEFT=${WEFT:-$BIN/weft}

log() { echo "fairness: $*" >&2; }

. "$ROOT/benches/lib.sh"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

command -v nginx > /dev/null || { log "nginx is needed (apt-get install nginx-light)"; exit 1; }
# 10,000 connections need 10,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > IDLE_CONNS + 100 )) || { log "descriptor limit $(ulimit -n) is too low for $IDLE_CONNS connections"; exit 1; }

log "building weft, the transport echo example and conn-load (release)"
(cd "$ROOT" && timeout 1200 cargo build -q --release -p weft-examples --bin weft \
  && timeout 1200 cargo build -q --release -p weft-transport --example echo \
  && timeout 1200 cargo build -q --release -p weft-benches --bin conn-load)

WORK=$(mktemp -d /tmp/weft-fairness.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/nginx"
if section latency || section calls; then
  log "writing a ${BIG_MIB} MiB file and a 4 KiB file in $WORK/www"
  head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/www/big.bin"
else
  : > "$WORK/www/big.bin"
fi
head -c 4096 /dev/urandom > "$WORK/www/small.bin"
chmod 644 "$WORK/www/"*
cat "$WORK/www/big.bin" > /dev/null # into the page cache

start_nginx $((IDLE_CONNS + 100)) "keepalive_timeout 600s;"

start_weft_http() { # start_weft_http [BINARY]: sets WEFT_PORT WEFT_PID
  WEFT_PORT=$(free_port)
  # One server thread: the process's runtime with one worker, as measured
  # before `weft --threads` defaulted to one thread per core (binaries
  # older than the flag run that way without it).
  local threads=()
  "${1:-$WEFT}" --help | grep -q -- --threads && threads=(--threads 0)
  TOKIO_WORKER_THREADS=1 "${1:-$WEFT}" "${threads[@]}" http --root "$WORK/www" --listen "127.0.0.1:$WEFT_PORT" \
    --idle-timeout 600 > "$WORK/weft-http.log" 2>&1 &
  WEFT_PID=$!
  PIDS+=("$WEFT_PID")
  wait_port "$WEFT_PORT" "$WEFT_PID"
}

RESULTS=()

if section latency; then
  latency() { # latency NAME PORT
    local out
    out=$(timeout 600 "$BIN/conn-load" latency --addr "127.0.0.1:$2" --downloads "$DOWNLOADS" \
      --samples "$SAMPLES" --gap-ms 10)
    log "latency $1: $out"
    RESULTS+=("latency $1 ($DOWNLOADS x ${BIG_MIB} MiB downloading): $out")
  }
  for round in $(seq "$ROUNDS"); do
    log "latency round $round of $ROUNDS"
    latency nginx "$NGINX_PORT"
    start_weft_http
    latency "weft-http" "$WEFT_PORT"
    stop "$WEFT_PID"
    if [[ -n "$WEFT_BASE" ]]; then
      start_weft_http "$WEFT_BASE"
      latency "${BASE_NAME:-weft-http-base}" "$WEFT_PORT"
      stop "$WEFT_PID"
    fi
  done
fi

if section idle; then
  idle() { # idle NAME PORT PID REQUEST EXPECT
    local before after fifo holder
    before=$(rss_kib "$3")
    fifo="$WORK/hold.$1"
    mkfifo "$fifo"
    timeout 900 "$BIN/conn-load" idle --addr "127.0.0.1:$2" --conns "$IDLE_CONNS" \
      --request "$4" --expect "$5" --hold-secs 600 < "$fifo" > "$WORK/idle.$1.out" &
    holder=$!
    PIDS+=("$holder")
    exec 7> "$fifo" # holds the loader's stdin open until we close it
    for _ in $(seq 1200); do
      grep -q '^ready' "$WORK/idle.$1.out" 2>/dev/null && break
      kill -0 "$holder" 2>/dev/null || break
      sleep 0.1
    done
    grep -q '^ready' "$WORK/idle.$1.out" || { log "idle $1: the loader did not get ready"; exec 7>&-; return 1; }
    sleep 1 # let the server go idle
    after=$(rss_kib "$3")
    exec 7>&-
    wait "$holder" || true
    local per
    per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
    log "idle $1: VmRSS ${before} KiB -> ${after} KiB with $IDLE_CONNS connections: $per B per connection"
    RESULTS+=("idle $1: $per B RSS per idle keep-alive connection ($IDLE_CONNS connections; VmRSS $before -> $after KiB)")
  }
  GET='GET /small.bin HTTP/1.1\r\nHost: bench\r\n\r\n'
  ANSWER_NGINX=$(curl -s -i "http://127.0.0.1:$NGINX_PORT/small.bin" | wc -c)

  ECHO_PORT=$(free_port)
  TOKIO_WORKER_THREADS=1 "$BIN/examples/echo" "127.0.0.1:$ECHO_PORT" > "$WORK/echo.log" 2>&1 &
  ECHO_PID=$!
  PIDS+=("$ECHO_PID")
  wait_port "$ECHO_PORT" "$ECHO_PID"
  idle "transport-echo" "$ECHO_PORT" "$ECHO_PID" '\x00\x00\x00\x04ping' 8
  stop "$ECHO_PID"

  start_weft_http
  ANSWER_WEFT=$(curl -s -i "http://127.0.0.1:$WEFT_PORT/small.bin" | wc -c)
  idle "weft-http" "$WEFT_PORT" "$WEFT_PID" "$GET" "$ANSWER_WEFT"
  stop "$WEFT_PID"

  idle nginx "$NGINX_PORT" "$NGINX_WORKER" "$GET" "$ANSWER_NGINX"
fi

if section calls; then
  calls() { # calls NAME PORT PID
    local st=$WORK/strace.$1 tracer
    strace -f -T -e trace=sendfile -o "$st" -p "$3" 2>/dev/null &
    tracer=$!
    PIDS+=("$tracer")
    sleep 0.5
    curl -s -o /dev/null --max-time 120 "http://127.0.0.1:$2/big.bin"
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
    local out
    out=$(grep 'sendfile(' "$st" | sed -nE 's/.*= ([0-9]+) <([0-9.]+)>.*/\1 \2/p' | sort -k2 -g \
      | awk '{ if ($1 > mb) mb = $1; t[NR] = $2 } END { printf "calls=%d max_bytes=%d p50_ms=%.3f max_ms=%.3f", NR, mb, t[int((NR + 1) / 2)] * 1e3, t[NR] * 1e3 }')
    log "calls $1: $out"
    RESULTS+=("sendfile calls $1 (one ${BIG_MIB} MiB download, under strace): $out")
  }
  calls nginx "$NGINX_PORT" "$NGINX_WORKER"
  start_weft_http
  calls "weft-http" "$WEFT_PORT" "$WEFT_PID"
  stop "$WEFT_PID"
  if [[ -n "$WEFT_BASE" ]]; then
    start_weft_http "$WEFT_BASE"
    calls "${BASE_NAME:-weft-http-base}" "$WEFT_PORT" "$WEFT_PID"
    stop "$WEFT_PID"
  fi
fi

echo
for r in "${RESULTS[@]}"; do echo "$r"; done
