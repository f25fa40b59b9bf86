#!/usr/bin/env bash
# e2e: Service load balancing (ClusterIP) by the agents' eBPF socket load balancer on a
# 3-node cluster (scripts/cluster up --nodes 3, agents with --service-proxy bpf), with the
# real kubectl and busybox pods:
#  - ClusterIPs come from a range nothing routes: the VIP is not routed in a node, and from
#    a pod's namespace outside the balanced cgroup it does not connect; the balancer sits on
#    each node's pod cgroup, not on the hierarchy's root;
#  - a 3-replica Deployment, `kubectl expose`d: 300 connections from a client pod land on
#    all three backends (each answers with its pod name);
#  - UDP through a VIP, connected (getpeername shows the VIP) and unconnected (recvfrom's
#    source is the VIP);
#  - named targetPort resolved per endpoint (two pods whose port "http" has two numbers);
#  - hairpin: a pod reaches itself through its own Service;
#  - sessionAffinity ClientIP: every connection of one pod lands on one backend;
#  - a backend pod deleted while a client holds a connection to it: the connection ends
#    within 1 s and new connections go elsewhere; a backend taken out of the Service while
#    it still runs (label removed): the balancer destroys the held socket within 1 s;
#  - kill -9 of the client node's agent during a connection loop, and its restart by
#    `scripts/cluster start-agent`: no connection fails (pinned maps and links);
#  - scale to 0: connect() to the VIP is refused at once (ECONNREFUSED, milliseconds);
#  - `scripts/cluster down` removes the pinned maps and links.
# Clients that need a socket API busybox lacks (UDP, timing) run tools/service_client.py in
# the client pod's network namespace and in a cgroup below its node's pod subtree, so the
# node's balancer treats them exactly as the pod's own processes.
# Everything is removed on exit, also when a check fails.
source "$(dirname "$0")/cluster_lib.sh"
cluster_require "the service e2e test (it also loads BPF)" ip nsenter python3 bpftool timeout
cluster_init "${KERNLET_E2E_SVC_CLUSTER:-v$(($$ % 100000))}"
PORT=${KERNLET_E2E_SVC_PORT:-}
client="$repo/tests/e2e/tools/service_client.py"

vip() { k get service "$1" -o 'jsonpath={.spec.clusterIP}'; }

