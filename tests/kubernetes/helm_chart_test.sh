#!/usr/bin/env bash
# ctest `kubernetes.helm_chart`: the Helm chart (packaging/helm/runway), rendered by the pinned helm
# (scripts/release-tools.sh), against the real kube-apiserver of the kubernetes tests
# (RUNWAY_KUBE_CLUSTER, brought up by the kube_cluster fixture):
#   - helm lint --strict, for the default values and for each values-*.yaml shipped;
#   - replicaCount 2 is refused with SQLite, and without a shared audit key, each with the reason;
#     values-ha.yaml renders several pods on PostgreSQL (no volume claim, each pod named as a
#     server, the password and the audit key from Secrets);
#   - the configuration the ConfigMap carries passes `runway validate`;
#   - every manifest is accepted by the API server (server-side dry run), the ServiceMonitor
#     excepted (its CRD is the Prometheus Operator's, not in this cluster: it is rendered only);
#   - RBAC, the chart applied for real: the chart's ServiceAccount may do each of the Kubernetes
#     runtime's calls in the namespaces it deploys into, and is forbidden in another namespace and
#     on Secrets (SelfSubjectAccessReview through `kubectl auth can-i --as`); with
#     rbac.clusterWide, allowed in any namespace but still not on Secrets.
# Usage: helm_chart_test.sh RUNWAY_BINARY
set -euo pipefail
runway=${1:?usage: helm_chart_test.sh RUNWAY_BINARY}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
chart=$source_dir/packaging/helm/runway
helm=$("$source_dir/scripts/release-tools.sh" path)/bin/helm
[[ -x $helm ]] || { echo "helm is not built: scripts/release-tools.sh build" >&2; exit 1; }
[[ -n ${RUNWAY_KUBE_CLUSTER:-} && -f $RUNWAY_KUBE_CLUSTER/cluster.env ]] ||
  { echo "no cluster: RUNWAY_KUBE_CLUSTER must name a directory of scripts/kube-cluster.sh up" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RUNWAY_KUBE_CLUSTER/cluster.env"
kubectl() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }
work=$(mktemp -d)
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data
suffix=$$
rel=helm-rw-$suffix stg=helm-stg-$suffix prod=helm-prod-$suffix other=helm-other-$suffix
cleanup() {
  kubectl delete namespace "$rel" "$stg" "$prod" "$other" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete clusterrole,clusterrolebinding -l "app.kubernetes.io/instance=rw" --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAILED: $*" >&2; fail=1; }

values_files=("$chart"/values-*.yaml)
"$helm" lint --strict "$chart" >/dev/null && ok "helm lint --strict (default values)" || bad "helm lint (default values)"
for v in "${values_files[@]}"; do
  "$helm" lint --strict "$chart" -f "$v" >/dev/null && ok "helm lint --strict -f $(basename "$v")" || bad "helm lint -f $v"
done

if out=$("$helm" template rw "$chart" --set replicaCount=2 2>&1); then
  bad "replicaCount=2 rendered on SQLite"
else
  [[ $out == *"replicaCount must be 1 with SQLite"*"PostgreSQL store"* ]] && ok "replicaCount=2 on SQLite refused" || bad "replicaCount=2: $out"
fi
if out=$("$helm" template rw "$chart" --set replicaCount=2 --set store.postgres=postgres://runway@db:5432/runway 2>&1); then
  bad "replicaCount=2 rendered without a shared audit key"
else
  [[ $out == *"auditKey.existingSecret"* ]] && ok "replicaCount=2 without a shared audit key refused" || bad "no audit key: $out"
fi
if out=$("$helm" template rw "$chart" --set store.postgres=postgres://runway:secret@db:5432/runway 2>&1); then
  bad "a password in store.postgres rendered"
else
  [[ $out == *"must not carry the password"* && $out != *"secret@"* ]] && ok "a password in store.postgres refused (not repeated)" || bad "password in URL: $out"
fi
ha=$("$helm" template rw "$chart" -f "$chart/values-ha.yaml")
for want in "replicas: 3" "type: RollingUpdate" "- --store" '- "$(POD_NAME)"' "- --audit-key-file" "secretName: runway-store" \
  "secretName: runway-audit-key" "fieldPath: status.podIP"; do
  [[ $ha == *"$want"* ]] && ok "values-ha.yaml renders: $want" || bad "values-ha.yaml lacks: $want"
done
[[ $ha != *"kind: PersistentVolumeClaim"* ]] && ok "values-ha.yaml: no volume claim (each pod's data directory is its own)" ||
  bad "values-ha.yaml renders a PersistentVolumeClaim"

render() { # NAME ARGS...: renders into $work/NAME.yaml
  local name=$1
  shift
  "$helm" template rw "$chart" --namespace "$rel" "$@" >"$work/$name.yaml"
}
render default
render targets --set "rbac.namespaces={$stg,$prod}"
render secret --set secretEnv.GITHUB_TOKEN=test-token --set persistence.enabled=false
for v in "${values_files[@]}"; do render "$(basename "$v" .yaml)" -f "$v"; done

# The configuration each render mounts is one runway accepts.
mkdir -p "$work/config"
for f in "$work"/*.yaml; do
  name=$(basename "$f" .yaml)
  awk '/^  runway.yaml: \|$/ { on = 1; next } on && /^(    |$)/ { sub(/^    /, ""); print; next } on { exit }' \
    "$f" >"$work/config/$name.yaml"
  if out=$("$runway" validate "$work/config/$name.yaml" 2>&1); then
    ok "runway validate: the configuration in the ConfigMap of $name"
  else
    bad "the configuration in the ConfigMap of $name does not validate: $out"
  fi
done

kubectl create namespace "$rel" >/dev/null
kubectl create namespace "$stg" >/dev/null
kubectl create namespace "$prod" >/dev/null
kubectl create namespace "$other" >/dev/null
for f in "$work"/default.yaml "$work"/targets.yaml "$work"/secret.yaml "$work"/values-*.yaml; do
  name=$(basename "$f" .yaml)
  if grep -q '^kind: ServiceMonitor$' "$f"; then
    # Everything but the ServiceMonitor goes to the API server; that one is checked as rendered.
    "$helm" template rw "$chart" --namespace "$rel" -f "$chart/$name.yaml" --set serviceMonitor.enabled=false >"$f"
    grep -q 'kind: ServiceMonitor' <("$helm" template rw "$chart" --namespace "$rel" -f "$chart/$name.yaml" -s templates/servicemonitor.yaml) &&
      ok "$name: ServiceMonitor rendered (not applied: no Prometheus Operator CRD in this cluster)" ||
      bad "$name: no ServiceMonitor rendered"
  fi
  kinds=$(grep -E '^kind: ' "$f" | awk '{ print $2 }' | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
  if out=$(kubectl apply --dry-run=server -f "$f" 2>&1); then
    ok "$name: accepted by kube-apiserver (server-side dry run): $kinds"
  else
    bad "$name: kube-apiserver refused: $out"
  fi
done

# RBAC with the chart applied: Roles in the two target namespaces.
kubectl apply --server-side -f "$work/targets.yaml" >/dev/null
sa=system:serviceaccount:$rel:rw-runway
can() { kubectl auth can-i "$@" --as "$sa" 2>/dev/null || true; }
calls=("get deployments.apps" "list deployments.apps" "watch deployments.apps" "create deployments.apps"
  "patch deployments.apps" "delete deployments.apps" "get services" "create services" "patch services"
  "delete services" "list pods" "watch pods" "get pods --subresource=log" "list events"
  "patch horizontalpodautoscalers.autoscaling" "create httproutes.gateway.networking.k8s.io"
  "patch httproutes.gateway.networking.k8s.io" "delete httproutes.gateway.networking.k8s.io")
allowed=0
for ns in "$stg" "$prod"; do
  for c in "${calls[@]}"; do
    # shellcheck disable=SC2086
    if [[ $(can $c -n "$ns") == yes ]]; then allowed=$((allowed + 1)); else bad "the ServiceAccount may not '$c' in $ns"; fi
  done
done
ok "the ServiceAccount may make the runtime's $allowed calls in $stg and $prod"
for denied in "create deployments.apps -n $other" "get pods -n $other" "create deployments.apps -n $rel" \
  "get secrets -n $prod" "create roles.rbac.authorization.k8s.io -n $prod" "create namespaces" "list nodes"; do
  # shellcheck disable=SC2086
  [[ $(can $denied) == no ]] && ok "forbidden: $denied" || bad "allowed, should not be: $denied"
done

# rbac.clusterWide: every namespace, still no Secrets.
kubectl apply --server-side -f "$work/values-cluster-wide.yaml" >/dev/null
[[ $(can create deployments.apps -n "$other") == yes ]] && ok "clusterWide: may create deployments in $other" ||
  bad "clusterWide: may not create deployments in $other"
[[ $(can get secrets -n "$other") == no ]] && ok "clusterWide: forbidden: get secrets -n $other" ||
  bad "clusterWide: allowed to read secrets"

((fail == 0)) || { echo "the chart test failed (above)" >&2; exit 1; }
echo "the chart test passed"
