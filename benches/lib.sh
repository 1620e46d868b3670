# Shared by benches/peers.sh and benches/fairness.sh (sourced, not run):
# processes started and stopped by PID, free ports, CPU ticks, and an nginx
# with one worker ($NGINX_WORKERS to change) serving $WORK/www. The sourcing script defines log().

# --- processes we start, stopped by PID on exit -----------------------------
PIDS=()
WORK=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      # Give it a moment, then insist.
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$WORK" && -d "$WORK" ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # stop PID: kill one process we started, wait for it, forget it
  local pid=$1 keep=() p
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # So cleanup never signals a PID the system may since have reused.
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

need() { # need COMMAND PACKAGE: installs PACKAGE with apt unless COMMAND exists
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ -z "${APT_UPDATED:-}" ]]; then
    log "installing missing peers with apt"
    timeout 300 apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT PID
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || { log "server $2 exited early"; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "port $1 never opened"
  return 1
}

cpu_ticks() { # cpu_ticks PID...: user+sys clock ticks of these processes
  local total=0 pid t
  for pid in "$@"; do
    # Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    total=$((total + t))
  done
  echo "$total"
}

start_nginx() { # start_nginx WORKER_CONNECTIONS [EXTRA_HTTP_DIRECTIVES]: sets NGINX_PORT NGINX NGINX_WORKER (the first) NGINX_WORKERS_PIDS (all); $NGINX_WORKERS workers (default 1)
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes ${NGINX_WORKERS:-1};
worker_rlimit_nofile $(ulimit -n);
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections $1; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  ${2:-}
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
  }
}
CONF
  nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
  NGINX=$!
  PIDS+=("$NGINX")
  wait_port "$NGINX_PORT" "$NGINX"
  NGINX_WORKER=""
  NGINX_WORKERS_PIDS=()
  for _ in $(seq 50); do
    mapfile -t NGINX_WORKERS_PIDS < <(pgrep -P "$NGINX" || true)
    (( ${#NGINX_WORKERS_PIDS[@]} >= ${NGINX_WORKERS:-1} )) && break
    sleep 0.1
  done
  NGINX_WORKER=${NGINX_WORKERS_PIDS[0]:-}
  [[ -n "$NGINX_WORKER" ]] || { log "nginx started no worker"; return 1; }
}