# in_pod POD TIMEOUT ARGS...: service_client.py ARGS in POD's network namespace, in a cgroup
# below POD's node's pod subtree (the balancer applies), killed after TIMEOUT seconds.
in_pod() {
  local pod=$1 t=$2 pid cgc; shift 2
  pid=$(pod_pid "$pod")
  [ -n "$pid" ] || { echo "ERR no process of pod $pod"; return 0; }
  cgc="$cgbase/n$(node_index "$pod")/pods/e2e-client"
  mkdir -p "$cgc"
  timeout -s KILL "$t" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cgc" \
    nsenter --net="/proc/$pid/ns/net" python3 "$client" "$@" || true
}
# beside_pod POD TIMEOUT ARGS...: the same in POD's namespace but outside the pod subtree.
beside_pod() {
  local pod=$1 t=$2 pid; shift 2
  pid=$(pod_pid "$pod")
  timeout -s KILL "$t" nsenter --net="/proc/$pid/ns/net" python3 "$client" "$@" || true
}
names() { awk '{ print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# ---- up --------------------------------------------------------------------------------
cluster_up 3
n1="$cname-node1"
pin_root=$(state pin_root)

# The balancer is on each node's pod subtree, never on the hierarchy's root.
for i in 1 2 3; do
  if wait_until 30 sh -c "bpftool cgroup show '$cgbase/n$i/pods' | grep -q kl_lb4_connect"; then
    ok "node $i: the socket LB is attached to its pod cgroup"
  else
    not_ok "node $i: the socket LB is attached to its pod cgroup" "$(bpftool cgroup show "$cgbase/n$i/pods" 2>&1)"
  fi
done
expect_eq "nothing of ours on the cgroup v2 root" "" \
  "$(bpftool cgroup show "$(kl_cgroup2_mount)" 2>/dev/null | grep kl_lb || true)"
expect_eq "node 1 pins 8 cgroup links" 8 "$(ls "$pin_root/$prefix-n1/links_v1" 2>/dev/null | wc -l | tr -d ' ')"

# ---- the backends ------------------------------------------------------------------------
# web: httpd on "http" (8080) whose CGI answers "<pod name> <client address>", and a
# persistent nc on "hold" (7000) that sends the pod name and then echoes.
server_script='mkdir -p /www/cgi-bin
printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$(hostname) \$REMOTE_ADDR\n" >/www/cgi-bin/who
chmod +x /www/cgi-bin/who
httpd -p ${HTTP_PORT:-8080} -h /www
exec nc -ll -p 7000 -e /bin/sh -c "hostname; exec cat"'
manifest() {  # manifest KIND NAME [nodeName] [http port] [labels JSON]
  python3 - "$@" "$BUSYBOX" "$server_script" <<'PY'
import json, sys
kind, name, node, http, labels, image, script = sys.argv[1:8]
labels = json.loads(labels)
container = {"name": "srv", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", script],
             "env": [{"name": "HTTP_PORT", "value": http}],
             "ports": [{"name": "http", "containerPort": int(http)},
                       {"name": "hold", "containerPort": 7000},
                       {"name": "udp", "containerPort": 9090, "protocol": "UDP"}],
             "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}
spec = {"terminationGracePeriodSeconds": 1, "containers": [container]}
if node:
    spec["nodeName"] = node
if kind == "Deployment":
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": spec}}}
else:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": spec}
print(json.dumps(obj))
PY
}
manifest Deployment web "" 8080 '{"app":"web"}' | k apply -f - >/dev/null
manifest Pod mixed-a "$cname-node2" 8080 '{"role":"mixed"}' | k apply -f - >/dev/null
manifest Pod mixed-b "$cname-node3" 8081 '{"role":"mixed"}' | k apply -f - >/dev/null
web_ready() { [ "$(k get deployment web -o 'jsonpath={.status.readyReplicas}')" = 3 ]; }
if wait_until 120 web_ready; then ok "deployment web: 3 replicas ready"; else
  not_ok "deployment web: 3 replicas ready" "$(k get pods -o wide 2>&1)"; fail_dump; finish; fi
web_pods=$(k get pods -l app=web -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
echo "#    web pods on nodes: $(k get pods -l app=web -o 'jsonpath={range .items[*]}{.spec.nodeName} {end}')"

k expose deployment web --port 80 --target-port http >/dev/null
k expose deployment web --name web-hold --port 7000 --target-port hold >/dev/null
k expose deployment web --name web-udp --port 53 --target-port udp --protocol UDP >/dev/null
k expose deployment web --name web-sticky --port 80 --target-port http --session-affinity ClientIP >/dev/null
k expose pod mixed-a --name mixed --port 80 --target-port http --selector role=mixed >/dev/null
# hair: the only backend of its Service, and its own client (created once the VIP exists).
k create service clusterip hair --tcp=80:8080 >/dev/null
v_web=$(vip web); v_hold=$(vip web-hold); v_udp=$(vip web-udp); v_sticky=$(vip web-sticky)
v_mixed=$(vip mixed); v_hair=$(vip hair)
in_cidr=$(python3 -c 'import ipaddress, sys; n = ipaddress.ip_network("10.96.0.0/12")
print(all(ipaddress.ip_address(a) in n for a in sys.argv[1:]))' "$v_web" "$v_hold" "$v_udp" "$v_sticky" "$v_mixed" "$v_hair")
expect_eq "ClusterIPs come from the service CIDR 10.96.0.0/12" True "$in_cidr"
if ip -n "$prefix-n1" route get "$v_web" >/dev/null 2>&1; then
  not_ok "a node has no route to a ClusterIP" "$(ip -n "$prefix-n1" route get "$v_web")"
else
  ok "a node has no route to a ClusterIP"
fi

# ---- 300 connections from a client pod ---------------------------------------------------
# Ten loops of 30 at once: busybox nc and the CGI fork a few processes per connection.
cli_script="echo START \$(date +%s); for j in 0 1 2 3 4 5 6 7 8 9; do (i=0; while [ \$i -lt 30 ]; do printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $v_web 80 | tail -1; i=\$((i + 1)); done) & done; wait; echo DONE \$(date +%s); exec sleep 3600"
python3 - "$n1" "$BUSYBOX" "$cli_script" <<'PY' | k apply -f - >/dev/null
import json, sys
node, image, script = sys.argv[1:4]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cli"},
  "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
           "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", script]}]}}))
