#!/usr/bin/env bash
# Deterministic router cost: user-space instructions per request (callgrind) and system calls
# per request (strace -c), for runway's router (--threads 1), HAProxy (nbthread 1) and nginx
# (1 worker) proxying the same load in the same run: a fixed number of keep-alive GET requests
# from a small client (bench/router/fixed_client.py, CONNS connections) against a 90/10 split
# over two backends served by one nginx worker (not measured). Wall-clock rates on a shared
# machine are noise; these counts are not (they move by well under 1 % between runs).
#
#   bench/router/instructions.sh                       # builds build/bench (Release) first
#   RUNWAY_BIN=build/ci/bin/runway bench/router/instructions.sh
#   REQUESTS=5000 CONNS=8 PROFILE=1 bench/router/instructions.sh   # PROFILE=1: router's top functions
#   AGE=11 bench/router/instructions.sh   # connections 11 s old when measured (past the header
#                                         # timeout: the router's per-connection timer has fired)
#
# Each proxy runs under valgrind --tool=callgrind; WARMUP requests go first (connections to the
# backends opened, caches filled), then the counters are zeroed (callgrind_control -z), REQUESTS
# requests are sent and the counters dumped: instructions / REQUESTS, all the proxy's threads
# together. Then each proxy runs again natively under `strace -f -c` for REQUESTS requests.
# Instructions do not count the kernel's work: the system calls per request stand for that.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REQUESTS="${REQUESTS:-5000}"
WARMUP="${WARMUP:-500}"
CONNS="${CONNS:-8}"
PY=/usr/bin/python3
CLIENT="$ROOT/bench/router/fixed_client.py"

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v curl >/dev/null || need+=(curl)
command -v valgrind >/dev/null || need+=(valgrind)
command -v strace >/dev/null || need+=(strace)
if ((${#need[@]})); then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [[ -z "${RUNWAY_BIN:-}" ]]; then
  cmake -S "$ROOT" -B "$ROOT/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DRUNWAY_BUILD_TESTS=OFF -DRUNWAY_BUILD_BENCH=ON -DRUNWAY_MOLD=OFF >/dev/null
  cmake --build "$ROOT/build/bench" --target runway >/dev/null
  RUNWAY_BIN="$ROOT/build/bench/bin/runway"
fi

WORK="$(mktemp -d /tmp/runway-bench-instr.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${KEEP:-0}" == 1 ]] && echo "kept $WORK (runway.profile: the router's callgrind profile)" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
B1=$(free_port); B2=$(free_port)

wait_http() {  # url: up to 60 s (valgrind starts slowly)
  for _ in $(seq 1 600); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; return 1
}

# --- backends: one nginx worker serving two ports with a small body (not measured) ---
mkdir -p "$WORK/backend"
cat >"$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log;
events { worker_connections 4000; }
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

# --- the three proxies' configurations ---
write_configs() {  # port
  local port=$1
  cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  balance roundrobin
  server v1 127.0.0.1:$B1 weight 90
  server v2 127.0.0.1:$B2 weight 10
CONF
  mkdir -p "$WORK/proxy"
  cat >"$WORK/proxy/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log;
events { worker_connections 4000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:$B1 weight=9; server 127.0.0.1:$B2 weight=1; keepalive 64; }
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
}

# Starts proxy $1 on port $2 with the command prefix in the rest ("" or valgrind ...); sets PID.
start_proxy() {
  local name=$1 port=$2; shift 2
  write_configs "$port"
  case $name in
    runway)
      rm -rf "$WORK/router-state" "$WORK/router.sock"
      "$@" "$RUNWAY_BIN" --log-level warn router --admin-socket "$WORK/router.sock" \
        --state-dir "$WORK/router-state" --threads 1 >"$WORK/$name.out" 2>&1 &
      PID=$!
      for _ in $(seq 1 600); do
        curl -fs --unix-socket "$WORK/router.sock" http://r/healthz >/dev/null 2>&1 && break; sleep 0.1
      done
      curl -fs --unix-socket "$WORK/router.sock" -X PUT http://r/table --data-binary @- >/dev/null <<JSON
{"revision":1,"settings":{},"listeners":[{"service":"bench","environment":"local","bind_address":"127.0.0.1",
 "port":$port,"versions":[
  {"name":"v1","weight_permille":900,"instances":[{"id":"v1-0","host":"127.0.0.1","port":$B1}]},
  {"name":"v2","weight_permille":100,"instances":[{"id":"v2-0","host":"127.0.0.1","port":$B2}]}]}]}
JSON
      ;;
    haproxy) "$@" haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/$name.out" 2>&1 & PID=$! ;;
    nginx) "$@" nginx -c "$WORK/proxy/nginx.conf" >"$WORK/$name.out" 2>&1 & PID=$! ;;
  esac
  PIDS+=("$PID")
  wait_http "http://127.0.0.1:$port/"
}

