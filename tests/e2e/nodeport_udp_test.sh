#!/usr/bin/env bash
# e2e: UDP through NodePort from outside the nodes, and the agents' /metrics, on a 3-node
# cluster (scripts/cluster: --service-proxy bpf --nodeport-interface eth0). The "outside host"
# is a network namespace of the test's own, klc-NAME-x, with a veth on the cluster's underlay
# bridge and an address of the underlay /24 (.200); no other link, no route out.
#  - a UDP echo backend in a pod on node 1 (u-a) and on node 2 (u-b): a python3 UDP server
#    run in the pod's network namespace (busybox's nc has no UDP) that answers each datagram
#    with its pod name and the source address it saw;
#  - NodePort UDP services over each; from outside, through node 1: the local backend sees
#    the client (DNAT only), the remote one sees node 1 (SNAT; the reply must come back
#    through node 1's reverse translation); through node 2 the other way round; each reply's
#    source is the node address:nodePort the client sent to, and a flow of several datagrams
#    keeps its backend; 20 new flows in a row all answer;
#  - a UDP NodePort service without endpoints: no answer;
#  - /metrics of node 1's kubelet API (scraped with the API server's kubelet-client
#    certificate): per Service port counters of the NodePort datapath (flows, packets,
#    no-backend drops) and of the socket load balancer (a connect() from a pod to a
#    ClusterIP without endpoints is refused and counted), in the Prometheus text format.
# Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the NodePort UDP e2e test" ip nsenter python3 curl
cluster_init "${KERNLET_E2E_NPUDP_NAME:-u$(($$ % 100000))}"

cluster_up 3
n1="$cname-node1"; n2="$cname-node2"
i1=$(nip "$n1"); i2=$(nip "$n2")
[ -n "$i1" ] && [ -n "$i2" ] || { not_ok "node addresses known" "node1=$i1 node2=$i2"; fail_dump; finish; }

# ---- the outside host -------------------------------------------------------------------
outside_host

# ---- backends and services ---------------------------------------------------------------
pod_json() {  # pod_json NAME NODE APP
  python3 - "$@" "$BUSYBOX" <<'PY'
import json, sys
name, node, app, image = sys.argv[1:5]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
  "spec": {"nodeName": node, "restartPolicy": "Always", "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                           "command": ["sleep", "100000"]}]}}))
PY
}
svc_json() {  # svc_json NAME APP NODEPORT
  python3 - "$@" <<'PY'
import json, sys
name, app, node_port = sys.argv[1:4]
print(json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
  "spec": {"type": "NodePort", "selector": {"app": app},
           "ports": [{"name": "echo", "port": 53, "targetPort": 5353, "nodePort": int(node_port), "protocol": "UDP"}]}}))
PY
}
pod_json u-a "$n1" a | k apply -f - >/dev/null
pod_json u-b "$n2" b | k apply -f - >/dev/null
svc_json udp-a a 30553 | k apply -f - >/dev/null
svc_json udp-b b 30554 | k apply -f - >/dev/null
svc_json udp-none none 30555 | k apply -f - >/dev/null
k create service clusterip tcp-none --tcp=80:8080 >/dev/null  # selector app=tcp-none: no endpoints
if wait_until 90 ready u-a && wait_until 90 ready u-b; then
  ok "backend pods Ready on node 1 and node 2"
else
  not_ok "backend pods Ready on node 1 and node 2" "u-a: $(jp u-a '{.status}')" "u-b: $(jp u-b '{.status}')"
  fail_dump; finish
fi

# The UDP echo in each pod's network namespace: "<pod> <source address>" per datagram.
for p in u-a u-b; do
  pid=$(pod_pid "$p")
  [ -n "$pid" ] || { not_ok "a process of $p"; fail_dump; finish; }
  nsenter --net="/proc/$pid/ns/net" python3 - "$p" "$workdir/up.$p" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
open(sys.argv[2], "w").close()
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(f"{sys.argv[1]} {peer[0]}".encode(), peer)
PY
  bg_pids+=("$!")
done
echo_up() { [ -f "$workdir/up.u-a" ] && [ -f "$workdir/up.u-b" ]; }
wait_until 30 echo_up && ok "UDP echo servers bound in the pods" || { not_ok "UDP echo servers bound in the pods"; fail_dump; finish; }