PY
cli_done() { k logs cli 2>/dev/null | grep -q '^DONE '; }
t0=$SECONDS
if wait_until 120 cli_done; then
  took_all=$((SECONDS - t0))
  answers=$(k logs cli)
  took=$(($(echo "$answers" | awk '/^DONE / { print $2 }') - $(echo "$answers" | awk '/^START / { print $2 }')))
  expect_eq "300 connections to the ClusterIP answered" 300 "$(echo "$answers" | grep -c '^web-' || true)"
  expect_eq "the 300 connections reached all three backends (${took}s in the pod, ${took_all}s with its start)" "$(echo "$web_pods" | tr '\n' ' ' | sed 's/ $//')" \
    "$(echo "$answers" | grep '^web-' | names)"
  echo "#    per backend: $(echo "$answers" | awk '/^web-/ { print $1 }' | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
else
  not_ok "the client pod made 300 connections" "$(k logs cli 2>&1 | tail -5)" "$(jp cli '{.status}')"
  fail_dump; echo "#    total ${SECONDS}s"
finish
fi
ip_cli=$(jp cli '{.status.podIP}')
out=$(beside_pod cli 10 refused "$v_web" 80 1)
case "$out" in
  CONNECTED*) not_ok "outside the balanced cgroup the VIP does not connect (nothing routes it)" "$out" ;;
  *) ok "outside the balanced cgroup the VIP does not connect (nothing routes it): ${out% *}" ;;
esac

# ---- UDP ---------------------------------------------------------------------------------
for p in $web_pods; do
  pid=$(pod_pid "$p")
  nsenter --net="/proc/$pid/ns/net" python3 "$client" udp-server 9090 "$p" "$workdir/udp.$p" >/dev/null 2>&1 &
  bg_pids+=("$!")
done
udp_up() { for p in $web_pods; do [ -f "$workdir/udp.$p" ] || return 1; done; }
wait_until 60 udp_up || not_ok "UDP servers bound in the web pods" "$(ls "$workdir")"
out=$(in_pod cli 60 udp-connected "$v_udp" 53 30)
expect_eq "connected UDP through the VIP: 30 answers, getpeername is the VIP" 30 \
  "$(echo "$out" | grep -c "^web-.* peer=$v_udp:53\$" || true)"
[ "$(echo "$out" | grep '^web-' | names | wc -w)" -ge 2 ] && ok "connected UDP sockets spread over backends" ||
  not_ok "connected UDP sockets spread over backends" "$out"
out=$(in_pod cli 60 udp-unconnected "$v_udp" 53 30)
expect_eq "unconnected UDP through the VIP: 30 answers, each from the VIP" 30 \
  "$(echo "$out" | grep -c "^web-.* from=$v_udp:53\$" || true)"
[ "$(echo "$out" | grep '^web-' | names | wc -w)" -ge 2 ] && ok "unconnected UDP datagrams spread over backends" ||
  not_ok "unconnected UDP datagrams spread over backends" "$out"

# ---- named targetPort, per endpoint ------------------------------------------------------
mixed_ready() { phase_is mixed-a Running && phase_is mixed-b Running &&
  [ "$(k get endpointslices -l kubernetes.io/service-name=mixed -o 'jsonpath={range .items[*].endpoints[*]}{.conditions.ready} {end}')" = "true true " ]; }
wait_until 60 mixed_ready || not_ok "mixed-a and mixed-b ready" "$(k get pods mixed-a mixed-b 2>&1)"
expect_eq "the Service mixed resolves port http per endpoint (8080 and 8081)" "8080 8081" \
  "$(k get endpointslices -l kubernetes.io/service-name=mixed -o 'jsonpath={range .items[*]}{.ports[0].port} {end}' | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ' | sed 's/ $//')"
out=$(in_pod cli 60 tcp "$v_mixed" 80 30)
expect_eq "named targetPort: 30 connections reach both mixed-a (8080) and mixed-b (8081)" "mixed-a mixed-b" \
  "$(echo "$out" | grep '^mixed-' | names)"

# ---- hairpin -------------------------------------------------------------------------------
hair_script="$server_script"
hair_script=${hair_script%exec nc*}"i=0; while [ \$i -lt 100 ]; do a=\$(printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $v_hair 80 | tail -1); [ -n \"\$a\" ] && break; i=\$((i + 1)); sleep 0.2; done; echo \"hairpin=\$a\"; exec sleep 3600"
python3 - "$cname-node2" "$BUSYBOX" "$hair_script" <<'PY' | k apply -f - >/dev/null
import json, sys
node, image, script = sys.argv[1:4]
print(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hair", "labels": {"app": "hair"}},
  "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
           "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never", "command": ["sh", "-c", script],
                           "ports": [{"containerPort": 8080}]}]}}))