stop_proxy() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

declare -A INSTR SYSC
for name in runway haproxy nginx; do
  port=$(free_port)
  # Instructions per request.
  start_proxy "$name" "$port" valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.cg" \
    --dump-instr=no --collect-jumps=no
  $PY "$CLIENT" "$port" "$WARMUP" "$CONNS" "${AGE:-0}" "$REQUESTS" "$WORK/zero" >/dev/null &
  client=$!
  while [[ ! -e "$WORK/zero" ]]; do sleep 0.05; done
  callgrind_control -z "$PID" >/dev/null 2>&1
  touch "$WORK/zeroed"
  wait "$client"
  rm -f "$WORK/zero" "$WORK/zeroed"
  callgrind_control -d "$PID" >/dev/null 2>&1
  stop_proxy
  dump=$(ls "$WORK/$name.cg".* | sort -t. -k3 -n | head -1)
  total=$(awk '/^totals:/ {print $2}' "$dump")
  INSTR[$name]=$((total / REQUESTS))
  [[ "$name" == runway ]] && cp "$dump" "$WORK/runway.profile"

  # System calls per request (natively, strace attached for the measured requests only).
  port=$(free_port)
  start_proxy "$name" "$port"
  $PY "$CLIENT" "$port" "$WARMUP" "$CONNS" "${AGE:-0}" "$REQUESTS" "$WORK/zero" >/dev/null &
  client=$!
  while [[ ! -e "$WORK/zero" ]]; do sleep 0.05; done
  strace -f -c -o "$WORK/$name.strace" -p "$PID" 2>/dev/null &
  spid=$!
  sleep 1  # strace attaches to every thread
  touch "$WORK/zeroed"
  wait "$client"
  rm -f "$WORK/zero" "$WORK/zeroed"
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
  stop_proxy
  calls=$(awk '$NF=="total" {print $4}' "$WORK/$name.strace")  # % time, seconds, usecs/call, calls
  SYSC[$name]=$(awk -v c="$calls" -v n="$REQUESTS" 'BEGIN{printf "%.2f", c/n}')
  cp "$WORK/$name.strace" "$WORK/$name.syscalls"
done

echo
echo "$REQUESTS keep-alive GET requests over $CONNS connections (after $WARMUP on them, ${AGE:-0} s before)," \
     "~14-byte responses, 90/10 split"
printf '%-24s %14s %10s %10s %14s\n' "proxy" "instr/request" "vs HAProxy" "vs nginx" "syscalls/req"
for name in runway haproxy nginx; do
  label=$name
  [[ $name == runway ]] && label="runway router (1 thr)"
  [[ $name == haproxy ]] && label="haproxy (nbthread 1)"
  [[ $name == nginx ]] && label="nginx (1 worker)"
  printf '%-24s %14d %10s %10s %14s\n' "$label" "${INSTR[$name]}" \
    "$(awk -v a="${INSTR[$name]}" -v b="${INSTR[haproxy]}" 'BEGIN{printf "%.2fx", a/b}')" \
    "$(awk -v a="${INSTR[$name]}" -v b="${INSTR[nginx]}" 'BEGIN{printf "%.2fx", a/b}')" \
    "${SYSC[$name]}"
done
echo "(instructions: lower is better; runway's ratio below 1.00x means fewer than the peer)"
echo
echo "runway system calls over the $REQUESTS requests:"
awk 'NR>2 && $1 !~ /^-/ && $NF!="total" {printf "  %-16s %8d\n", $NF, $4}' \
  "$WORK/runway.syscalls" | sort -k2 -rn | head -8
if [[ "${PROFILE:-0}" == 1 ]]; then
  echo
  echo "runway's top functions by their own instructions (self cost), per request:"
  # callgrind_annotate also lists the thread entry points with their inclusive cost: skip those.
  callgrind_annotate --inclusive=no --threshold=100 "$WORK/runway.profile" 2>/dev/null |
    awk -v n="$REQUESTS" '/^ *[0-9,]+ +\( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
      line=$0; match(line, /\( *[0-9.]+%\)/); pct=substr(line, RSTART+1, RLENGTH-3)+0
      if (pct > 50) next
      v=$1; gsub(/,/, "", v); rest=substr(line, RSTART+RLENGTH); sub(/^ +/, "", rest)
      sub(/ \[[^]]*\]$/, "", rest); sub(/^.*\/(usr\/include|src)\//, "", rest)
      printf "  %7d %5.2f%%  %s\n", v/n, pct, substr(rest, 1, 140)}' | head -"${TOP:-25}"
fi
