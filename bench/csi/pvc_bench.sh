#!/usr/bin/env bash
# PVC create -> pod using it Running, on a one-node scripts/cluster cluster with
# kernlet-csi-local, side by side with the same pod on an emptyDir (the peer baseline: the
# same API, scheduler, agent and runtime path without the claim). Prints one JSON document.
#
#   bench/csi/pvc_bench.sh [ROUNDS]      (root; default 20)
#
# One round of the PVC case: `kubectl apply` of a 32Mi claim (WaitForFirstConsumer class,
# reclaimPolicy Delete) plus a busybox pod mounting it, then `kubectl wait` (a watch) for
# phase Running; the time between is the figure (it includes two kubectl start-ups, as the
# baseline does). The path measured: scheduling with the volume step and selected-node,
# the agent's provisioner (CreateVolume: sparse file + mkfs.ext4), the PV controller's
# binding, the agent's NodeStage (loop + mount) and NodePublish, the pod's start. Between
# rounds the pod and the claim are deleted and the PV waited for (not timed).
# Everything runs in namespaces the cluster creates, with no route out; removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
rounds=${1:-20}
bin=${KERNLET_BIN:-$repo/build/bin}
[ "$(id -u)" -eq 0 ] || { echo "pvc_bench.sh: needs root" >&2; exit 1; }
[ -x "$bin/kernlet-csi-local" ] || { echo "pvc_bench.sh: $bin/kernlet-csi-local missing" >&2; exit 1; }
source scripts/lib/kernlet.sh
name=${KERNLET_BENCH_PVC_NAME:-pb$(($$ % 10000))}
port=${KERNLET_BENCH_PVC_PORT:-$((20000 + $$ % 20000))}
work=$(mktemp -d /tmp/kernlet-pvcbench.XXXXXX)
cleanup() {
  scripts/cluster down --name "$name" --data "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

scripts/cluster up --nodes 1 --name "$name" --data "$work/cluster" --port "$port" --bin "$bin" >"$work/up.log" 2>&1 ||
  { cat "$work/up.log" >&2; exit 1; }
export KUBECONFIG="$work/cluster/control/admin.kubeconfig"
kubectl=$(kl_kubectl)
image="busybox:$(kl_busybox_tag)"
k() { "$kubectl" "$@"; }
now_ms() { date +%s%3N; }
# The CSINode must list the driver before a claim can be provisioned.
for _ in $(seq 1 300); do
  [ "$(k get csinode "$name-node1" -o 'jsonpath={.spec.drivers[0].name}' 2>/dev/null)" = local.csi.kernlet.io ] && break
  sleep 0.2
done
k apply -f - >/dev/null <<JSON
{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "bench"},
 "provisioner": "local.csi.kernlet.io", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}
JSON

pod_json() {  # NAME VOLUME_SOURCE_JSON
  cat <<JSON
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$1"},
 "spec": {"terminationGracePeriodSeconds": 0,
          "volumes": [{"name": "d", $2}],
          "containers": [{"name": "c", "image": "$image", "imagePullPolicy": "Never",
                          "command": ["sleep", "3600"], "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]}}
JSON
}

pvc_ms=(); empty_ms=()
for i in $(seq 1 "$rounds"); do
  # Baseline: the same pod on an emptyDir.
  t0=$(now_ms)
  pod_json "e$i" '"emptyDir": {}' | k apply -f - >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Running "pod/e$i" --timeout=120s >/dev/null
  empty_ms+=($(($(now_ms) - t0)))
  k delete pod "e$i" --wait=true >/dev/null

  t0=$(now_ms)
  { cat <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c$i"},
  "spec": {"storageClassName": "bench", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "32Mi"}}}},
JSON
    pod_json "p$i" "\"persistentVolumeClaim\": {\"claimName\": \"c$i\"}"
    echo ']}'; } | k apply -f - >/dev/null
  k wait --for=jsonpath='{.status.phase}'=Running "pod/p$i" --timeout=120s >/dev/null
  pvc_ms+=($(($(now_ms) - t0)))
  pv=$(k get pvc "c$i" -o 'jsonpath={.spec.volumeName}')
  k delete pod "p$i" --wait=true >/dev/null
  k delete pvc "c$i" --wait=true >/dev/null
  for _ in $(seq 1 600); do k get pv "$pv" >/dev/null 2>&1 || break; sleep 0.1; done
done

load=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$rounds" "$load" "${pvc_ms[*]}" "${empty_ms[*]}" <<'PY'
import json, sys
rounds, load = int(sys.argv[1]), float(sys.argv[2])
def stats(s):
    v = sorted(int(x) for x in s.split())
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]
    return {"p50_ms": pick(0.5), "p90_ms": pick(0.9), "max_ms": v[-1], "min_ms": v[0]}
pvc, empty = stats(sys.argv[3]), stats(sys.argv[4])
print(json.dumps({"bench": "pvc_create_to_running", "rounds": rounds, "load_average_end": load,
                  "pvc_local_csi": pvc, "emptydir_baseline": empty,
                  "added_p50_ms": pvc["p50_ms"] - empty["p50_ms"]}, indent=1))
PY