PY
k patch service hair -p '{"spec":{"selector":{"app":"hair"}}}' >/dev/null
hair_done() { k logs hair 2>/dev/null | grep -q '^hairpin='; }
if wait_until 60 hair_done; then
  ip_hair=$(jp hair '{.status.podIP}')
  got=$(k logs hair | sed -n 's/^hairpin=//p' | sed 's/::ffff://; s/\[//; s/\]//')
  expect_eq "hairpin: a pod reaches itself through its own Service (answer from itself, source its own IP)" \
    "hair $ip_hair" "$got"
else
  not_ok "hairpin: a pod reaches itself through its own Service" "$(k logs hair 2>&1 | tail -3)" "$(jp hair '{.status}')"
fi

# ---- sessionAffinity ClientIP ---------------------------------------------------------
out=$(in_pod cli 60 tcp "$v_sticky" 80 40)
expect_eq "ClientIP affinity: 40 connections answered" 40 "$(echo "$out" | grep -c '^web-' || true)"
expect_eq "ClientIP affinity: all 40 land on one backend" 1 "$(echo "$out" | grep '^web-' | names | wc -w | tr -d ' ')"
out=$(in_pod cli 60 tcp "$v_web" 80 40)
[ "$(echo "$out" | grep '^web-' | names | wc -w)" -ge 2 ] && ok "without affinity the same pod reaches several backends" ||
  not_ok "without affinity the same pod reaches several backends" "$out"

# ---- a backend goes away under a held connection ----------------------------------------
# hold_then ACTION...: holds a connection through web-hold, runs ACTION with the backend's
# name appended, and prints "<backend> ended <ms> <reason>" for the held connection.
hold_then() {
  local f="$workdir/hold.out" go="$workdir/hold.go" p victim
  rm -f "$f" "$go"
  in_pod cli 60 hold "$v_hold" 7000 "$go" >"$f" &
  p=$!
  wait_until 30 test -s "$f" || { echo "none ended never: no first line"; kill -KILL "$p" 2>/dev/null; return; }
  victim=$(head -1 "$f" | cut -d' ' -f1)
  touch "$go"  # the clock starts before the action: kubectl's own time counts
  "$@" "$victim"
  local deadline=$((SECONDS + 20))
  while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  echo "$victim $(sed -n 2p "$f")"
}
# The actions go to the API with curl: kubectl's own start-up (a few hundred ms on a busy
# machine) would count against the 1 s otherwise.
api() {
  local method=$1 path=$2 pki=$data/control/pki; shift 2
  curl -sS -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    -X "$method" "https://$(state listen)$path" "$@"
}
force_delete() {
  api DELETE "/api/v1/namespaces/default/pods/$1" -H 'Content-Type: application/json' -d '{"gracePeriodSeconds":0}' >/dev/null
}
read -r victim _ ms reason <<<"$(hold_then force_delete)"
if [[ "$victim" == web-* ]] && [[ "$ms" =~ ^[0-9]+$ ]] && [ "$ms" -le 1000 ]; then
  ok "a deleted backend's held connection ends within 1 s (${ms} ms, $reason)"
else
  not_ok "a deleted backend's held connection ends within 1 s" "backend $victim: ended $ms $reason"
fi
out=$(in_pod cli 60 tcp "$v_web" 80 30)
expect_eq "after the delete: 30 new connections answered" 30 "$(echo "$out" | grep -c '^web-' || true)"
expect_eq "after the delete: none reaches the deleted pod" 0 "$(echo "$out" | grep -c "^$victim " || true)"

unlabel() {
  api PATCH "/api/v1/namespaces/default/pods/$1" -H 'Content-Type: application/merge-patch+json' \
    -d '{"metadata":{"labels":{"app":null}}}' >/dev/null
}
read -r victim2 _ ms reason <<<"$(hold_then unlabel)"
if [[ "$victim2" == web-* ]] && [[ "$ms" =~ ^[0-9]+$ ]] && [ "$ms" -le 1000 ] && [ "$reason" != EOF ]; then
  ok "a backend taken out of its Service (still running): the held socket is destroyed within 1 s (${ms} ms, $reason)"
else
  not_ok "a backend taken out of its Service (still running): the held socket is destroyed within 1 s" \
    "backend $victim2: ended $ms $reason"
fi
phase_is "$victim2" Running && ok "the unlabelled pod still runs" || not_ok "the unlabelled pod still runs" "$(jp "$victim2" '{.status.phase}')"
[ -n "$victim2" ] && force_delete "$victim2"
wait_until 60 web_ready || not_ok "web back to 3 ready replicas" "$(k get pods -o wide 2>&1)"

