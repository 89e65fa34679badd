#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for runway's `kubernetes` tests: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler (all built from the Go module proxy)
# and kwok (fake nodes whose pods go Running/Ready without containers; its fake kubelet serves a
# pod's log from the file a kwok `Logs` object names, --enable-crds Logs), with the Gateway API
# standard CRDs and kwok's Logs CRD applied.
#
#   scripts/kube-cluster.sh build
#       Builds the pinned binaries once into the cache directory (below); a second call returns
#       at once. A cold build took about 14 minutes on a 2-core machine (docs/development.md).
#   scripts/kube-cluster.sh up DIR [--port-base N] [--fresh]
#       Starts a cluster with its state, PKI, logs and pid files in DIR and waits until it is
#       ready (a fake node Ready, the default ServiceAccount present, Gateway API CRDs
#       Established). Ports are free ones picked on 127.0.0.1 unless --port-base N is given
#       (then N+0 ... N+6), and kept in DIR/ports for restarts. Writes DIR/kubeconfig (admin,
#       client certificate) and DIR/cluster.env (KUBECONFIG, KUBECTL, API_SERVER,
#       ETCD_ENDPOINT). On a DIR that has run before it starts only what is not running.
#       --fresh stops what runs in DIR and removes its state first. Builds first if needed.
#   scripts/kube-cluster.sh down DIR
#       Stops exactly the processes `up DIR` started (pid files; a pid whose /proc/PID/exe is no
#       longer the binary started is left alone).
#   scripts/kube-cluster.sh restart DIR COMPONENT...
#       Stops the named components (etcd, kube-apiserver, kube-controller-manager,
#       kube-scheduler, kwok) and runs `up DIR` again, which starts them and waits until ready.
#   scripts/kube-cluster.sh path
#       Prints the cache directory (binaries in its bin/).
#
# Environment: RUNWAY_KUBE_CACHE (cache directory; default
# ${XDG_CACHE_HOME:-$HOME/.cache}/runway/kube-<versions>), READY_TIMEOUT (seconds per component,
# default 180). Go runs with GOTOOLCHAIN=local, GOFLAGS=-buildvcs=false, at idle priority.
set -euo pipefail

K8S_VERSION=1.37.2
ETCD_VERSION=3.7.3
KWOK_VERSION=0.8.0
GATEWAY_API_VERSION=1.6.3
VERSIONS="k8s${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}-gw${GATEWAY_API_VERSION}"
CACHE=${RUNWAY_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runway/kube-$VERSIONS}
BIN=$CACHE/bin
READY_TIMEOUT=${READY_TIMEOUT:-180}

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
export GOCACHE=$CACHE/gocache

