#!/usr/bin/env bash
# e2e: cluster DNS on a 2-node cluster (scripts/cluster up --nodes 2, whose agents run with
# --cluster-dns 169.254.20.10), from busybox pods on both nodes, through the pods' gateway:
#  - a ClusterFirst pod's /etc/resolv.conf: the cluster DNS, the search path, ndots:5; a
#    dnsPolicy None pod gets only its dnsConfig;
#  - nslookup <svc>.<ns>.svc.cluster.local resolves to the ClusterIP; the short name <svc>
#    resolves through the search path (busybox nslookup's and the C library's); a headless
#    service resolves to its pods' IPs, and <hostname>.<subdomain>.<ns>.svc... of a pod with
#    hostname/subdomain; SRV of a named port; PTR of the ClusterIP; an unknown name gets
#    NXDOMAIN.
# Name and port: KERNLET_E2E_DNS_NAME / KERNLET_E2E_DNS_PORT (default: derived from the pid
# and a free port). Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the DNS e2e test" ip nsenter python3
cluster_init "${KERNLET_E2E_DNS_NAME:-d$(($$ % 100000))}"
PORT=${KERNLET_E2E_DNS_PORT:-}
# jpk KIND NAME JSONPATH: a field of any object in the current namespace.
jpk() { k get "$1" "$2" -o "jsonpath=$3" 2>/dev/null; }

cluster_up 2
n1="$cname-node1"; n2="$cname-node2"

# Two web pods (one per node) behind a ClusterIP service and a headless one; web-a has
# hostname/subdomain, so it also answers as web-a.web-h.default.svc.cluster.local.
k apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
  "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-h"},
  "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080}]}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-a", "labels": {"app": "web"}},
  "spec": {"nodeName": "$n1", "hostname": "web-a", "subdomain": "web-h", "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                           "command": ["httpd", "-f", "-p", "8080"]}]}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-b", "labels": {"app": "web"}},
  "spec": {"nodeName": "$n2", "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                           "command": ["httpd", "-f", "-p", "8080"]}]}}
]}
JSON
if wait_until 90 phase_is web-a Running && wait_until 90 phase_is web-b Running; then
  ok "web pods Running on both nodes"
else
  not_ok "web pods Running on both nodes" "$(jpk pod web-a '{.status}')" "$(jpk pod web-b '{.status}')"
  fail_dump; finish
fi
ip_a=$(jpk pod web-a '{.status.podIP}'); ip_b=$(jpk pod web-b '{.status.podIP}')
vip=$(jpk service web '{.spec.clusterIP}')
# /etc/hosts, written once the pod has its address: the pod resolves its own name locally.
expect_contains "web-a's /etc/hosts: its IP, FQDN and hostname" \
  "$(printf '%s\t%s\t%s' "$ip_a" web-a.web-h.default.svc.cluster.local web-a)" "$(k exec web-a -- cat /etc/hosts 2>&1)"
expect_contains "web-b's /etc/hosts: its IP and hostname" \
  "$(printf '%s\t%s' "$ip_b" web-b)" "$(k exec web-b -- cat /etc/hosts 2>&1)"
ready_endpoints() {
  [ "$(k get endpointslices -l kubernetes.io/service-name=web-h \
    -o 'jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]} {end}' | wc -w)" -eq 2 ]
}
wait_until 60 ready_endpoints || not_ok "web-h has two ready endpoints" "$(k get endpointslices -o yaml 2>&1 | head -40)"

# The client: waits (30 s at most) until the cluster DNS knows the service, then asks.
probe='echo "== resolv"; cat /etc/resolv.conf
i=0; until nslookup web.default.svc.cluster.local >/dev/null 2>&1 || [ $i -ge 150 ]; do i=$((i+1)); sleep 0.2; done
echo "== fqdn"; nslookup web.default.svc.cluster.local
echo "== short"; nslookup web
echo "== headless"; nslookup web-h.default.svc.cluster.local
echo "== host"; nslookup web-a.web-h.default.svc.cluster.local
echo "== libc"; ping -c 1 -W 1 web 2>&1 | head -1
echo "== srv"; nslookup -type=SRV _http._tcp.web.default.svc.cluster.local
echo "== ptr"; nslookup '"$vip"'
echo "== unknown"; nslookup nope.default.svc.cluster.local
echo "== end"'
client_json() {  # client_json NAME NODE DNSPART
  cat <<JSON
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$1"},
 "spec": {"nodeName": "$2", "restartPolicy": "Never", "terminationGracePeriodSeconds": 1 $3,
          "containers": [{"name": "c", "image": "$BUSYBOX", "imagePullPolicy": "Never",
                          "command": ["sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$probe")]}]}}
JSON
}
client_json cli1 "$n1" "" | k apply -f - >/dev/null
client_json cli2 "$n2" "" | k apply -f - >/dev/null
client_json none1 "$n1" ', "dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.53"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"}]}' \
  | python3 -c 'import json,sys; p=json.load(sys.stdin); p["spec"]["containers"][0]["command"]=["cat","/etc/resolv.conf"]; print(json.dumps(p))' \
  | k apply -f - >/dev/null

# section LOG NAME: the lines of "== NAME" up to the next "==".
section() { awk -v s="== $2" '$0 == s { on = 1; next } /^== / { on = 0 } on' <<<"$1"; }
for c in cli1 cli2; do
  node=$n1; [ "$c" = cli2 ] && node=$n2
  if ! wait_until 90 phase_is "$c" Succeeded; then
    not_ok "$c on $node finished" "$(jpk pod "$c" '{.status}')" "$(k logs "$c" 2>&1 | tail -20)"
    continue
  fi
  log=$(k logs "$c" 2>&1)
  resolv=$(section "$log" resolv)
  expect_contains "$c: resolv.conf names the cluster DNS" "nameserver 169.254.20.10" "$resolv"
  expect_contains "$c: resolv.conf has the search path" "search default.svc.cluster.local svc.cluster.local cluster.local" "$resolv"
  expect_contains "$c: resolv.conf has ndots:5" "options ndots:5" "$resolv"
  expect_contains "$c: the FQDN resolves to the ClusterIP ($node)" "Address: $vip" "$(section "$log" fqdn)"
  expect_contains "$c: the short name resolves through the search path" "Address: $vip" "$(section "$log" short)"
  headless=$(section "$log" headless)
  expect_contains "$c: the headless service resolves to web-a's IP" "Address: $ip_a" "$headless"
  expect_contains "$c: the headless service resolves to web-b's IP" "Address: $ip_b" "$headless"
  expect_contains "$c: <hostname>.<subdomain>.<ns>.svc resolves to the pod" "Address: $ip_a" "$(section "$log" host)"
  expect_contains "$c: the C library's resolver finds the short name too (ndots:5, search)" "PING web ($vip)" "$(section "$log" libc)"
  expect_contains "$c: SRV of the named port" "0 100 80 web.default.svc.cluster.local" "$(section "$log" srv)"
  expect_contains "$c: PTR of the ClusterIP" "name = web.default.svc.cluster.local" "$(section "$log" ptr)"
  expect_contains "$c: an unknown name is NXDOMAIN" "NXDOMAIN" "$(section "$log" unknown)"
  expect_contains "$c: the probe ran to its end" "== end" "$log"
done
if wait_until 90 phase_is none1 Succeeded; then
  expect_eq "dnsPolicy None: only the dnsConfig" "nameserver 192.0.2.53
search example.test
options ndots:2" "$(k logs none1 2>&1)"
else
  not_ok "none1 finished" "$(jpk pod none1 '{.status}')"
fi
[ "$failures" -eq 0 ] || fail_dump
cluster_finish