# ---- kill -9 of the client node's agent during a connection loop ------------------------
stop="$workdir/loop.stop"
rm -f "$stop"
in_pod cli 200 loop "$v_web" 80 "$stop" >"$workdir/loop.out" &
loop_pid=$!
bg_pids+=("$loop_pid")
sleep 1  # connections before the kill
old=$(agent_pid 1)
kill -KILL "$old"
wait_until 5 sh -c "! kill -0 $old" || not_ok "node 1's agent died" "pid $old"
expect_eq "agent dead: its 8 cgroup links stay pinned" 8 "$(ls "$pin_root/$prefix-n1/links_v1" | wc -l | tr -d ' ')"
attached=$(bpftool cgroup show "$cgbase/n1/pods" 2>&1 || true)
case "$attached" in
  *kl_lb4_connect*) ok "agent dead: the programs stay attached" ;;
  *) not_ok "agent dead: the programs stay attached" "$attached" ;;
esac
out=$(in_pod cli 60 tcp "$v_web" 80 10)
expect_eq "agent dead: 10 new connections through the VIP answered" 10 "$(echo "$out" | grep -c '^web-' || true)"
synced_before=$(grep -c 'service proxy: synced' "$data/node1.log" || true)
if "$repo/scripts/cluster" start-agent --name "$cname" --data "$data" --node 1 >"$workdir/restart.log" 2>&1; then
  ok "scripts/cluster start-agent --node 1"
else
  not_ok "scripts/cluster start-agent --node 1" "$(cat "$workdir/restart.log")"
fi
proxy_synced() { [ "$(grep -c 'service proxy: synced' "$data/node1.log")" -gt "$synced_before" ]; }
wait_until 30 proxy_synced && ok "the restarted agent's service proxy synced" ||
  not_ok "the restarted agent's service proxy synced" "$(tail -5 "$data/node1.log")"
sleep 2  # connections after the restart
touch "$stop"
wait_until 20 sh -c "! kill -0 $loop_pid"
out=$(cat "$workdir/loop.out")
if [[ "$out" =~ ^ok=([0-9]+)\ fail=0 ]] && [ "${BASH_REMATCH[1]}" -ge 10 ]; then
  ok "agent kill -9 and restart during a connection loop: no connection failed ($out)"
else
  not_ok "agent kill -9 and restart during a connection loop: no connection failed" "$out"
fi
expect_eq "the restarted agent reuses the 8 pinned links" 8 "$(ls "$pin_root/$prefix-n1/links_v1" | wc -l | tr -d ' ')"

# ---- scale to 0: refused at once ---------------------------------------------------------
k scale deployment web --replicas=0 >/dev/null
no_endpoints() { [ -z "$(k get endpointslices -l kubernetes.io/service-name=web -o 'jsonpath={.items[*].endpoints[*].addresses[*]}')" ]; }
wait_until 60 no_endpoints || not_ok "web has no endpoints after scale to 0" "$(k get endpointslices -o wide 2>&1)"
refused() { in_pod cli 10 refused "$v_web" 80 1 | grep -q '^ECONNREFUSED '; }
wait_until 20 refused || not_ok "connect to the VIP refused after scale to 0" "$(in_pod cli 10 refused "$v_web" 80 1)"
out=$(in_pod cli 30 refused "$v_web" 80 20)
expect_eq "scale to 0: 20 connects to the VIP fail with ECONNREFUSED" 20 "$(echo "$out" | grep -c '^ECONNREFUSED ' || true)"
slowest=$(echo "$out" | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 50 else 1)" "$slowest"; then
  ok "scale to 0: refused at once (slowest of 20: $slowest ms)"
else
  not_ok "scale to 0: refused at once (< 50 ms)" "slowest: $slowest ms"
fi

# ---- down -------------------------------------------------------------------------------
for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
bg_pids=()
[ "$failures" -eq 0 ] || fail_dump
if "$repo/scripts/cluster" down --name "$cname" --data "$data" >"$workdir/down.log" 2>&1; then
  ok "scripts/cluster down"
else
  not_ok "scripts/cluster down" "$(cat "$workdir/down.log")"
fi
expect_eq "no pinned maps or links left" "" "$(ls -d "$pin_root/$prefix-n"* 2>/dev/null || true)"
expect_eq "no namespace left" "" "$(ip netns list | grep "^$prefix-" || true)"
expect_eq "no cgroup left" "" "$(ls -d "$cgbase" 2>/dev/null || true)"
expect_eq "no mount left under the data dir" "" "$(grep -F " $data/" /proc/self/mountinfo || true)"
echo "#    total ${SECONDS}s"
finish
