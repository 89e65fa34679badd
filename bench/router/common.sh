# Shared by bench/router/run.sh and bench/router/instructions.sh (sourced, not run): the peers'
# installation, the runway binary, the two backends and the proxies' configurations, so that
# both measure the same setup.
#
# REQUIRES: ROOT (the repository), WORK (a scratch directory) and the array PIDS (processes the
# caller's cleanup kills) are set before the functions below are called.

PY=/usr/bin/python3

# Installs with apt-get whatever of the named commands is missing ("command:package" pairs).
ensure_commands() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
  if ((${#need[@]})); then
    echo "installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# Sets RUNWAY_BIN, building build/bench (Release) when it is not set.
ensure_runway_bin() {
  if [[ -z "${RUNWAY_BIN:-}" ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRUNWAY_BUILD_TESTS=OFF -DRUNWAY_BUILD_BENCH=ON -DRUNWAY_MOLD=OFF >/dev/null
    cmake --build "$ROOT/build/bench" --target runway >/dev/null
    RUNWAY_BIN="$ROOT/build/bench/bin/runway"
  fi
}

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {  # url [seconds, default 20]: polls every 0.1 s
  local tries=$(( ${2:-20} * 10 ))
  for _ in $(seq 1 "$tries"); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; return 1
}

# The backends (not measured): one nginx worker serving two ports with a ~14-byte body.
# Sets B1 and B2. $1: worker_connections.
start_backends() {
  B1=$(free_port); B2=$(free_port)
  mkdir -p "$WORK/backend"
  cat >"$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log;
events { worker_connections $1; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$B1 reuseport backlog=4096; location / { return 200 "hello from v1\n"; } }
  server { listen 127.0.0.1:$B2 reuseport backlog=4096; location / { return 200 "hello from v2\n"; } }
}
CONF
  nginx -c "$WORK/backend/nginx.conf" -g 'daemon off;' &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$B1/"; wait_http "http://127.0.0.1:$B2/"
}

# HAProxy's configuration: file port nbthread maxconn. Round robin with weights 90/10,
# keep-alive on both sides, idle server connections shared (http-reuse always). HAProxy sets
# SO_REUSEPORT on its listeners by default, so several processes can bind the same port.
write_haproxy_config() {
  cat >"$1" <<CONF
global
  nbthread $3
  maxconn $4
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$2
  default_backend be
backend be
  balance roundrobin
  server v1 127.0.0.1:$B1 weight 90
  server v2 127.0.0.1:$B2 weight 10
CONF
}

# nginx as the proxy: directory port workers worker_connections [global directives]. Weights
# 9/1, 64 kept upstream connections per worker. Run it with
# `nginx -c DIR/nginx.conf -g 'daemon off;'`.
write_nginx_proxy_config() {
  mkdir -p "$1"
  cat >"$1/nginx.conf" <<CONF
${5:-}
worker_processes $3;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections $4; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:$B1 weight=9; server 127.0.0.1:$B2 weight=1; keepalive 64; }
  server {
    listen 127.0.0.1:$2 backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
}

# Waits for the router's admin socket (up to $3 seconds), then gives it the table: listener
# "bench" on port $2, v1 90 % to B1, v2 10 % to B2, settings $4 (JSON, default {}).
# $1: the admin socket.
put_router_table() {
  local settings="${4:-}"
  [[ -n "$settings" ]] || settings='{}'
  for _ in $(seq 1 $(( $3 * 10 ))); do
    curl -fs --unix-socket "$1" http://r/healthz >/dev/null 2>&1 && break; sleep 0.1
  done
  curl -fs --unix-socket "$1" -X PUT http://r/table --data-binary @- >/dev/null <<JSON
{"revision":1,"settings":$settings,"listeners":[{"service":"bench","environment":"local","bind_address":"127.0.0.1",
 "port":$2,"versions":[
  {"name":"v1","weight_permille":900,"instances":[{"id":"v1-0","host":"127.0.0.1","port":$B1}]},
  {"name":"v2","weight_permille":100,"instances":[{"id":"v2-0","host":"127.0.0.1","port":$B2}]}]}]}
JSON
}
