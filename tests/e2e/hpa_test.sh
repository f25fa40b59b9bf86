#!/usr/bin/env bash
# The metrics pipeline and the HorizontalPodAutoscaler on a real node (scripts/up's
# single-node cluster, the real kernlet-agent): the kubelet's /stats/summary, the
# metrics.k8s.io API through `kubectl top nodes|pods` (1.27 and 1.33), read-only; then a
# deployment whose pods burn CPU against a 20m request while a file exists in a hostPath
# directory gets an HPA (min 1, max 3, 50 % cpu) and goes 1 -> 3, and back to 1 once the
# file is gone. Short windows come from kernlet-control's flags; every wait has a deadline.
source "$(dirname "$0")/agent_lib.sh"
start_cluster \
  --control-flag=--metric-resolution=2s \
  --control-flag=--horizontal-pod-autoscaler-sync-period=2s \
  --control-flag=--horizontal-pod-autoscaler-downscale-stabilization=10s \
  --control-flag=--horizontal-pod-autoscaler-cpu-initialization-period=5s \
  --control-flag=--horizontal-pod-autoscaler-initial-readiness-delay=5s

load="$workdir/load"
mkdir -p "$load"
touch "$load/on"

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: burn}
spec:
  replicas: 1
  selector: {matchLabels: {app: burn}}
  template:
    metadata: {labels: {app: burn}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes: [{name: load, hostPath: {path: "$load", type: Directory}}]
      containers:
      - name: main
        image: $BUSYBOX
        # Spins while /load/on exists, idles (one stat every 5 s: a sleep exec a second cost 3-7m
        # on a loaded machine, which against 20m held the HPA at 2) otherwise; at nice 19, so the
        # busy loop never starves the machine's other work (there is no cpu controller here).
        command: ["sh", "-c", "renice -n 19 -p \$\$ >/dev/null; while :; do if [ -f /load/on ]; then i=0; while [ \$i -lt 20000 ]; do i=\$((i+1)); done; else sleep 5; fi; done"]
        volumeMounts: [{name: load, mountPath: /load}]
        resources: {requests: {cpu: 20m, memory: 16Mi}}
EOF
wait_until 60 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get deploy burn -o 'jsonpath={.status.readyReplicas}')\" = 1 ]"
expect_eq "the busy deployment has one ready pod" "1" "$(kc 1.33 get deploy burn -o 'jsonpath={.status.readyReplicas}')"