# udp ADDR PORT [N]: N datagrams (default 1) from one socket of the outside host, each
# answer printed as "<pod> <address the pod saw> from <reply source>"; "" on no answer.
udp() {
  { ip netns exec "$outside" python3 - "$1" "$2" "${3:-1}" 2>/dev/null || true; } <<'PY'
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
for i in range(n):
    s.sendto(b"q%d" % i, (addr, port))
    data, src = s.recvfrom(2048)
    print(f"{data.decode()} from {src[0]}:{src[1]}")
PY
}
answers() { [ "$(udp "$1" "$2")" = "$3" ]; }
check() {  # check NAME ADDR PORT WANT
  if wait_until 30 answers "$2" "$3" "$4"; then
    ok "$1"
  else
    not_ok "$1" "want: $4" "got: $(udp "$2" "$3")"
  fi
}

# ---- from outside ----------------------------------------------------------------------
check "UDP, local backend: node1:30553 answers from node1:30553, the backend sees the client" \
  "$i1" 30553 "u-a $client from $i1:30553"
check "UDP, remote backend: node1:30554 answers from node1:30554, the backend sees node 1 (SNAT)" \
  "$i1" 30554 "u-b $i1 from $i1:30554"
check "UDP, node 2's local backend: node2:30554 sees the client" "$i2" 30554 "u-b $client from $i2:30554"
check "UDP, remote backend through node 2: node2:30553 sees node 2" "$i2" 30553 "u-a $i2 from $i2:30553"
out=$(udp "$i1" 30554 5)
expect_eq "one UDP flow of 5 datagrams through node 1 to the remote backend: 5 answers, all through node 1" 5 \
  "$(echo "$out" | grep -c "^u-b $i1 from $i1:30554\$" || true)"
bad=0
for n in $(seq 1 20); do [ "$(udp "$i1" 30554)" = "u-b $i1 from $i1:30554" ] || bad=$((bad + 1)); done
expect_eq "20 new UDP flows through node 1 to the remote backend all answer" 0 "$bad"
expect_eq "UDP to a NodePort service without endpoints: no answer" "" "$(udp "$i1" 30555)"

# ---- a refusal counted by the socket load balancer ------------------------------------------
vip=$(k get svc tcp-none -o 'jsonpath={.spec.clusterIP}')
out=$(k exec u-a -- nc -w 2 "$vip" 80 </dev/null 2>&1 || true)
case "$out" in
  *refused*) ok "connect() from a pod to a ClusterIP without endpoints is refused: $(echo "$out" | head -1)" ;;
  *) not_ok "connect() from a pod to a ClusterIP without endpoints is refused" "$out" ;;
esac

# ---- /metrics ---------------------------------------------------------------------------
pki="$data/control/pki"
metrics() {  # metrics NODE_IP: the kubelet API's /metrics, as the API server would fetch it
  ip netns exec "$outside" curl -sS --max-time 5 --cacert "$pki/ca.crt" \
    --cert "$pki/apiserver-kubelet-client.crt" --key "$pki/apiserver-kubelet-client.key" \
    "https://$1:10250/metrics"
}
# value NAME LABELS: the sample's value in node 1's /metrics ("" when absent).
value() { metrics "$i1" | awk -v s="$1{$2}" '$1 == s { print $2 }'; }
m=$(metrics "$i1" 2>&1 || true)
case "$m" in
  *"# TYPE kernlet_nodeport_flows_total counter"*) ok "node 1's /metrics answers in the Prometheus text format" ;;
  *) not_ok "node 1's /metrics answers in the Prometheus text format" "$(echo "$m" | head -5)" ;;
esac
l='namespace="default",service="udp-b",port="echo",protocol="UDP"'
f=$(value kernlet_nodeport_flows_total "$l"); p=$(value kernlet_nodeport_packets_total "$l")
[ "${f:-0}" -ge 22 ] && [ "${p:-0}" -ge 26 ] && ok "udp-b through node 1: $f flows, $p packets counted (>= 22, >= 26)" ||
  not_ok "udp-b through node 1: flows >= 22 and packets >= 26 counted" "flows=$f packets=$p" \
    "$(echo "$m" | grep udp-b)"
l='namespace="default",service="udp-none",port="echo",protocol="UDP"'
d=$(value kernlet_nodeport_no_backend_drops_total "$l")
[ "${d:-0}" -ge 1 ] && ok "udp-none: $d no-backend drops counted" ||
  not_ok "udp-none: a no-backend drop counted" "got: $d" "$(echo "$m" | grep udp-none)"
l='namespace="default",service="tcp-none",port="80-8080",protocol="TCP"'
r=$(value kernlet_service_refused_total "$l")
[ "${r:-0}" -ge 1 ] && ok "tcp-none: $r refused connect() counted by the socket load balancer" ||
  not_ok "tcp-none: the refused connect() counted" "got: $r" "$(echo "$m" | grep -E 'tcp-none|refused')"
expect_eq "kernlet_agent_pods{phase=\"Running\"} on node 1" 1 "$(value kernlet_agent_pods 'phase="Running"')"

cluster_finish
