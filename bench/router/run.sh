#!/usr/bin/env bash
# Router benchmark: wrk -t1 -c32 keep-alive, small responses, 90/10 split between two nginx
# backends. Measures direct-to-backend, runway router, HAProxy and nginx in ROUNDS interleaved
# rounds (the order rotates each round so that no target always runs first or last), prints each
# target's median req/s and p99 with the spread (min..max) and the ratios to HAProxy and nginx,
# then the router's resident memory with 10,000 idle keep-alive client connections.
#
#   bench/router/run.sh                 # builds build/bench (Release) unless RUNWAY_BIN is set
#   RUNWAY_BIN=/path/to/runway DURATION=5 ROUNDS=5 bench/router/run.sh
#   THREADS=2 bench/router/run.sh       # runway --threads 2, HAProxy nbthread 2, nginx 2 workers
#   ACCESS_LOG=1 bench/router/run.sh    # the router writes its access log (to the work dir)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-5}"
THREADS="${THREADS:-1}"
CONNS="${CONNS:-32}"
IDLE_CONNS="${IDLE_CONNS:-10000}"

# 10,000 idle connections need descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
HAPROXY_MAXCONN=$(( $(ulimit -n) / 2 - 100 ))

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v curl >/dev/null || need+=(curl)
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

WORK="$(mktemp -d /tmp/runway-bench-router.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
B1=$(free_port); B2=$(free_port); P_RUNWAY=$(free_port); P_HAPROXY=$(free_port); P_NGINX=$(free_port)

wait_http() {  # url
  for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "not answering: $1" >&2; return 1
}

# --- backends: one nginx worker serving two ports with a small body ---
mkdir -p "$WORK/backend"
cat >"$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log;
events { worker_connections 20000; }
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

# --- runway router ---
"$RUNWAY_BIN" --log-level warn router --admin-socket "$WORK/router.sock" --state-dir "$WORK/router-state" --threads "$THREADS" &
RUNWAY_PID=$!
PIDS+=($RUNWAY_PID)
for _ in $(seq 1 200); do curl -fs --unix-socket "$WORK/router.sock" http://r/healthz >/dev/null && break; sleep 0.05; done
SETTINGS='{}'
[[ "${ACCESS_LOG:-0}" == 1 ]] && SETTINGS="{\"access_log\":{\"path\":\"$WORK/access.log\"}}"
curl -fs --unix-socket "$WORK/router.sock" -X PUT http://r/table --data-binary @- >/dev/null <<JSON
{"revision":1,"settings":$SETTINGS,"listeners":[{"service":"bench","environment":"local","bind_address":"127.0.0.1",
 "port":$P_RUNWAY,"versions":[
  {"name":"v1","weight_permille":900,"instances":[{"id":"v1-0","host":"127.0.0.1","port":$B1}]},
  {"name":"v2","weight_permille":100,"instances":[{"id":"v2-0","host":"127.0.0.1","port":$B2}]}]}]}
JSON
wait_http "http://127.0.0.1:$P_RUNWAY/"

# --- HAProxy, 1 thread, same weights, keep-alive both sides ---
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread $THREADS
  maxconn $HAPROXY_MAXCONN
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$P_HAPROXY
  default_backend be
backend be
  balance roundrobin
  server v1 127.0.0.1:$B1 weight 90
  server v2 127.0.0.1:$B2 weight 10
CONF
haproxy -f "$WORK/haproxy.cfg" -db &
PIDS+=($!)
wait_http "http://127.0.0.1:$P_HAPROXY/"

