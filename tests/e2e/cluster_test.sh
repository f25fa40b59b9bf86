#!/usr/bin/env bash
# e2e: a 3-node cluster on this machine (scripts/cluster up --nodes 3) with the real kubectl.
#  - pods pinned by nodeName: node 1 -> node 3 over TCP (busybox nc to a busybox httpd CGI
#    that answers with REMOTE_ADDR) and UDP (a datagram between the two pods' network
#    namespaces), a pod -> a pod on its own node, a pod -> itself by its IP; the source
#    address seen across nodes is the client pod's IP (no NAT on the way);
#  - host-gw routes: every node routes the others' podCIDRs; a Node added through the API
#    gets routes on every node and loses them when it is deleted;
#  - IPs are released when pods go: KERNLET_E2E_CLUSTER_PODS pods (default 500, in batches
#    of 50) run through one node's /24 (253 addresses), so a leak of one IP per pod fails;
#    the pool is whole afterwards;
#  - `scripts/cluster down` leaves no namespace, link, mount, cgroup or process behind.
# Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the cluster e2e test" ip nsenter python3
cluster_init "e$(($$ % 100000))"
pods_total=${KERNLET_E2E_CLUSTER_PODS:-500}
batch=50

# routes NODE_INDEX: the kernlet-owned routes of that node's namespace.
routes() { ip -n "$prefix-n$1" route show proto 107; }

# ---- up --------------------------------------------------------------------------------
cluster_up 3
n1="$cname-node1"; n2="$cname-node2"; n3="$cname-node3"
expect_eq "three nodes Ready" "True True True" \
  "$(k get nodes -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {end}' | sed 's/ $//')"

cidr() { k get node "$1" -o 'jsonpath={.spec.podCIDR}'; }
c1=$(cidr "$n1"); c2=$(cidr "$n2"); c3=$(cidr "$n3")
i2=$(nip "$n2"); i3=$(nip "$n3")
expect_eq "each node has its own podCIDR" 3 "$(printf '%s\n' "$c1" "$c2" "$c3" | grep -c . | tr -d ' ')"
want_routes_1=$(printf '%s via %s dev eth0 \n%s via %s dev eth0 \n' "$c2" "$i2" "$c3" "$i3" | sort)
if wait_until 30 test "$(routes 1 | sort)" = "$want_routes_1"; then
  ok "node 1 routes the other nodes' podCIDRs via their addresses"
else
  not_ok "node 1 routes the other nodes' podCIDRs via their addresses" "want: $want_routes_1" "got: $(routes 1)"
fi
if wait_until 30 sh -c "[ \$(ip -n $prefix-n2 route show proto 107 | wc -l) -eq 2 ] && [ \$(ip -n $prefix-n3 route show proto 107 | wc -l) -eq 2 ]"; then
  ok "nodes 2 and 3 have two routes each"
else
  not_ok "nodes 2 and 3 have two routes each" "$(routes 2)" "$(routes 3)"
fi
expect_eq "no default route in a node" "" "$(ip -n "$prefix-n1" route show default)"

# ---- pod to pod ------------------------------------------------------------------------
# srv: a busybox httpd whose CGI answers with the client's address (REMOTE_ADDR).
www='mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" >/www/cgi-bin/ip && chmod +x /www/cgi-bin/ip'
pod_json() {  # pod_json NAME NODE RESTART SCRIPT
  python3 - "$@" "$BUSYBOX" <<'PY'
import json, sys
name, node, restart, script, image = sys.argv[1:6]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"e2e": "cluster"}},
  "spec": {"nodeName": node, "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                           "command": ["sh", "-c", script]}]}}))
PY
}
pod_json srv1 "$n1" Always "$www && exec httpd -f -p 8080 -h /www" | k apply -f - >/dev/null
pod_json srv3 "$n3" Always "$www && exec httpd -f -p 8080 -h /www" | k apply -f - >/dev/null
if wait_until 90 phase_is srv1 Running && wait_until 90 phase_is srv3 Running; then
  ok "server pods Running on node 1 and node 3"
else
  not_ok "server pods Running on node 1 and node 3" "srv1: $(jp srv1 '{.status}')" "srv3: $(jp srv3 '{.status}')"
  fail_dump; finish
fi
ip_srv1=$(jp srv1 '{.status.podIP}'); ip_srv3=$(jp srv3 '{.status.podIP}')
expect_eq "srv1's IP is in node 1's podCIDR" "$c1" "$(python3 -c "import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1]+'/'+sys.argv[2].split('/')[1], strict=False))" "$ip_srv1" "$c1")"
expect_eq "srv3's IP is in node 3's podCIDR" "$c3" "$(python3 -c "import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1]+'/'+sys.argv[2].split('/')[1], strict=False))" "$ip_srv3" "$c3")"

# cli on node 1: node 3's server, node 1's server, and its own httpd by its own IP; each
# answer is the source address the server saw.
cli_script="$www && httpd -p 8080 -h /www && me=\$(ip -4 -o addr show eth0 | awk '{print \$4}' | cut -d/ -f1) && \
for t in cross:$ip_srv3 same:$ip_srv1 self:\$me; do \
  a=\$(printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | nc -w 5 \${t#*:} 8080 | tail -1) || a=failed; echo \"\${t%%:*}=\$a\"; done"
