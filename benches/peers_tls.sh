# The TLS section of benches/peers.sh (sourced by it, not run): weft http
# --tls-cert/--tls-key against nginx with `ssl`, one worker each, the same
# ECDSA P-256 certificate, TLS 1.3 only on both. 4 KiB file: wrk req/s over
# keep-alive connections (handshakes only at the start); a ${TLS_MIB} MiB
# file: curl's GB/s and server CPU per GB. Uses peers.sh's helpers (log,
# report, start_nginx, cpu_ticks, free_port, wait_port, DUR, BIN, WORK).

need openssl openssl
TLS_MIB=256
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
[[ -f "$WORK/www/tls.bin" ]] || head -c $((TLS_MIB << 20)) /dev/urandom > "$WORK/www/tls.bin"
[[ -f "$WORK/www/small.bin" ]] || head -c 4096 /dev/urandom > "$WORK/www/small.bin"
chmod 644 "$WORK/www/"*
cat "$WORK/www/tls.bin" > /dev/null

NGINX_TLS_PORT=$(free_port)
start_nginx 1024 "server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    ssl_certificate $WORK/tls/cert.pem;
    ssl_certificate_key $WORK/tls/key.pem;
    ssl_protocols TLSv1.3;
    root $WORK/www;
  }"
wait_port "$NGINX_TLS_PORT" "$NGINX"

WEFT_TLS_PORT=$(free_port)
"$BIN/weft" --threads 1 http --root "$WORK/www" --listen "127.0.0.1:$WEFT_TLS_PORT" \
  --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" > "$WORK/weft-https.log" 2>&1 &
WEFT_TLS=$!
PIDS+=("$WEFT_TLS")
wait_port "$WEFT_TLS_PORT" "$WEFT_TLS"

tls_download() { # tls_download PORT PID...: sets TGBPS TCPU (GB/s, server CPU s/GB) over 2 downloads
  local port=$1; shift
  local t0 t1 i out bytes=0 secs=0
  t0=$(cpu_ticks "$@")
  for i in 1 2; do
    out=$(curl -s -k --tlsv1.3 -o /dev/null --max-time 120 -w '%{size_download} %{time_total}' \
      "https://127.0.0.1:$port/tls.bin")
    bytes=$(awk -v a="$bytes" -v b="${out% *}" 'BEGIN { printf "%.0f", a + b }')
    secs=$(awk -v a="$secs" -v b="${out#* }" 'BEGIN { printf "%.6f", a + b }')
  done
  t1=$(cpu_ticks "$@")
  if [[ "$bytes" != $((2 * (TLS_MIB << 20))) ]]; then
    log "TLS download from port $port got $bytes bytes"; return 1
  fi
  TGBPS=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.3f", b / s / 1e9 }')
  TCPU=$(awk -v t=$((t1 - t0)) -v k="$TICK" -v b="$bytes" 'BEGIN { printf "%.3f", t / k / (b / 1e9) }')
}

tls_rps() { # tls_rps PORT: wrk req/s of the 4 KiB file over TLS
  timeout $((DUR + 30)) wrk -t1 -c64 -d"${DUR}s" "https://127.0.0.1:$1/small.bin" \
    | awk '/^Requests\/sec:/ { print $2 }'
}

# Both must speak TLS 1.3 with the same certificate before they are compared.
for port in "$NGINX_TLS_PORT" "$WEFT_TLS_PORT"; do
  proto=$(timeout 10 openssl s_client -brief -connect "127.0.0.1:$port" -CAfile "$WORK/tls/cert.pem" </dev/null 2>&1 \
    | awk '/^Protocol version:/ { print $3 }' | head -1)
  [[ "$proto" == TLSv1.3 ]] || { log "port $port negotiated '$proto', not TLSv1.3"; exit 1; }
done

log "tls: nginx (1 worker, ssl)"
tls_download "$NGINX_TLS_PORT" "$NGINX_WORKER"; N_TGBPS=$TGBPS; N_TCPU=$TCPU
N_TRPS=$(tls_rps "$NGINX_TLS_PORT")
log "tls: weft http --tls-cert (1 thread)"
tls_download "$WEFT_TLS_PORT" "$WEFT_TLS"; W_TGBPS=$TGBPS; W_TCPU=$TCPU
W_TRPS=$(tls_rps "$WEFT_TLS_PORT")
stop "$WEFT_TLS"
stop "$NGINX"
RESULTS+=("$(report "https 4KiB req/s (wrk -t1 -c64)" weft "$W_TRPS" nginx "$N_TRPS" '>= 1.0')")
RESULTS+=("$(report "https ${TLS_MIB}MiB GB/s" weft "$W_TGBPS" nginx "$N_TGBPS" '>= 1.0')")
RESULTS+=("$(report "https ${TLS_MIB}MiB server CPU s/GB" weft "$W_TCPU" nginx "$N_TCPU" '<= 1.0')")