log() { printf '%s kube-cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }
# Go builds run at idle priority: they may take a core only when nothing else wants it.
idle() { nice -n 19 chrt --idle 0 "$@"; }

# ------------------------------------------------------------------------------------- build
module_dir() { # module@version -> its directory in the module cache (downloads it if needed)
  (cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "$1") |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

build_etcd() {
  [[ -x $BIN/etcd ]] && return 0
  # go install refuses go.etcd.io/etcd/server/v3 (its go.mod has replace directives) and the
  # proxy does not serve go.etcd.io/etcd/v3@v3.7.3; a wrapper module requiring the parts works.
  log "building etcd v$ETCD_VERSION"
  local w=$CACHE/src/etcd t0=$SECONDS
  mkdir -p "$w"
  cat >"$w/go.mod" <<EOF
module local/runway-etcd

go 1.26.0

require (
	go.etcd.io/etcd/api/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/v3 v$ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/server/v3 v$ETCD_VERSION
)
EOF
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$w/tools.go"
  (cd "$w" && idle go mod tidy)
  (cd "$w" && idle go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "built etcd in $((SECONDS - t0))s"
}

K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
build_kubernetes() {
  local b need=0
  for b in "${K8S_COMMANDS[@]}"; do [[ -x $BIN/$b ]] || need=1; done
  ((need)) || return 0
  # The k8s.io/kubernetes module zip has no staging/ sources: its go.mod replaces 33 k8s.io/*
  # modules with ./staging/src/...; the wrapper replaces each with its published v0.x release.
  log "building Kubernetes v$K8S_VERSION (${K8S_COMMANDS[*]})"
  local w=$CACHE/src/kubernetes t0=$SECONDS kdir staging
  mkdir -p "$w"
  kdir=$(module_dir "k8s.io/kubernetes@v$K8S_VERSION")
  [[ -f $kdir/go.mod ]] || die "k8s.io/kubernetes@v$K8S_VERSION: no go.mod in the module cache"
  staging=$(sed -n '/^replace (/,/^)/p' "$kdir/go.mod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }')
  [[ $(wc -l <<<"$staging") -ge 30 ]] || die "expected the staging replace block in $kdir/go.mod"
  {
    printf 'module local/runway-kubernetes\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S_VERSION"
    awk -v v="v0.${K8S_VERSION#1.}" '{ print "\t" $1 " => " $1 " " v }' <<<"$staging"
    printf ')\n'
  } >"$w/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "${K8S_COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } >"$w/tools.go"
  (cd "$w" && idle go mod tidy)
  # The version stamp hack/lib/version.sh sets; without it the binaries say v0.0.0-master.
  local ld="-s -w" p minor=${K8S_VERSION#1.}
  minor=${minor%%.*}
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  local pkgs=() out=$CACHE/tmp-k8s
  rm -rf "$out" && mkdir -p "$out"
  for b in "${K8S_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$w" && idle go build -trimpath -ldflags "$ld" -o "$out/" "${pkgs[@]}")
  for b in "${K8S_COMMANDS[@]}"; do mv "$out/$b" "$BIN/$b"; done
  rmdir "$out"
  log "built Kubernetes in $((SECONDS - t0))s"
}

build_kwok() {
  if [[ ! -x $BIN/kwok ]]; then
    log "building kwok v$KWOK_VERSION"
    local t0=$SECONDS out=$CACHE/tmp-kwok
    rm -rf "$out" && mkdir -p "$out"
    (cd "$CACHE" && GOBIN=$out idle go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION")
    mv "$out/kwok" "$BIN/kwok"
    rmdir "$out"
    log "built kwok in $((SECONDS - t0))s"
  fi
  copy_kwok_crds
  # The kwok binary has no built-in stages; the module ships them (fast node and pod stages).
  if [[ ! -s $CACHE/share/kwok-stages.yaml ]]; then
    local kd f
    kd=$(module_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")
    for f in "$kd"/kustomize/stage/node/fast/node-initialize.yaml \
      "$kd"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      "$kd"/kustomize/stage/pod/fast/*.yaml; do
      [[ -f $f ]] || die "kwok stage $f missing"
      echo '---'
      cat "$f"
    done >"$CACHE/share/kwok-stages.yaml.tmp"
    mv "$CACHE/share/kwok-stages.yaml.tmp" "$CACHE/share/kwok-stages.yaml"
  fi
}

copy_gateway_crds() {
  [[ -s $CACHE/share/gateway-api/httproutes.yaml ]] && return 0
  local gd f
  gd=$(module_dir "sigs.k8s.io/gateway-api@v$GATEWAY_API_VERSION")
  mkdir -p "$CACHE/share/gateway-api.tmp"
  # The standard channel as released: its CRDs and the ValidatingAdmissionPolicy that keeps
  # experimental CRDs from replacing them (vap_safeupgrades.yaml -> safeupgrades.yaml).
  for f in "$gd"/config/crd/standard/gateway.networking.k8s.io_*.yaml; do
    cp "$f" "$CACHE/share/gateway-api.tmp/${f##*_}"
  done
  chmod -R u+w "$CACHE/share/gateway-api.tmp"
  rm -rf "$CACHE/share/gateway-api"
  mv "$CACHE/share/gateway-api.tmp" "$CACHE/share/gateway-api"
}

# The Logs CRD: a Logs object names the file kwok's fake kubelet serves as a pod's log
# (GET .../pods/NAME/log through the real API server), which is how the tests give pods logs.
# From the kwok module (downloaded at most once; a cache built before it needs only this).
copy_kwok_crds() {
  [[ -s $CACHE/share/kwok-crds/logs.yaml ]] && return 0
  local kd
  kd=$(module_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")
  mkdir -p "$CACHE/share/kwok-crds"
  cp "$kd/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" "$CACHE/share/kwok-crds/logs.yaml.tmp"
  chmod u+w "$CACHE/share/kwok-crds/logs.yaml.tmp"
  mv "$CACHE/share/kwok-crds/logs.yaml.tmp" "$CACHE/share/kwok-crds/logs.yaml"
}

cmd_build() {
  mkdir -p "$BIN" "$CACHE/share"
  built() { [[ -f $CACHE/stamp && $(cat "$CACHE/stamp") == "$VERSIONS" && -s $CACHE/share/kwok-crds/logs.yaml ]]; }
  built && return 0
  if [[ -f $CACHE/stamp && $(cat "$CACHE/stamp") == "$VERSIONS" ]]; then
    exec 9>"$CACHE/build.lock"
    flock 9
    copy_kwok_crds
    exec 9>&-
    return 0
  fi
  command -v go >/dev/null || die "go is not installed (https://go.dev/dl; go1.26 or newer)"
  # One build at a time per cache directory (parallel test fixtures may all ask for it).
  exec 9>"$CACHE/build.lock"
  flock 9
  built && { exec 9>&-; return 0; }
  local t0=$SECONDS
  log "building into $CACHE ($(go version | awk '{ print $3 }'))"
  build_etcd
  build_kubernetes
  build_kwok
  copy_gateway_crds
  echo "$VERSIONS" >"$CACHE/stamp"
  log "build complete in $((SECONDS - t0))s"
  exec 9>&-
}

# ---------------------------------------------------------------------------------- up/down
# Every component listens on 127.0.0.1 only.
PORT_NAMES=(etcd etcd_peer etcd_metrics apiserver controller_manager scheduler kwok)

pick_ports() { # DIR base -> DIR/ports (one "name port" a line)
  local dir=$1 base=$2 i
  if [[ -n $base ]]; then
    for i in "${!PORT_NAMES[@]}"; do echo "${PORT_NAMES[$i]} $((base + i))"; done >"$dir/ports"
    return 0
  fi
  # A block of seven free ports below the kernel's ephemeral range (32768-60999 on Debian), so
  # that no program binding port 0 meanwhile (the suite's servers do, all the time) can take one
  # before its component binds it: the scheduler's port, for one, is bound some 20 s after it is
  # picked, and a port-0 pick was once taken in that time (CI: "bind: address already in use").
  # Clusters started at the same time do not share a block either: picks are made under a lock
  # and noted in a registry beside it; a note stays while its cluster's ports file lists the port.
  /usr/bin/python3 - "$dir" "${PORT_NAMES[@]}" >"$dir/ports" <<'EOF'
import fcntl, os, random, socket, sys

cluster, names = sys.argv[1], sys.argv[2:]
registry = os.path.join(os.environ.get("TMPDIR", "/tmp"), "runway-kube-ports")
low, high = 20000, 32000


def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


with open(registry + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    kept, taken = [], set()
    try:
        with open(registry) as f:
            notes = f.read().split("\n")
    except FileNotFoundError:
        notes = []
    for note in notes:
        port, _, owner = note.partition(" ")
        if not port.isdigit() or owner == cluster:
            continue
        try:
            with open(os.path.join(owner, "ports")) as f:
                listed = f.read().split()
        except OSError:
            continue  # that cluster's directory is gone
        if port in listed:
            kept.append(note)
            taken.add(int(port))
    pick = random.SystemRandom()
    for _ in range(2000):
        base = pick.randrange(low, high - len(names))
        ports = list(range(base, base + len(names)))
        if not taken.intersection(ports) and all(free(p) for p in ports):
            break
    else:
        sys.exit("kube-cluster: no block of %d free ports in %d-%d" % (len(names), low, high))
    for name, port in zip(names, ports):
        print(name, port)
    sys.stdout.flush()
    kept += ["%d %s" % (port, cluster) for port in ports]
    with open(registry + ".new", "w") as out:
        out.write("\n".join(kept) + "\n")
    os.replace(registry + ".new", registry)
EOF
}

port() { awk -v n="$1" '$1 == n { print $2 }' "$DIR/ports"; }

alive() { local p; p=$(cat "$DIR/pids/$1.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

start() { # name binary args...
  local name=$1
  shift
  if alive "$name"; then return 0; fi
  # Own session, stdin from /dev/null and output to a log: the component outlives the shell
  # (or ctest fixture) that started it and keeps no pipe of its caller open.
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
  echo "$1" >"$DIR/pids/$name.exe"
}

wait_for() { # name command... : polls until the command succeeds, the component dies or time is up
  local name=$1 t0=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      log "$name exited; the end of $DIR/logs/$name.log:"
      tail -20 "$DIR/logs/$name.log" >&2
      return 1
    fi
    if ((SECONDS - t0 > READY_TIMEOUT)); then
      log "$name not ready after ${READY_TIMEOUT}s; the end of $DIR/logs/$name.log:"
      tail -20 "$DIR/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

gen_pki() {
  local pki=$DIR/pki
  [[ -s $pki/admin.crt ]] && return 0
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=runway-test-ca" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    sign() { # name subject extensions
      openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver /CN=kube-apiserver "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    local client="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    sign admin "/O=system:masters/CN=admin" "$client"
    sign kube-controller-manager "/CN=system:kube-controller-manager" "$client"
    sign kube-scheduler "/CN=system:kube-scheduler" "$client"
    sign kwok "/O=system:masters/CN=kwok" "$client"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  )
}

write_kubeconfig() { # file user
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: runway-test
  cluster:
    server: https://127.0.0.1:$(port apiserver)
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $DIR/pki/$2.crt
    client-key: $DIR/pki/$2.key
contexts:
- name: runway-test
  context: {cluster: runway-test, user: $2}
current-context: runway-test
EOF
}

cmd_up() {
  DIR=${1:?usage: kube-cluster.sh up DIR [--port-base N] [--fresh]}
  shift
  local base="" fresh=0
  while (($#)); do
    case $1 in
      --port-base) base=${2:?--port-base needs a number}; shift 2 ;;
      --fresh) fresh=1; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if ((fresh)); then
    cmd_down "$DIR"
    rm -rf "${DIR:?}"/{etcd-data,pki,logs,pids,ports,*.kubeconfig,kubeconfig,cluster.env}
  fi
  cmd_build
  local t0=$SECONDS
  mkdir -p "$DIR/logs" "$DIR/pids"
  # Ports are kept with the state: a restart on the same DIR serves the same addresses.
  [[ -s $DIR/ports ]] || pick_ports "$DIR" "$base"
  gen_pki
  local pki=$DIR/pki c
  for c in admin kube-controller-manager kube-scheduler kwok; do
    write_kubeconfig "$DIR/$c.kubeconfig" "$c"
  done
  cp "$DIR/admin.kubeconfig" "$DIR/kubeconfig"
  local api="https://127.0.0.1:$(port apiserver)"

  start etcd "$BIN/etcd" --name runway-test --data-dir "$DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$(port etcd)" \
    --advertise-client-urls "http://127.0.0.1:$(port etcd)" \
    --listen-peer-urls "http://127.0.0.1:$(port etcd_peer)" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(port etcd_peer)" \
    --initial-cluster "runway-test=http://127.0.0.1:$(port etcd_peer)" \
    --listen-metrics-urls "http://127.0.0.1:$(port etcd_metrics)" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level warn
  wait_for etcd curl -sf "http://127.0.0.1:$(port etcd_metrics)/health"

  # --endpoint-reconciler-type none: the reconciler refuses a loopback advertise address.
  local apiserver=("$BIN/kube-apiserver"
    --etcd-servers "http://127.0.0.1:$(port etcd)"
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$(port apiserver)"
    --cert-dir "$pki/apiserver-certdir"
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key"
    --client-ca-file "$pki/ca.crt"
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt"
    --kubelet-client-key "$pki/apiserver-kubelet-client.key"
    --service-account-issuer https://kubernetes.default.svc.cluster.local
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key"
    --service-cluster-ip-range 10.96.0.0/16
    --authorization-mode Node,RBAC
    --endpoint-reconciler-type none
    --allow-privileged=true --profiling=false)
  # On a loaded machine kube-apiserver can exit during start-up when a post-start hook times
  # out against a slow etcd (seen in CI: "PostStartHook start-service-ip-repair-controllers
  # failed: unable to perform initial IP and Port allocation check (timeout)"). It is started
  # again, up to three times, as the kubelet restarts a crashed static pod; one that stays up but
  # never gets ready still fails at once.
  local attempt
  for attempt in 1 2 3; do
    start kube-apiserver "${apiserver[@]}"
    if wait_for kube-apiserver curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" \
      --key "$pki/admin.key" "$api/readyz"; then
      break
    fi
    if alive kube-apiserver || ((attempt == 3)); then die "kube-apiserver did not get ready"; fi
    log "kube-apiserver exited during start-up; starting it again (attempt $((attempt + 1)) of 3)"
  done

  # Before kwok starts: it watches Logs objects (--enable-crds Logs).
  "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" apply --server-side \
    --field-manager=runway-test-harness -f "$CACHE/share/kwok-crds/logs.yaml" >/dev/null
  wait_for kube-apiserver "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" wait \
    --for=condition=Established crd/logs.kwok.x-k8s.io --timeout=5s

  # --use-service-account-credentials: each controller acts as its own service account (as
  # system:kube-controller-manager alone, controllers are forbidden and Deployments never roll).
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port controller_manager)" \
    --cert-dir "$pki/kcm-certdir" \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --use-service-account-credentials=true --leader-elect=false \
    --node-monitor-period 5s --node-monitor-grace-period 40s
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(port scheduler)" \
    --cert-dir "$pki/scheduler-certdir" --leader-elect=false
  # kwok: fake nodes (those annotated kwok.x-k8s.io/node=fake) whose pods go Running/Ready.
  start kwok "$BIN/kwok" \
    --kubeconfig "$DIR/kwok.kubeconfig" \
    --config "$CACHE/share/kwok-stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 --node-port "$(port kwok)" --server-address "127.0.0.1:$(port kwok)" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --cidr 10.244.0.0/16 --node-lease-duration-seconds 40 --enable-crds Logs
  wait_for kube-controller-manager curl -skf "https://127.0.0.1:$(port controller_manager)/healthz"
  wait_for kube-scheduler curl -skf "https://127.0.0.1:$(port scheduler)/healthz"
  wait_for kwok curl -skf "https://127.0.0.1:$(port kwok)/healthz"

  local kubectl=("$BIN/kubectl" --kubeconfig "$DIR/kubeconfig")
  "${kubectl[@]}" apply --server-side --field-manager=runway-test-harness -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec: {}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  "${kubectl[@]}" apply --server-side --field-manager=runway-test-harness \
    -f "$CACHE/share/gateway-api/" >/dev/null
  wait_for kwok "${kubectl[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=5s
  wait_for kube-apiserver "${kubectl[@]}" wait --for=condition=Established crd --all --timeout=5s
  # Pods cannot be created in a namespace before its default ServiceAccount exists.
  wait_for kube-controller-manager "${kubectl[@]}" get serviceaccount default -n default

  cat >"$DIR/cluster.env" <<EOF
KUBECONFIG=$DIR/kubeconfig
KUBECTL=$BIN/kubectl
API_SERVER=$api
ETCD_ENDPOINT=http://127.0.0.1:$(port etcd)
EOF
  log "cluster up in $((SECONDS - t0))s: KUBECONFIG=$DIR/kubeconfig (kubectl: $BIN/kubectl)"
}

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Stops the named components together: SIGTERM to each (only while /proc/PID/exe is still the
# binary started, so a reused pid is never signalled), then waits for all, SIGKILL after 10 s.
stop_components() {
  local name pid want exe pids=()
  for name in "$@"; do
    [[ -f $DIR/pids/$name.pid ]] || continue
    pid=$(cat "$DIR/pids/$name.pid")
    want=$(cat "$DIR/pids/$name.exe" 2>/dev/null || true)
    if kill -0 "$pid" 2>/dev/null; then
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
      exe=${exe% (deleted)}  # the binary was rebuilt while it ran
      if [[ $exe != "$(readlink -f "$want")" ]]; then
        log "pid $pid is now '$exe', not $name; left alone"
      else
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
      fi
    fi
    rm -f "$DIR/pids/$name.pid" "$DIR/pids/$name.exe"
  done
  local t0=$SECONDS
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - t0 < 10)); do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

cmd_down() { # DIR [component...]: all (clients first, then the API server, then etcd) or those named
  DIR=${1:?usage: kube-cluster.sh down DIR}
  shift
  [[ -d $DIR/pids ]] || return 0
  DIR=$(cd "$DIR" && pwd)
  local name
  for name in "$@"; do
    [[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component $name (${COMPONENTS[*]})"
  done
  if (($#)); then
    stop_components "$@"
  else
    stop_components kwok kube-scheduler kube-controller-manager
    stop_components kube-apiserver
    stop_components etcd
  fi
}

case "${1:-}" in
  build) cmd_build ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  restart)
    [[ $# -ge 3 ]] || die "usage: kube-cluster.sh restart DIR COMPONENT..."
    cmd_down "$2" "${@:3}"
    cmd_up "$2"
    ;;
  path) echo "$CACHE" ;;
  *) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