pod_json cli "$n1" Never "$cli_script" | k apply -f - >/dev/null
wait_until 90 phase_is cli Succeeded || not_ok "client pod finished" "$(jp cli '{.status}')"
ip_cli=$(jp cli '{.status.podIP}')
# busybox httpd listens on an IPv6 socket: REMOTE_ADDR comes as [::ffff:a.b.c.d].
out=$(k logs cli 2>&1 | sed 's/\[::ffff:\([0-9.]*\)\]/\1/g')
expect_contains "TCP node 1 -> node 3 pod, source is the pod IP (no NAT)" "cross=$ip_cli" "$out"
expect_contains "TCP pod -> pod on its own node" "same=$ip_cli" "$out"
expect_contains "TCP pod -> itself by its IP" "self=$ip_cli" "$out"
[ -n "$ip_cli" ] || not_ok "the client pod had an IP" "$(jp cli '{.status}')"

# UDP between srv1 (node 1) and srv3 (node 3), inside their network namespaces.
p1=$(pod_pid srv1); p3=$(pod_pid srv3)
if [ -n "$p1" ] && [ -n "$p3" ]; then
  nsenter --net="/proc/$p3/ns/net" timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9090))
open("'"$workdir"'/udp.bound", "w").close()
d, a = s.recvfrom(100)
s.sendto(a[0].encode(), a)
print(a[0], d.decode())' >"$workdir/udp.server" 2>&1 &
  udp_pid=$!
  wait_until 10 test -f "$workdir/udp.bound"
  got=$(nsenter --net="/proc/$p1/ns/net" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"ping", (sys.argv[1], 9090))
print(s.recv(100).decode())' "$ip_srv3" 2>&1) || true
  wait "$udp_pid" 2>/dev/null || true
  expect_eq "UDP node 1 pod -> node 3 pod, reply seen from the pod IP" "$ip_srv1" "$got"
  expect_eq "UDP source seen on node 3 is node 1's pod IP" "$ip_srv1 ping" "$(cat "$workdir/udp.server")"
else
  not_ok "found the server pods' processes" "srv1: $p1" "srv3: $p3"
fi
# Outside the cluster: no route (the node has none), so nothing leaves the machine.
if [ -n "$p1" ]; then
  out=$(nsenter --net="/proc/$p1/ns/net" timeout 5 python3 -c '
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("192.0.2.200", 9))
    print("connected")
except OSError as e:
    print(e.strerror)' 2>&1)
  expect_eq "pod -> outside the cluster has no route" "Network is unreachable" "$out"
fi

# ---- a Node deleted from the API loses its routes everywhere ----------------------------
subnet=$(awk '$1 == "subnet" { print $2 }' "$data/state" | cut -d. -f1-3)
k create -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "$cname-ghost"}}
JSON
wait_until 20 test -n "$(cidr "$cname-ghost")"
cg=$(cidr "$cname-ghost")
k patch node "$cname-ghost" --subresource=status --type=merge \
  -p "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$subnet.99\"}]}}" >/dev/null
has_ghost() { for n in 1 2 3; do routes "$n" | grep -qF "$cg via $subnet.99" || return 1; done; }
no_ghost() { for n in 1 2 3; do ! routes "$n" | grep -qF "$cg" || return 1; done; }
if [ -n "$cg" ] && wait_until 30 has_ghost; then
  ok "a new Node's podCIDR is routed on every node"
else
  not_ok "a new Node's podCIDR is routed on every node" "ghost cidr: $cg" "$(routes 1)"
fi
k delete node "$cname-ghost" >/dev/null
if wait_until 30 no_ghost; then
  ok "a deleted Node's route is removed on every node"
else
  not_ok "a deleted Node's route is removed on every node" "$(routes 1)"
fi
expect_eq "the other routes stay" "$want_routes_1" "$(routes 1 | sort)"

# ---- IPs are released when pods go ----------------------------------------------------
k delete pod cli --grace-period=0 --force >/dev/null 2>&1 || true
made=0
b=0
start=$SECONDS
release_ok=1
while [ "$made" -lt "$pods_total" ]; do
  b=$((b + 1))
  count=$batch
  [ $((pods_total - made)) -lt "$count" ] && count=$((pods_total - made))
  python3 - "$b" "$count" "$n2" "$BUSYBOX" >"$workdir/batch.json" <<'PY'
import json, sys
b, count, node, image = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
items = [{"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": f"ip-{b}-{i}", "labels": {"e2e": "ips", "batch": b}},
          "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                   "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                                   "command": ["sh", "-c", "ip -4 -o addr show eth0 | grep -q inet"]}]}}
         for i in range(count)]
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
  k create -f "$workdir/batch.json" >/dev/null
  done_batch() {
    [ "$(k get pods -l "batch=$1" -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' | grep -c Succeeded)" -eq "$2" ]
  }
  if ! wait_until 180 done_batch "$b" "$count"; then
    release_ok=0
    not_ok "batch $b: $count pods Succeeded on node 2 (after $made pods)" \
      "$(k get pods -l "batch=$b" -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.message}{"\n"}{end}' | grep -v Succeeded | head -5)"
    break
  fi
  k delete pods -l "batch=$b" --wait=false >/dev/null
  made=$((made + count))
