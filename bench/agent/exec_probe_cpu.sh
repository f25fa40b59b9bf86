#!/usr/bin/env bash
# The agent's CPU per exec probe (root): scripts/up's single-node cluster from BIN in a
# data dir, cgroup subtree and ports of its own (--network none, the local busybox image),
# a Deployment of PODS pods whose readiness probe execs `true` every second; once they are
# ready, the agent's own CPU (utime + stime of its threads, not the probes' processes in
# the pods' cgroups) over SECONDS, per probe run. Prints one JSON document. Everything it
# made is removed by scripts/down --purge, also on failure.
#
#   bench/agent/exec_probe_cpu.sh [--bin DIR] [--pods N] [--seconds S]
#
# No peer runs here (no kubelet on the machine); compare two builds with --bin.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$repo/build/bin
pods=10
seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$(cd "$2" && pwd); shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "exec_probe_cpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
source "$repo/scripts/lib/kernlet.sh"
data=$(mktemp -d /var/tmp/kernlet-bench-probe.XXXXXX)
port=$((20000 + RANDOM % 10000))
aport=$((30000 + RANDOM % 10000))
cg="$(kl_cgroup2_mount)/kernlet-bench-probe-$$"
"$repo/scripts/up" --bin "$bin" --data-dir "$data" --listen "127.0.0.1:$port" --node-name "bench-probe-$$" \
  --agent-port "$aport" --cgroup-root "$cg" --pod-logs-dir "$data/logs" --network none >"$data/up.log" 2>&1 &
up=$!
cleanup() {
  "$repo/scripts/down" --data-dir "$data" --timeout 30 --purge >/dev/null 2>&1 && return
  kill "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  "$repo/scripts/down" --data-dir "$data" --force --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
ready=""
for _ in $(seq 1 240); do
  if grep -q "is Ready" "$data/up.log"; then ready=1; break; fi
  kill -0 "$up" 2>/dev/null || break
  sleep 0.5
done
[ -n "$ready" ] || { echo "exec_probe_cpu.sh: the cluster did not come up; see:" >&2; tail -20 "$data/up.log" >&2; exit 1; }
k() { "$(kl_kubectl)" --kubeconfig "$data/control/admin.kubeconfig" "$@"; }
k apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: probed}
spec:
  replicas: $pods
  selector: {matchLabels: {app: probed}}
  template:
    metadata: {labels: {app: probed}}
    spec:
      containers:
      - name: c
        image: busybox:$(kl_busybox_tag)
        imagePullPolicy: Never
        command: ["sleep", "3600"]
        readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
YAML
k rollout status deploy/probed --timeout=180s >/dev/null
agent=$(cat "$data/agent.pid")
ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
load0=$(cut -d' ' -f1 /proc/loadavg)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$seconds"
t1=$(ticks); s1=$(date +%s.%N)
load1=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$t0" "$t1" "$s0" "$s1" "$(getconf CLK_TCK)" "$pods" "$load0" "$load1" "$(nproc)" "$(uname -r)" <<'PY'
import json, sys
t0, t1, s0, s1, hz, pods = (float(x) for x in sys.argv[1:7])
cpu = (t1 - t0) / hz
secs = s1 - s0
probes = pods * secs  # one probe per pod per second
print(json.dumps({
    "benchmark": "agent CPU per exec probe (readinessProbe exec `true`, periodSeconds 1)",
    "machine": {"cpus": int(sys.argv[9]), "kernel": sys.argv[10],
                "loadavg_1m_before_after": [float(sys.argv[7]), float(sys.argv[8])]},
    "pods": int(pods), "seconds": round(secs, 1),
    "agent_cpu_seconds": round(cpu, 2),
    "agent_cpu_ms_per_probe": round(cpu * 1000 / probes, 2),
    "peer": "none run here (no kubelet on this machine); compare builds with --bin",
}, indent=1))
PY
