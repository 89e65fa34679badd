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
#   PROXIES=runway bench/router/instructions.sh   # only the router (no ratios): quicker
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
source "$ROOT/bench/router/common.sh"
REQUESTS="${REQUESTS:-5000}"
WARMUP="${WARMUP:-500}"
CONNS="${CONNS:-8}"
# The proxies measured (the ratio columns need haproxy and nginx among them).
read -r -a MEASURED <<<"${PROXIES:-runway haproxy nginx}"
CLIENT="$ROOT/bench/router/fixed_client.py"

ensure_commands nginx:nginx-light haproxy:haproxy curl:curl valgrind:valgrind strace:strace
ensure_runway_bin

WORK="$(mktemp -d /tmp/runway-bench-instr.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${KEEP:-0}" == 1 ]] && echo "kept $WORK (runway.profile: the router's callgrind profile)" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

start_backends 4000

# Starts proxy $1 on port $2 with the command prefix in the rest ("" or valgrind ...); sets PID.
start_proxy() {
  local name=$1 port=$2; shift 2
  case $name in
    runway)
      rm -rf "$WORK/router-state" "$WORK/router.sock"
      "$@" "$RUNWAY_BIN" --log-level warn router --admin-socket "$WORK/router.sock" \
        --state-dir "$WORK/router-state" --threads 1 >"$WORK/$name.out" 2>&1 &
      PID=$!
      put_router_table "$WORK/router.sock" "$port" 60
      ;;
    haproxy)
      write_haproxy_config "$WORK/haproxy.cfg" "$port" 1 4000
      "$@" haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/$name.out" 2>&1 & PID=$! ;;
    nginx)
      # No master process: valgrind follows the one process that serves.
      write_nginx_proxy_config "$WORK/proxy" "$port" 1 4000 "master_process off;"
      "$@" nginx -c "$WORK/proxy/nginx.conf" -g 'daemon off;' >"$WORK/$name.out" 2>&1 & PID=$! ;;
  esac
  PIDS+=("$PID")
  wait_http "http://127.0.0.1:$port/" 60  # valgrind starts slowly
}

stop_proxy() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

declare -A INSTR SYSC
for name in "${MEASURED[@]}"; do
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
ratio() {  # a b: a/b, or - when b was not measured
  if [[ -n "$2" ]]; then awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; else echo -; fi
}
for name in "${MEASURED[@]}"; do
  label=$name
  [[ $name == runway ]] && label="runway router (1 thr)"
  [[ $name == haproxy ]] && label="haproxy (nbthread 1)"
  [[ $name == nginx ]] && label="nginx (1 worker)"
  printf '%-24s %14d %10s %10s %14s\n' "$label" "${INSTR[$name]}" \
    "$(ratio "${INSTR[$name]}" "${INSTR[haproxy]:-}")" "$(ratio "${INSTR[$name]}" "${INSTR[nginx]:-}")" \
    "${SYSC[$name]}"
done
echo "(instructions: lower is better; runway's ratio below 1.00x means fewer than the peer)"
[[ -e "$WORK/runway.syscalls" ]] || exit 0
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
      printf "  %7d %5.2f%%  %s\n", v/n, pct, substr(rest, 1, 140)}' | head -"${TOP:-25}" || true
fi