done
gone() { [ -z "$(k get pods -l e2e=ips -o name)" ]; }
wait_until 180 gone || not_ok "every IP pod deleted" "$(k get pods -l e2e=ips -o name | wc -l) left"
if [ "$release_ok" -eq 1 ]; then
  ok "$pods_total pods ran through node 2's /24 in $((SECONDS - start))s (each got an address; none leaked)"
fi
# The pool is whole: nothing is held but what live pods on node 2 hold (none).
# (kernlet-cni keeps one file per claimed address, <data>/<network>/ips/<a.b.c.d>, and so
# does host-local: the check looks at the store the pods really used, never an empty dir.)
if [ -n "$(find "$data/node2/cni/data" -type d -name ips 2>/dev/null)" ] || [ "$(ls -A "$data/node2/cni/data" 2>/dev/null)" ]; then
  ok "node 2's address store exists"
else
  not_ok "node 2's address store exists" "$(find "$data/node2" -maxdepth 3 2>/dev/null | head)"
fi
left=$(find "$data/node2/cni/data" -type f 2>/dev/null | grep -E '/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || true)
expect_eq "no address is still reserved on node 2" "" "$left"
pod_json after "$n2" Never "ip -4 -o addr show eth0" | k apply -f - >/dev/null
if wait_until 60 phase_is after Succeeded; then ok "a pod still gets an address on node 2 afterwards"; else
  not_ok "a pod still gets an address on node 2 afterwards" "$(jp after '{.status}')"; fi

# ---- a pod that goes away while its node's agent is down ------------------------------
# The agent is killed (its pods keep running), the pod object is force-deleted, the agent
# comes back: it must tear the sandbox down and run CNI DEL from the cached result (the
# network config may not even say the same thing any more), so the address is free again.
pod_json orphan "$n2" Always "exec sleep 3600" | k apply -f - >/dev/null
if wait_until 60 phase_is orphan Running; then
  orphan_uid=$(jp orphan '{.metadata.uid}'); orphan_ip=$(jp orphan '{.status.podIP}')
  held() { find "$data/node2/cni/data" -type f -name "$orphan_ip" 2>/dev/null | grep -q .; }
  expect_eq "the pod's address $orphan_ip is reserved on node 2" yes "$(held && echo yes || echo no)"
  a2=$(agent_pid 2)
  kill -KILL "$a2"
  agent_gone() { ! kill -0 "$a2" 2>/dev/null; }
  wait_until 10 agent_gone || not_ok "node 2's agent died on SIGKILL" "pid $a2"
  k delete pod orphan --grace-period=0 --force >/dev/null 2>&1
  still_runs=$(kl_pod_pid "$cgbase" "$orphan_uid")
  expect_eq "with its agent down, the deleted pod still runs" yes "$([ -n "$still_runs" ] && echo yes || echo no)"
  if "$repo/scripts/cluster" start-agent --node 2 --name "$cname" --data "$data" >"$workdir/start2.log" 2>&1; then
    ok "node 2's agent restarted"
  else
    not_ok "node 2's agent restarted" "$(cat "$workdir/start2.log")"
  fi
  torn_down() { ! held && [ -z "$(kl_pod_pid "$cgbase" "$orphan_uid")" ]; }
  if wait_until 60 torn_down; then
    ok "the restarted agent stopped the pod and released its address (CNI DEL from the cache)"
  else
    not_ok "the restarted agent stopped the pod and released its address (CNI DEL from the cache)" \
      "held: $(held && echo yes || echo no), process: $(kl_pod_pid "$cgbase" "$orphan_uid")" \
      "$(grep -v ' I ' "$data/node2.log" | tail -10)"
  fi
else
  not_ok "pod orphan Running on node 2" "$(jp orphan '{.status}')"
fi

# ---- down -----------------------------------------------------------------------------
[ "$failures" -eq 0 ] || fail_dump
if "$repo/scripts/cluster" down --name "$cname" --data "$data" >"$workdir/down.log" 2>&1; then
  ok "scripts/cluster down"
else
  not_ok "scripts/cluster down" "$(cat "$workdir/down.log")"
fi
expect_eq "no namespace left" "" "$(ip netns list | grep "^$prefix-" || true)"
expect_eq "no host link left" "" "$(ip -br link show | grep "^$prefix" || true)"
expect_eq "no mount left under the data dir" "" "$(grep -F " $data/" /proc/self/mountinfo || true)"
expect_eq "no cgroup left" "" "$(ls -d "$cgbase" 2>/dev/null || true)"
# (The data dir goes through the environment: a command line naming it would match itself.)
expect_eq "no process left" "" "$(D="$data" python3 -c '
import os
for p in os.listdir("/proc"):
    try:
        if p.isdigit() and os.environ["D"].encode() in open(f"/proc/{p}/cmdline", "rb").read():
            print(p)
    except OSError:
        pass')"
finish
