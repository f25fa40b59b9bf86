#!/usr/bin/env bash
# e2e: NodePort from outside the nodes on a 3-node cluster (scripts/cluster up --nodes 3; the
# agents run --service-proxy bpf --nodeport-interface eth0). An "outside host" is a network
# namespace of the test's own, klc-NAME-x, with a veth on the cluster's underlay bridge and an
# address of the underlay /24 (.200); it has no other link and no route out.
#  - backend pods (busybox httpd, a CGI answering REMOTE_ADDR) on node 1 (app=a) and node 2
#    (app=b), four NodePort services over them: a and b with externalTrafficPolicy Cluster,
#    a and b with Local;
#  - through node 1's address: Cluster + local backend -> the backend sees the client's
#    address; Cluster + remote backend -> it sees node 1's (SNAT, so the reply returns via
#    node 1); Local + local backend -> the client's address; Local without a local backend ->
#    no answer; through node 2's address, Local + its local backend -> the client's address;
#  - LoadBalancer services whose status names an ingress IP (routed to node 1 by the outside
#    host): allowed by loadBalancerSourceRanges -> answers, not allowed -> no answer; an
#    externalIP routed to node 1 answers.
# Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the NodePort e2e test" ip python3
cluster_init "${KERNLET_E2E_NODEPORT_NAME:-np}"
PORT=${KERNLET_E2E_NODEPORT_PORT:-6473}

# ---- up --------------------------------------------------------------------------------
cluster_up 3
n1="$cname-node1"; n2="$cname-node2"
i1=$(nip "$n1"); i2=$(nip "$n2")
[ -n "$i1" ] && [ -n "$i2" ] || { not_ok "node addresses known" "node1=$i1 node2=$i2"; fail_dump; finish; }

# ---- the outside host -------------------------------------------------------------------
outside_host

# ---- backends and services ---------------------------------------------------------------
www='mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" >/www/cgi-bin/ip && chmod +x /www/cgi-bin/ip'
pod_json() {  # pod_json NAME NODE APP
  python3 - "$@" "$BUSYBOX" "$www && exec httpd -f -p 8080 -h /www" <<'PY'
import json, sys
name, node, app, image, script = sys.argv[1:6]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
  "spec": {"nodeName": node, "restartPolicy": "Always", "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                           "command": ["sh", "-c", script],
                           "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}))
PY
}
svc_json() {  # svc_json NAME APP NODEPORT POLICY
  python3 - "$@" <<'PY'
import json, sys
name, app, node_port, policy = sys.argv[1:5]
print(json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
  "spec": {"type": "NodePort", "selector": {"app": app}, "externalTrafficPolicy": policy,
           "ports": [{"port": 80, "targetPort": 8080, "nodePort": int(node_port), "protocol": "TCP"}]}}))
PY
}
pod_json srv-a "$n1" a | k apply -f - >/dev/null
pod_json srv-b "$n2" b | k apply -f - >/dev/null
svc_json a-cluster a 30080 Cluster | k apply -f - >/dev/null
svc_json b-cluster b 30081 Cluster | k apply -f - >/dev/null
svc_json a-local a 30082 Local | k apply -f - >/dev/null
svc_json b-local b 30083 Local | k apply -f - >/dev/null
if wait_until 90 ready srv-a && wait_until 90 ready srv-b; then
  ok "backend pods Ready on node 1 and node 2"
else
  not_ok "backend pods Ready on node 1 and node 2" "srv-a: $(jp srv-a '{.status}')" "srv-b: $(jp srv-b '{.status}')"
  fail_dump; finish
fi
expect_eq "NodePorts as asked" "30080 30081 30082 30083" \
  "$(for s in a-cluster b-cluster a-local b-local; do k get svc "$s" -o 'jsonpath={.spec.ports[0].nodePort}'; echo; done | xargs)"

