#!/usr/bin/env bash
# Weft's example servers against the peer a user would pick, on loopback.
#
#   benches/peers.sh            # full run (about 4 minutes here)
#   benches/peers.sh --quick    # shorter loads and a 256 MiB file (about 1.5 minutes)
#   benches/peers.sh [--quick] --only echo|netty|resp|http|proxy|tls   # one section
#
# Pairs: weft http vs nginx (1 GiB file: GB/s and server CPU s/GB; 4 KiB
# file: wrk req/s), weft resp vs redis-server (redis-benchmark ping/set/get at
# -P 1 and -P 16; req/s and server CPU per request, each command run
# alone), weft echo --framing length vs a tokio-util Framed +
# LengthDelimitedCodec echo server that flushes once per batch of ready
# frames (bin `framed-echo` of this crate; load from bin `echo-load`: 64-byte
# frames with 64 and 1 in flight per connection, and frames of 8 and 32
# segments of 1 KiB; frames/s and server CPU per frame), weft proxy --mode
# splice vs --mode copy (GB/s and proxy CPU s/GiB), weft echo vs a Netty 4.1
# echo (benches/netty/NettyEcho.java on Debian's libnetty-java: NIO, one
# event-loop thread, LengthFieldBasedFrameDecoder + LengthFieldPrepender,
# flush in channelReadComplete) at 64 B, 1 KiB and 8 KiB frames; weft http
# --tls-cert vs nginx ssl (benches/peers_tls.sh: TLS 1.3, same ECDSA
# certificate; 4 KiB req/s, 256 MiB GB/s and server CPU per GB).
#
# Every server gets one thread (nginx: 1 worker; weft http: --threads 1,
# one event-loop thread; the other weft servers and framed-echo: the
# process's runtime with TOKIO_WORKER_THREADS=1, `weft --threads 0`) so the
# load generator has the other core. One more http row runs both on two
# (weft http --threads 2, nginx worker_processes 2, wrk -t2 -c128): on a
# 2-core machine wrk then competes with the servers for the same cores, so
# that row measures the servers' efficiency more than their scaling.
# nginx runs with its default open_file_cache (off: open + fstat + close
# per request); weft http with its default open-file cache (on, 1 s). Missing
# peers are installed with apt. Every process this script starts is stopped
# by its PID on exit; every load is bounded in time. Prints one line per
# comparison: both figures and their ratio (weft / peer).
set -euo pipefail

QUICK=0
ONLY=all
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: $0 [--quick] [--only echo|netty|resp|http|proxy|tls]" >&2; exit 2 ;;
  esac
  shift
done
section() { [[ $ONLY == all || $ONLY == "$1" ]]; }
if ((QUICK)); then
  BIG_MIB=256; DUR=3; REQS=20000; DOWNLOADS=2
else
  BIG_MIB=1024; DUR=8; REQS=100000; DOWNLOADS=3
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
TICK=$(getconf CLK_TCK)

log() { echo "peers: $*" >&2; }

. "$ROOT/benches/lib.sh"

# --- tools -------------------------------------------------------------------
need nginx nginx-light
need redis-server redis-server
need redis-benchmark redis-tools
need wrk wrk
need curl curl
need strace strace
need python3 python3
if section netty; then
  need javac default-jdk-headless
  [[ -f /usr/share/java/netty-codec.jar ]] || need /usr/share/java/netty-codec.jar libnetty-java
fi

log "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (figures are only comparable on an otherwise idle machine)"
log "building weft, framed-echo and echo-load (release)"
(cd "$ROOT" && timeout 1200 cargo build -q --release -p weft-examples --bin weft \
  && timeout 1200 cargo build -q --release -p weft-benches --bin framed-echo --bin echo-load)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

report() { # report WHAT WEFT_NAME WEFT PEER_NAME PEER TARGET
  printf '%-34s %-6s %12s   %-8s %12s   ratio %5s   (target %s)\n' \
    "$1" "$2" "$3" "$4" "$5" "$(ratio "$3" "$5")" "$6"
}

