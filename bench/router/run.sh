#!/usr/bin/env bash
# Router benchmark: wrk -t1 -c32 keep-alive, small responses, 90/10 split between two nginx
# backends. Measures direct-to-backend, runway router, HAProxy and nginx in ROUNDS interleaved
# rounds (the order rotates each round so that no target always runs first or last), prints each
# target's median req/s and p99 with the spread (min..max) and the ratios to HAProxy and nginx,
# then the router's resident memory with 10,000 idle keep-alive client connections.
#
#   bench/router/run.sh                 # builds build/bench (Release) unless RUNWAY_BIN is set
#   RUNWAY_BIN=/path/to/runway DURATION=5 ROUNDS=5 bench/router/run.sh
#   THREADS=2 bench/router/run.sh       # runway --threads 2, nginx 2 workers, HAProxy both
#                                       # nbthread 2 and 2 single-thread processes on one port
#                                       # (SO_REUSEPORT); the ratios use the higher of the two
#   ACCESS_LOG=1 bench/router/run.sh    # the router writes its access log (to the work dir)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
source "$ROOT/bench/router/common.sh"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-5}"
THREADS="${THREADS:-1}"
CONNS="${CONNS:-32}"
IDLE_CONNS="${IDLE_CONNS:-10000}"

# 10,000 idle connections need descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
HAPROXY_MAXCONN=$(( $(ulimit -n) / 2 - 100 ))

ensure_commands wrk:wrk nginx:nginx-light haproxy:haproxy curl:curl
ensure_runway_bin

WORK="$(mktemp -d /tmp/runway-bench-router.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_backends 20000
P_RUNWAY=$(free_port); P_HAPROXY=$(free_port); P_NGINX=$(free_port)

# --- runway router ---
"$RUNWAY_BIN" --log-level warn router --admin-socket "$WORK/router.sock" --state-dir "$WORK/router-state" --threads "$THREADS" &
RUNWAY_PID=$!
PIDS+=($RUNWAY_PID)
SETTINGS='{}'
[[ "${ACCESS_LOG:-0}" == 1 ]] && SETTINGS="{\"access_log\":{\"path\":\"$WORK/access.log\"}}"
put_router_table "$WORK/router.sock" "$P_RUNWAY" 20 "$SETTINGS"
wait_http "http://127.0.0.1:$P_RUNWAY/"

# --- HAProxy, THREADS threads, same weights, keep-alive both sides ---
write_haproxy_config "$WORK/haproxy.cfg" "$P_HAPROXY" "$THREADS" "$HAPROXY_MAXCONN"
haproxy -f "$WORK/haproxy.cfg" -db &
PIDS+=($!)
wait_http "http://127.0.0.1:$P_HAPROXY/"

# --- with THREADS > 1, also THREADS single-thread HAProxy processes on one port: each binds it
# with SO_REUSEPORT (HAProxy's default), so the kernel spreads the connections over them by a
# hash of their addresses (wrk's 32 connections: about half each). The issue's peer is the
# higher of the two HAProxy figures. ---
if ((THREADS > 1)); then
  P_HAPROXY_PROCS=$(free_port)
  write_haproxy_config "$WORK/haproxy-procs.cfg" "$P_HAPROXY_PROCS" 1 "$HAPROXY_MAXCONN"
  for ((k = 0; k < THREADS; k++)); do
    haproxy -f "$WORK/haproxy-procs.cfg" -db &
    PIDS+=($!)
  done
  wait_http "http://127.0.0.1:$P_HAPROXY_PROCS/"
fi

# --- nginx as the proxy, THREADS workers, weighted upstream with keepalive ---
write_nginx_proxy_config "$WORK/proxy" "$P_NGINX" "$THREADS" 20000
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
if ((THREADS > 1)); then
  NAMES+=(haproxy_procs)
  URL[haproxy_procs]="http://127.0.0.1:$P_HAPROXY_PROCS/"
fi
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
# The HAProxy the ratios compare with: the higher median of nbthread THREADS and THREADS
# single-thread processes (the latter only measured with THREADS > 1).
HAP=haproxy
if ((THREADS > 1)) && awk -v a="${MR[haproxy_procs]}" -v b="${MR[haproxy]}" 'BEGIN{exit !(a > b)}'; then
  HAP=haproxy_procs
fi

echo
echo "wrk -t1 -c$CONNS -d${DURATION}s, keep-alive, ~14-byte responses, 90/10 split, $THREADS thread(s)" \
     "each, $ROUNDS rounds, medians ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "HAProxy compared with (vs HAP, p99/HAP): $HAP"
printf '%-26s %10s %19s %8s %15s %8s %8s %8s %8s\n' "target" "req/s" "(min..max)" "p99 ms" "(min..max)" \
  "vs HAP" "vs nginx" "p99/HAP" "p99/ngx"
for name in "${NAMES[@]}"; do
  label=$name
  [[ $name == runway ]] && label="runway router ($THREADS thr)"
  [[ $name == haproxy ]] && label="haproxy (nbthread $THREADS)"
  [[ $name == haproxy_procs ]] && label="haproxy ($THREADS procs x 1 thr)"
  [[ $name == nginx ]] && label="nginx ($THREADS worker)"
  [[ $name == direct ]] && label="direct to backend"
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
  printf '%-26s %10.0f %19s %8.2f %15s %8s %8s %8s %8s\n' "$label" "${MR[$name]}" "($(spread "${RPS[$name]}"))" \
    "${MP[$name]}" "($(spread "${P99[$name]}"))" "$(ratio "${MR[$name]}" "${MR[$HAP]}")" \
    "$(ratio "${MR[$name]}" "${MR[nginx]}")" "$(ratio "${MP[$name]}" "${MP[$HAP]}")" \
    "$(ratio "${MP[$name]}" "${MP[nginx]}")"
done
echo

# Split check from the router's own statistics.
curl -fs --unix-socket "$WORK/router.sock" "http://r/stats?window=15m" | $PY -c '
import json,sys
d=json.load(sys.stdin); tot={v["version"]: v["total"]["requests"] for v in d["versions"]}
s=sum(tot.values()) or 1
print("router stats: " + ", ".join(f"{k} {n} ({100*n/s:.1f}%)" for k,n in sorted(tot.items())))'

# --- memory with idle keep-alive connections ---
echo
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss_kb "$RUNWAY_PID")
$PY - "$P_RUNWAY" "$IDLE_CONNS" "$RUNWAY_PID" <<'PY'
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