# ask NODE_IP PORT: what the backend answered the outside host (the address it saw), or ""
# (refused, timed out); never fails.
ask() {
  { ip netns exec "$outside" python3 - "$1" "$2" 2>/dev/null || true; } <<'PY' | sed 's/\[::ffff:\([0-9.]*\)\]/\1/g'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.sendall(b"GET /cgi-bin/ip HTTP/1.0\r\n\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode().strip().splitlines()[-1])
PY
}
answers() { [ "$(ask "$1" "$2")" = "$3" ]; }
check() {  # check NAME NODE_IP PORT WANT
  if wait_until 30 answers "$2" "$3" "$4"; then
    ok "$1"
  else
    not_ok "$1" "want: $4" "got: $(ask "$2" "$3")"
  fi
}

# ---- from outside ----------------------------------------------------------------------
check "Cluster, local backend: node1:30080 answers, the backend sees the client" "$i1" 30080 "$client"
check "Cluster, remote backend: node1:30081 answers, the backend sees node 1 (SNAT)" "$i1" 30081 "$i1"
check "Local, local backend: node1:30082 answers, the backend sees the client" "$i1" 30082 "$client"
check "Local on node 2, its local backend: node2:30083 sees the client" "$i2" 30083 "$client"
out=$(ask "$i1" 30083)
expect_eq "Local without a local backend: node1:30083 does not answer" "" "$out"
check "Cluster, remote backend through node 2: node2:30080 sees node 2" "$i2" 30080 "$i2"

# ---- LoadBalancer ingress IPs with loadBalancerSourceRanges, and externalIPs ----------------
# The outside host routes the addresses via node 1, as a load balancer or a router would.
lb_open=192.0.2.50; lb_closed=192.0.2.51; ext=192.0.2.60
for a in $lb_open $lb_closed $ext; do ip -n "$outside" route add "$a/32" via "$i1"; done
lb_json() {  # lb_json NAME APP NODEPORT RANGE
  python3 - "$@" <<'PY'
import json, sys
name, app, node_port, rng = sys.argv[1:5]
print(json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
  "spec": {"type": "LoadBalancer", "selector": {"app": app}, "loadBalancerSourceRanges": [rng],
           "ports": [{"port": 80, "targetPort": 8080, "nodePort": int(node_port), "protocol": "TCP"}]}}))
PY
}
lb_json lb-open b 30084 "$client/32" | k apply -f - >/dev/null
lb_json lb-closed b 30085 203.0.113.0/24 | k apply -f - >/dev/null
k patch svc lb-open --subresource=status --type=merge \
  -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$lb_open\"}]}}}" >/dev/null
k patch svc lb-closed --subresource=status --type=merge \
  -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$lb_closed\"}]}}}" >/dev/null
k patch svc a-cluster --type=merge -p "{\"spec\":{\"externalIPs\":[\"$ext\"]}}" >/dev/null
expect_eq "the LoadBalancer services carry their ingress IPs" "$lb_open $lb_closed" \
  "$(for s in lb-open lb-closed; do k get svc "$s" -o 'jsonpath={.status.loadBalancer.ingress[0].ip}'; echo; done | xargs)"
check "LoadBalancer IP, client inside loadBalancerSourceRanges: answers (remote backend, SNAT)" "$lb_open" 80 "$i1"
check "externalIP routed to node 1: answers, the local backend sees the client" "$ext" 80 "$client"
out=$(ask "$lb_closed" 80)
expect_eq "LoadBalancer IP, client outside loadBalancerSourceRanges: no answer" "" "$out"
# The nodePort of a LoadBalancer service is not filtered by its source ranges (as kube-proxy).
check "the nodePort of the filtered LoadBalancer service answers" "$i1" 30085 "$i1"

# Many connections in a row: fresh conntrack entries and SNAT ports each time.
bad=0
for n in $(seq 1 20); do [ "$(ask "$i1" 30081)" = "$i1" ] || bad=$((bad + 1)); done
expect_eq "20 connections through node 1 to the remote backend all answer" 0 "$bad"

cluster_finish