WORK=$(mktemp -d /tmp/weft-peers.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www" "$WORK/nginx"
RESULTS=()
if section http || section proxy; then
log "writing a ${BIG_MIB} MiB file and a 4 KiB file in $WORK/www"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/www/big.bin"
head -c 4096 /dev/urandom > "$WORK/www/small.bin"
chmod 644 "$WORK/www/"*
cat "$WORK/www/big.bin" > /dev/null # into the page cache

# --- http: weft http vs nginx ---------------------------------------------------
download() { # download URL: prints "bytes seconds" summed over $DOWNLOADS downloads
  local i out bytes=0 secs=0
  for i in $(seq "$DOWNLOADS"); do
    out=$(curl -s -o /dev/null --max-time 120 -w '%{size_download} %{time_total}' "$1")
    bytes=$(awk -v a="$bytes" -v b="${out% *}" 'BEGIN { printf "%.0f", a + b }')
    secs=$(awk -v a="$secs" -v b="${out#* }" 'BEGIN { printf "%.6f", a + b }')
  done
  echo "$bytes $secs"
}

measure_http() { # measure_http PORT PID...: sets GBPS CPU_PER_GB RPS CPU_PER_REQ (µs of server CPU per 4 KiB request)
  local port=$1; shift
  local t0 t1 r
  t0=$(cpu_ticks "$@")
  r=$(download "http://127.0.0.1:$port/big.bin")
  t1=$(cpu_ticks "$@")
  local bytes=${r% *} secs=${r#* }
  if [[ "$bytes" != $((DOWNLOADS * (BIG_MIB << 20))) ]]; then
    log "download from port $port got $bytes bytes"; return 1
  fi
  GBPS=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.3f", b / s / 1e9 }')
  CPU_PER_GB=$(awk -v t=$((t1 - t0)) -v k="$TICK" -v b="$bytes" 'BEGIN { printf "%.3f", t / k / (b / 1e9) }')
  t0=$(cpu_ticks "$@")
  RPS=$(small_rps "$port" 1 64)
  t1=$(cpu_ticks "$@")
  CPU_PER_REQ=$(awk -v t=$((t1 - t0)) -v k="$TICK" -v r="$RPS" -v d="$DUR" 'BEGIN { if (r > 0) printf "%.2f", t / k / (r * d) * 1e6; else print 0 }')
}

small_rps() { # small_rps PORT WRK_THREADS CONNECTIONS: req/s of the 4 KiB file
  timeout $((DUR + 30)) wrk -t"$2" -c"$3" -d"${DUR}s" "http://127.0.0.1:$1/small.bin" \
    | awk '/^Requests\/sec:/ { print $2 }'
}

start_nginx 1024

# nginx must really use sendfile on this file system before we quote it.
strace -f -c -e trace=sendfile,write,writev -o "$WORK/strace.txt" -p "$NGINX_WORKER" 2>/dev/null &
STRACE=$!
PIDS+=("$STRACE")
sleep 0.5
curl -s -o /dev/null --max-time 60 "http://127.0.0.1:$NGINX_PORT/small.bin"
curl -s -o /dev/null --max-time 60 -r 0-16777215 "http://127.0.0.1:$NGINX_PORT/big.bin"
stop_strace() { kill -INT "$STRACE" 2>/dev/null || true; wait "$STRACE" 2>/dev/null || true; }
stop_strace
if grep -qw sendfile "$WORK/strace.txt"; then
  log "strace -c: nginx used sendfile ($(awk '$NF == "sendfile" { print $4 " calls" }' "$WORK/strace.txt"))"
else
  log "WARNING: strace saw no sendfile from nginx; its figures are not a sendfile baseline"
fi

if section http; then
log "http: nginx (1 worker)"
measure_http "$NGINX_PORT" "$NGINX" "$NGINX_WORKER"
N_GBPS=$GBPS N_CPU=$CPU_PER_GB N_RPS=$RPS N_CPR=$CPU_PER_REQ

WEFT_HTTP_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 1 http --root "$WORK/www" --listen "127.0.0.1:$WEFT_HTTP_PORT" > "$WORK/weft-http.log" 2>&1 &
WEFT_HTTP=$!
PIDS+=("$WEFT_HTTP")
wait_port "$WEFT_HTTP_PORT" "$WEFT_HTTP"
log "http: weft http (1 worker thread)"
measure_http "$WEFT_HTTP_PORT" "$WEFT_HTTP"
W_GBPS=$GBPS W_CPU=$CPU_PER_GB W_RPS=$RPS W_CPR=$CPU_PER_REQ
stop "$WEFT_HTTP"

# The other way to keep opens off the event loop: every open on tokio's
# blocking pool (no open-file cache), same load.
WEFT_HTTP_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 1 http --root "$WORK/www" --listen "127.0.0.1:$WEFT_HTTP_PORT" \
  --open-file-cache 0 > "$WORK/weft-http-pool.log" 2>&1 &
WEFT_HTTP=$!
PIDS+=("$WEFT_HTTP")
wait_port "$WEFT_HTTP_PORT" "$WEFT_HTTP"
log "http: weft http --open-file-cache 0 (every open on the blocking pool)"
P_RPS=$(small_rps "$WEFT_HTTP_PORT" 1 64)
stop "$WEFT_HTTP"

RESULTS+=("$(report "http ${BIG_MIB}MiB file GB/s" weft "$W_GBPS" nginx "$N_GBPS" '>= 1.0')")
RESULTS+=("$(report "http ${BIG_MIB}MiB server CPU s/GB" weft "$W_CPU" nginx "$N_CPU" '<= 1.0')")
RESULTS+=("$(report "http 4KiB file req/s (wrk -t1 -c64)" weft "$W_RPS" nginx "$N_RPS" '>= 1.2')")
RESULTS+=("$(report "http 4KiB server CPU us/req" weft "$W_CPR" nginx "$N_CPR" 'reported')")
RESULTS+=("$(report "http 4KiB req/s open cache vs pool" cache "$W_RPS" pool "$P_RPS" 'reported')")
fi

# --- proxy: weft proxy splice vs copy, relaying nginx's big file -------------------
measure_proxy() { # measure_proxy MODE: sets P_GBPS P_CPU
  local port pid t0 t1 r
  port=$(free_port)
  TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 0 proxy --listen "127.0.0.1:$port" \
    --upstream "127.0.0.1:$NGINX_PORT" --mode "$1" > "$WORK/proxy-$1.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid"
  t0=$(cpu_ticks "$pid")
  r=$(download "http://127.0.0.1:$port/big.bin")
  t1=$(cpu_ticks "$pid")
  stop "$pid"
  local bytes=${r% *} secs=${r#* }
  if [[ "$bytes" != $((DOWNLOADS * (BIG_MIB << 20))) ]]; then
    log "proxy $1 relayed $bytes bytes"; return 1
  fi
  P_GBPS=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.3f", b / s / 1e9 }')
  P_CPU=$(awk -v t=$((t1 - t0)) -v k="$TICK" -v b="$bytes" 'BEGIN { printf "%.3f", t / k / (b / 1073741824) }')
}
if section proxy; then
log "proxy: splice, then copy"
measure_proxy splice
S_GBPS=$P_GBPS S_CPU=$P_CPU
measure_proxy copy
RESULTS+=("$(report "proxy ${BIG_MIB}MiB GB/s" splice "$S_GBPS" copy "$P_GBPS" 'reported')")
RESULTS+=("$(report "proxy ${BIG_MIB}MiB CPU s/GiB" splice "$S_CPU" copy "$P_CPU" '<= 0.7')")
fi
stop "$NGINX"

# --- http on two threads: weft http --threads 2 vs nginx with 2 workers -----------
if section http; then
log "http: nginx (2 workers) and weft http --threads 2, 4 KiB file, wrk -t2 -c128 (wrk shares the 2 cores)"
NGINX_WORKERS=2 start_nginx 1024
N2_RPS=$(small_rps "$NGINX_PORT" 2 128)
stop "$NGINX"
WEFT_HTTP_PORT=$(free_port)
"$BIN/weft" --threads 2 http --root "$WORK/www" --listen "127.0.0.1:$WEFT_HTTP_PORT" > "$WORK/weft-http2.log" 2>&1 &
WEFT_HTTP=$!
PIDS+=("$WEFT_HTTP")
wait_port "$WEFT_HTTP_PORT" "$WEFT_HTTP"
W2_RPS=$(small_rps "$WEFT_HTTP_PORT" 2 128)
stop "$WEFT_HTTP"
RESULTS+=("$(report "http 4KiB req/s 2 threads (wrk -t2)" weft "$W2_RPS" nginx "$N2_RPS" '>= 1.2')")
fi
fi

# --- resp: weft resp vs redis-server ---------------------------------------------
bench_cmd() { # bench_cmd PORT PIPELINE TEST PID: prints "req/s µs-of-server-CPU-per-request"
  local t0 t1 rps
  t0=$(cpu_ticks "$4")
  rps=$(timeout 120 redis-benchmark -h 127.0.0.1 -p "$1" -n "$REQS" -c 50 -P "$2" -t "$3" -q 2>/dev/null \
    | tr '\r' '\n' | awk -v t="$3" 'toupper($1) ~ "^" toupper(t) "(_MBULK)?:$" { r = $2 } END { print r + 0 }')
  t1=$(cpu_ticks "$4")
  # PING runs twice (inline and multi-bulk): 2 x REQS requests.
  local n=$REQS; [[ $3 == ping ]] && n=$((2 * REQS))
  echo "$rps $(awk -v t=$((t1 - t0)) -v k="$TICK" -v n="$n" 'BEGIN { printf "%.3f", t / k / n * 1e6 }')"
}

if section resp; then
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize no --logfile "$WORK/redis.log" &
REDIS=$!
PIDS+=("$REDIS")
wait_port "$REDIS_PORT" "$REDIS"
WEFT_RESP_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 0 resp --listen "127.0.0.1:$WEFT_RESP_PORT" > "$WORK/weft-resp.log" 2>&1 &
WEFT_RESP=$!
PIDS+=("$WEFT_RESP")
wait_port "$WEFT_RESP_PORT" "$WEFT_RESP"
for P in 1 16; do
  for T in ping set get; do
    log "resp: redis-benchmark -P $P -t $T"
    read -r RR RC < <(bench_cmd "$REDIS_PORT" "$P" "$T" "$REDIS")
    read -r WR WC < <(bench_cmd "$WEFT_RESP_PORT" "$P" "$T" "$WEFT_RESP")
    U=$(echo "$T" | tr a-z A-Z)
    RESULTS+=("$(report "resp $U req/s -P $P" weft "$WR" redis "$RR" '>= 1.0')")
    RESULTS+=("$(report "resp $U server CPU us/req -P $P" weft "$WC" redis "$RC" '<= 1.0')")
  done
done
stop "$WEFT_RESP"
stop "$REDIS"
fi

# --- echo load, for the echo and netty sections --------------------------------
echo_run() { # echo_run PORT PID SEGMENTS SEGMENT_SIZE WINDOW: prints "frames/s ns-of-server-CPU-per-frame"
  local t0 t1 fps
  t0=$(cpu_ticks "$2")
  fps=$(timeout $((DUR + 30)) "$BIN/echo-load" --addr "127.0.0.1:$1" --segments "$3" --segment-size "$4" \
    --conns 4 --window "$5" --seconds "$DUR" | sed -n 's/^frames_per_s=\([0-9.]*\).*/\1/p')
  t1=$(cpu_ticks "$2")
  echo "$fps $(awk -v t=$((t1 - t0)) -v k="$TICK" -v f="$fps" -v d="$DUR" 'BEGIN { printf "%.1f", t / k / (f * d) * 1e9 }')"
}

# --- echo: weft echo --framing length vs Framed + LengthDelimitedCodec -------------
if section echo; then
FRAMED_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/framed-echo" --listen "127.0.0.1:$FRAMED_PORT" > "$WORK/framed.log" 2>&1 &
FRAMED=$!
PIDS+=("$FRAMED")
WEFT_ECHO_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 0 echo --framing length --listen "127.0.0.1:$WEFT_ECHO_PORT" > "$WORK/weft-echo.log" 2>&1 &
WEFT_ECHO=$!
PIDS+=("$WEFT_ECHO")
wait_port "$FRAMED_PORT" "$FRAMED"
wait_port "$WEFT_ECHO_PORT" "$WEFT_ECHO"
for W in 64 1; do
  log "echo: 64-byte frames, $W in flight per connection, 4 connections"
  read -r FF FC < <(echo_run "$FRAMED_PORT" "$FRAMED" 1 64 "$W")
  read -r WF WC < <(echo_run "$WEFT_ECHO_PORT" "$WEFT_ECHO" 1 64 "$W")
  T='>= 1.2'; [[ $W == 1 ]] && T='>= 1.0'
  RESULTS+=("$(report "echo 64B x$W frames/s" weft "$WF" framed "$FF" "$T")")
  RESULTS+=("$(report "echo 64B x$W server CPU ns/frame" weft "$WC" framed "$FC" '<= 0.8')")
done
for SEGS in 8 32; do
  log "echo: frames of $SEGS x 1 KiB"
  read -r FF FC < <(echo_run "$FRAMED_PORT" "$FRAMED" "$SEGS" 1024 16)
  read -r WF WC < <(echo_run "$WEFT_ECHO_PORT" "$WEFT_ECHO" "$SEGS" 1024 16)
  RESULTS+=("$(report "echo ${SEGS}x1KiB frames/s" weft "$WF" framed "$FF" '>= 1.3')")
  RESULTS+=("$(report "echo ${SEGS}x1KiB server CPU ns/frame" weft "$WC" framed "$FC" 'reported')")
done
stop "$WEFT_ECHO"
stop "$FRAMED"
fi

# --- netty: weft echo vs a Netty 4.1 echo -------------------------------------------
if section netty; then
NCP=$(ls /usr/share/java/netty-{common,buffer,transport,codec,handler,resolver}.jar | tr '\n' ':')
mkdir -p "$WORK/netty"
javac -cp "$NCP" -d "$WORK/netty" "$ROOT/benches/netty/NettyEcho.java"
NETTY_PORT=$(free_port)
java -cp "$WORK/netty:$NCP" NettyEcho 127.0.0.1 "$NETTY_PORT" > "$WORK/netty.log" 2>&1 &
NETTY=$!
PIDS+=("$NETTY")
WEFT_ECHO_PORT=$(free_port)
TOKIO_WORKER_THREADS=1 "$BIN/weft" --threads 0 echo --framing length --listen "127.0.0.1:$WEFT_ECHO_PORT" > "$WORK/weft-echo-n.log" 2>&1 &
WEFT_ECHO=$!
PIDS+=("$WEFT_ECHO")
wait_port "$NETTY_PORT" "$NETTY"
wait_port "$WEFT_ECHO_PORT" "$WEFT_ECHO"
log "netty: warming up the JIT"
echo_run "$NETTY_PORT" "$NETTY" 1 64 64 > /dev/null
echo_run "$NETTY_PORT" "$NETTY" 8 1024 16 > /dev/null
for CASE in "1 64 64 64B" "1 1024 64 1KiB" "8 1024 16 8KiB"; do
  read -r SEGS SIZE W NAME <<< "$CASE"
  log "netty: $NAME frames, $W in flight per connection"
  read -r NF NC < <(echo_run "$NETTY_PORT" "$NETTY" "$SEGS" "$SIZE" "$W")
  read -r WF WC < <(echo_run "$WEFT_ECHO_PORT" "$WEFT_ECHO" "$SEGS" "$SIZE" "$W")
  RESULTS+=("$(report "echo $NAME x$W frames/s vs Netty" weft "$WF" netty "$NF" '>= 1.0')")
  RESULTS+=("$(report "echo $NAME x$W CPU ns/frame vs Netty" weft "$WC" netty "$NC" '<= 1.0')")
done
stop "$WEFT_ECHO"
stop "$NETTY"
fi

# --- tls: weft http --tls-cert vs nginx ssl ------------------------------------
if section tls; then
. "$ROOT/benches/peers_tls.sh"
fi

echo "# weft-peers: $(nproc) cores, $(uname -r), loopback, every server on one thread unless the row says 2 threads (wrk then shares the cores with the servers); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); ratio = first / second"
printf '%s\n' "${RESULTS[@]}"