# --- the kubelet's Summary API ----------------------------------------------------------------
pki="$DATA/control/pki"
summary() {
  curl -sf --cacert "$DATA/agent/pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$AGENT_PORT/stats/summary"
}
# The agent samples every 10 s; usageNanoCores needs two samples.
summary_has_rates() {
  summary | python3 -c '
import json, sys
s = json.load(sys.stdin)
pods = [p for p in s["pods"] if p["podRef"]["name"].startswith("burn-")]
ok = s["node"]["cpu"].get("usageNanoCores", 0) > 0 and pods and pods[0]["containers"] and \
     all(c["cpu"].get("usageNanoCores") is not None for c in pods[0]["containers"])
sys.exit(0 if ok else 1)'
}
wait_until 40 summary_has_rates || true
shape=$(summary | python3 -c '
import json, sys
s = json.load(sys.stdin)
n = s["node"]
p = [p for p in s["pods"] if p["podRef"]["name"].startswith("burn-")][0]
c = p["containers"][0]
print(n["nodeName"], n["cpu"]["usageNanoCores"] > 0, n["cpu"]["usageCoreNanoSeconds"] > 0,
      n["memory"]["workingSetBytes"] > 0, n["memory"]["usageBytes"] > 0,
      p["podRef"]["namespace"], len(p["podRef"]["uid"]) > 0, c["name"],
      c["cpu"]["usageNanoCores"] > 1000000, c["memory"]["workingSetBytes"] > 0)' 2>&1)
expect_eq "/stats/summary: node, pod and container cpu and memory" \
  "$node True True True True default True main True True" "$shape"
expect_eq "/stats/summary needs a client certificate" "401" \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DATA/agent/pki/ca.crt" "https://127.0.0.1:$AGENT_PORT/stats/summary")"

# --- metrics.k8s.io and kubectl top ------------------------------------------------------------
expect_contains "discovery lists metrics.k8s.io/v1beta1" "metrics.k8s.io/v1beta1" "$(kc 1.33 api-versions)"
top_nodes() { kc "$1" top nodes --no-headers 2>&1; }
top_pods() { kc "$1" top pods "${@:2}" --no-headers 2>&1; }
wait_until 30 sh -c "$KUBECTL_DIR/kubectl.1.33 top pods -l app=burn --no-headers 2>/dev/null | grep -q burn-"
for v in 1.27 1.33; do
  expect_contains "kubectl $v top nodes shows the node" "$node" "$(top_nodes "$v")"
  expect_eq "kubectl $v top nodes: cpu and memory figures" "ok" \
    "$(top_nodes "$v" | awk -v n="$node" '$1 == n && $2 ~ /^[0-9]+m$/ && $3 ~ /%$/ && $4 ~ /^[0-9]+Mi$/ {print "ok"}')"
  expect_eq "kubectl $v top pods -l app=burn: the busy pod's cpu" "ok" \
    "$(top_pods "$v" -l app=burn | awk '$1 ~ /^burn-/ && $2 ~ /^[0-9]+m$/ && $2+0 > 5 && $3 ~ /^[0-9]+Mi$/ {print "ok"}')"
  expect_contains "kubectl $v top pods -n default --containers" "main" \
    "$(top_pods "$v" -n default -l app=burn --containers)"
done
expect_contains "a selector that matches nothing lists nothing" "No resources found" \
  "$(kc 1.33 top pods -l app=nothing 2>&1)"
raw=$(kc 1.33 get --raw "/apis/metrics.k8s.io/v1beta1/nodes/$node")
expect_contains "GET NodeMetrics by name" "\"kind\":\"NodeMetrics\"" "$raw"
expect_contains "... with a window" "\"window\":\"2s\"" "$raw"
expect_contains "an unknown pod's metrics: NotFound" "NotFound" \
  "$(kc 1.33 get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope 2>&1)"
expect_contains "the metrics API is read-only" "MethodNotAllowed" \
  "$(kc 1.33 delete --raw "/apis/metrics.k8s.io/v1beta1/nodes/$node" 2>&1)"

# --- the HPA: 1 -> 3 under load, back to 1 after it ---------------------------------------------
kc 1.33 autoscale deployment burn --min=1 --max=3 --cpu-percent=50 >/dev/null
hpa_events() {
  kc 1.33 get events -o 'jsonpath={range .items[?(@.involvedObject.kind=="HorizontalPodAutoscaler")]}{.reason}: {.message}{"\n"}{end}'
}
replicas() { kc 1.33 get deploy burn -o 'jsonpath={.spec.replicas}' 2>/dev/null; }
replicas_are() { [ "$(replicas)" = "$1" ]; }
wait_until 90 replicas_are 3 || true
expect_eq "the HPA scaled the busy deployment to 3" "3" "$(replicas)"
hpa_json=$(kc 1.33 get hpa burn -o json)
expect_contains "status.currentMetrics reports cpu utilization" "\"averageUtilization\"" "$hpa_json"
expect_contains "ScalingLimited: TooManyReplicas at max" "TooManyReplicas" "$hpa_json"
expect_contains "lastScaleTime is set" "\"lastScaleTime\"" "$hpa_json"
expect_contains "an Event SuccessfulRescale says the new size" "New size: 3; reason: cpu resource utilization" \
  "$(hpa_events)"
expect_contains "kubectl get hpa shows the target and utilization" "cpu:" "$(kc 1.33 get hpa burn)"
wait_until 60 sh -c "[ \"\$($KUBECTL_DIR/kubectl.1.33 get deploy burn -o 'jsonpath={.status.readyReplicas}')\" = 3 ]" || true

rm -f "$load/on"
wait_until 120 replicas_are 1 || true
expect_eq "after the load stopped the HPA scaled back to 1" "1" "$(replicas)"
expect_contains "an Event for the scale-down" "New size: 1; reason: All metrics below target" \
  "$(hpa_events)"
expect_contains "AbleToScale stays True" "True" \
  "$(kc 1.33 get hpa burn -o 'jsonpath={.status.conditions[?(@.type=="AbleToScale")].status}')"

kc 1.33 delete hpa burn >/dev/null
kc 1.33 delete deploy burn --wait=false >/dev/null
finish_cluster