# --- nginx as the proxy, 1 worker, weighted upstream with keepalive ---
mkdir -p "$WORK/proxy"
cat >"$WORK/proxy/nginx.conf" <<CONF
worker_processes $THREADS;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:$B1 weight=9; server 127.0.0.1:$B2 weight=1; keepalive 64; }
  server {
    listen 127.0.0.1:$P_NGINX backlog=4096;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -c "$WORK/proxy/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_http "http://127.0.0.1:$P_NGINX/"

# --- measure ---
run_wrk() {  # name url -> "rps p99ms"
  wrk -t1 -c"$CONNS" -d2s "$2" >/dev/null 2>&1 || true  # warm-up
  local out; out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$2")
  local rps p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
  local errs; errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [[ -n "$errs" ]] && echo "  $1: $errs" >&2
  echo "$rps $p99"
}

NAMES=(direct runway haproxy nginx)
declare -A URL=([direct]="http://127.0.0.1:$B1/" [runway]="http://127.0.0.1:$P_RUNWAY/"
                [haproxy]="http://127.0.0.1:$P_HAPROXY/" [nginx]="http://127.0.0.1:$P_NGINX/")
declare -A RPS P99  # space-separated per-round values
for ((round = 0; round < ROUNDS; round++)); do
  order=()
  for ((k = 0; k < ${#NAMES[@]}; k++)); do order+=("${NAMES[(k + round) % ${#NAMES[@]}]}"); done
  line="round $((round + 1))/$ROUNDS:"
  for name in "${order[@]}"; do
    read -r r p < <(run_wrk "$name" "${URL[$name]}")
    RPS[$name]+="$r "; P99[$name]+="$p "
    line+=" $name $(printf '%.0f' "$r")/s p99 ${p}ms;"
  done
  echo "$line"
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
spread() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END{printf (hi >= 100 ? "%.0f..%.0f" : "%.2f..%.2f"), lo, hi}'; }
declare -A MR MP
for name in "${NAMES[@]}"; do MR[$name]=$(median "${RPS[$name]}"); MP[$name]=$(median "${P99[$name]}"); done

echo
echo "wrk -t1 -c$CONNS -d${DURATION}s, keep-alive, ~14-byte responses, 90/10 split, $THREADS thread(s)" \
     "each, $ROUNDS rounds, medians ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-24s %10s %19s %8s %15s %8s %8s %8s %8s\n' "target" "req/s" "(min..max)" "p99 ms" "(min..max)" \
  "vs HAP" "vs nginx" "p99/HAP" "p99/ngx"
for name in "${NAMES[@]}"; do
  label=$name
  [[ $name == runway ]] && label="runway router ($THREADS thr)"
  [[ $name == haproxy ]] && label="haproxy (nbthread $THREADS)"
  [[ $name == nginx ]] && label="nginx ($THREADS worker)"
  [[ $name == direct ]] && label="direct to backend"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
  printf '%-24s %10.0f %19s %8.2f %15s %8s %8s %8s %8s\n' "$label" "${MR[$name]}" "($(spread "${RPS[$name]}"))" \
    "${MP[$name]}" "($(spread "${P99[$name]}"))" "$(ratio "${MR[$name]}" "${MR[haproxy]}")" \
    "$(ratio "${MR[$name]}" "${MR[nginx]}")" "$(ratio "${MP[$name]}" "${MP[haproxy]}")" \
    "$(ratio "${MP[$name]}" "${MP[nginx]}")"
done
echo

# Split check from the router's own statistics.
curl -fs --unix-socket "$WORK/router.sock" "http://r/stats?window=15m" | python3 -c '
import json,sys
d=json.load(sys.stdin); tot={v["version"]: v["total"]["requests"] for v in d["versions"]}
s=sum(tot.values()) or 1
print("router stats: " + ", ".join(f"{k} {n} ({100*n/s:.1f}%)" for k,n in sorted(tot.items())))'

# --- memory with idle keep-alive connections ---
echo
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss_kb "$RUNWAY_PID")
python3 - "$P_RUNWAY" "$IDLE_CONNS" "$RUNWAY_PID" <<'PY'
import os, resource, socket, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 1000)), hard))
socks = []
req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
ok = 0
for s in socks:
    data = b""
    while b"hello" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    ok += b" 200 " in data
def rss():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
print(f"idle keep-alive connections: {n} opened, {ok} answered 200; router RSS {rss()/1024:.1f} MB with them open")
PY
echo "router RSS before: $((before / 1024)) MB"
