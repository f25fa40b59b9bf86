#!/usr/bin/env bash
# kubectl logs through kernlet-control's pods/log proxy to a real kubelet API server
# (agent/server, run by tools/test_kubelet.cc over CRI log files): node credentials from
# `kernlet-control node-credentials`, TLS both ways with the cluster CA, --tail,
# --timestamps, -f that streams growth and ends when the container stops or kubectl
# goes away, and the errors Kubernetes gives.
source "$(dirname "$0")/lib.sh"
if [ ! -x "$KERNLET_BIN/kernlet-test-kubelet" ]; then
  echo "SKIP: $KERNLET_BIN/kernlet-test-kubelet not built"; exit 77
fi
start_control --disable-scheduler --disable-controllers
ctl="$KERNLET_BIN/kernlet-control"

# --- node credentials ------------------------------------------------------------------
expect_contains "node-credentials --help documents the files" "kubelet.crt" "$("$ctl" node-credentials --help)"
out=$("$ctl" node-credentials --data-dir "$workdir/nowhere" --node-name n --server https://127.0.0.1:1 \
  --out "$workdir/x" 2>&1 || true)
expect_contains "a missing CA is named" "$workdir/nowhere/pki/ca.crt does not exist" "$out"
creds() {
  "$ctl" node-credentials --data-dir "$workdir/control" --node-name node-1 --server "https://127.0.0.1:$PORT" \
    --out "$workdir/node" --node-ip 127.0.0.1 --hostname localhost 2>/dev/null
}
creds
first=$(cat "$workdir/node"/{kubeconfig,kubelet.crt,kubelet.key,ca.crt} | sha256sum)
creds
expect_eq "node-credentials is idempotent" "$first" "$(cat "$workdir/node"/{kubeconfig,kubelet.crt,kubelet.key,ca.crt} | sha256sum)"
expect_contains "the serving certificate names the node IP" "IP Address:127.0.0.1" \
  "$(openssl x509 -in "$workdir/node/kubelet.crt" -noout -text)"
client_subject=$(grep client-certificate-data "$workdir/node/kubeconfig" | awk '{print $2}' | base64 -d |
  openssl x509 -noout -subject -nameopt RFC2253)
expect_eq "the node's client certificate is system:node:node-1 in system:nodes" \
  "subject=CN=system:node:node-1,O=system:nodes" "$client_subject"
expect_eq "the node's kubeconfig is accepted by the API server" "namespace/default" \
  "$(KUBECONFIG="$workdir/node/kubeconfig" kc "" get namespace default -o name 2>&1)"

# --- a kubelet serving CRI logs ----------------------------------------------------------
logs="$workdir/logs"
mkdir -p "$logs/default/web" "$logs/default/multi"
rec() { printf '2026-11-26T21:00:0%s.%09dZ stdout %s %s\n' "$1" "$2" "$3" "$4"; }
{
  rec 1 0 F "line 1"
  rec 2 500000000 F "line 2"
  rec 3 0 P "line "
  rec 3 0 F "3"
} >"$logs/default/web/app.log.20261126-210000"
rec 4 0 F "line 4" >"$logs/default/web/app.log"
"$KERNLET_BIN/kernlet-test-kubelet" --address 127.0.0.1 --port 0 --cert "$workdir/node/kubelet.crt" \
  --key "$workdir/node/kubelet.key" --client-ca "$workdir/control/pki/ca.crt" --logs "$logs" \
  >"$workdir/kubelet.out" 2>&1 &
kubelet_pid=$!
trap 'kill $kubelet_pid 2>/dev/null || true; wait $kubelet_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do grep -q '^ready' "$workdir/kubelet.out" && break; sleep 0.1; done
KPORT=$(awk '/^ready/ {print $2}' "$workdir/kubelet.out")
[ -n "$KPORT" ] || { echo "kernlet-test-kubelet did not start"; cat "$workdir/kubelet.out"; exit 1; }

node() {  # node NAME PORT
  printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s}\n' "$1" | kc "" apply -f - >/dev/null
  curl_admin PATCH "/api/v1/nodes/$1/status" -H 'Content-Type: application/merge-patch+json' \
    -d '{"status":{"addresses":[{"type":"Hostname","address":"nowhere.invalid"},{"type":"InternalIP","address":"127.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":'"$2"'}}}}' >/dev/null
}
node node-1 "$KPORT"
node node-dead "$(free_port)"
pod() {  # pod NAME NODE CONTAINER...
  local name=$1 nodename=$2; shift 2
  local cs="" c
  for c in "$@"; do cs="$cs{\"name\":\"$c\",\"image\":\"busybox\"},"; done
  local spec="{\"containers\":[${cs%,}]"
  [ -n "$nodename" ] && spec="$spec,\"nodeName\":\"$nodename\""
  echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\"},\"spec\":$spec}}" | kc "" create -f - >/dev/null
}
pod web node-1 app
pod multi node-1 a b
pod pending "" app
pod lost node-dead app

# --- kubectl logs ------------------------------------------------------------------------
expect_eq "kubectl logs reads rotated and current files, partial lines joined" \
  "$(printf 'line 1\nline 2\nline 3\nline 4')" "$(kc "" logs web)"
expect_eq "kubectl logs --tail=2 reaches into the rotated file" "$(printf 'line 3\nline 4')" "$(kc 1.27 logs web --tail=2)"
expect_eq "kubectl logs --timestamps prints RFC3339Nano" \
  "$(printf '2026-11-26T21:00:02.5Z line 2\n2026-11-26T21:00:03Z line 3\n2026-11-26T21:00:04Z line 4')" \
  "$(kc 1.30 logs web --timestamps --tail=3)"
expect_eq "kubectl logs --limit-bytes" "line 1" "$(kc "" logs web --limit-bytes=6)"
expect_eq "kubectl logs --since-time" "line 4" "$(kc "" logs web --since-time=2026-11-26T21:00:04Z)"
expect_eq "kubectl logs --since counts back from now" "" "$(kc "" logs web --since=1s)"
expect_eq "kubectl logs --since=87600h keeps everything" "4" "$(kc "" logs web --since=87600h | wc -l)"
rec 0 0 F "the previous instance" >"$logs/default/web/app.previous.log"
expect_eq "kubectl logs -p reads the previous instance" "the previous instance" "$(kc "" logs -p web)"
rec 0 0 F x >"$logs/default/multi/a.log"
expect_contains "kubectl logs -p without one is the kubelet's 400" 'previous terminated container "a" in pod "multi" not found' \
  "$(kc "" logs -p multi -c a 2>&1 || true)"
expect_contains "an unknown container is refused by the API server" "container c is not valid for pod multi" \
  "$(kc "" logs multi -c c 2>&1 || true)"
expect_contains "a known container without a log is the kubelet's 404" 'container \"b\" not found in pod \"multi\"' \
  "$(curl_admin GET '/api/v1/namespaces/default/pods/multi/log?container=b')"
expect_contains "no container for a multi-container pod: 400" \
  '400 {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a container name must be specified for pod multi, choose one of: [a b]","reason":"BadRequest","code":400}' \
  "$(curl_admin GET /api/v1/namespaces/default/pods/multi/log)"
expect_contains "an unknown pod is NotFound" 'pods "nosuch" not found' "$(kc "" logs nosuch 2>&1 || true)"
expect_contains "a pod without a node: 400" 'pod pending does not have a host assigned' \
  "$(curl_admin GET /api/v1/namespaces/default/pods/pending/log)"
out=$(curl_admin GET /api/v1/namespaces/default/pods/lost/log)
expect_contains "an unreachable node: 500 naming the cause" "connect: connection refused" "$out"
expect_eq "... with code 500" "500" "${out%% *}"
expect_contains "pods/log is in discovery" '"name":"pods/log"' "$(curl_admin GET /api/v1)"

# --- kubectl logs -f -------------------------------------------------------------------------
# wait_for FILE TEXT: until FILE contains TEXT (10 s).
wait_for() { for _ in $(seq 1 100); do grep -qF "$2" "$1" && return 0; sleep 0.1; done; return 1; }
established() { ss -Htn state established "( sport = :$KPORT )" | wc -l; }

touch "$logs/default/web/app.running"
kc "" logs -f web --tail=1 >"$workdir/follow.out" 2>&1 &
follow_pid=$!
wait_for "$workdir/follow.out" "line 4" && ok "kubectl logs -f prints what exists" || not_ok "kubectl logs -f prints what exists" "$(cat "$workdir/follow.out")"
rec 5 0 F "line 5" >>"$logs/default/web/app.log"
wait_for "$workdir/follow.out" "line 5" && ok "kubectl logs -f streams a new line" || not_ok "kubectl logs -f streams a new line" "$(cat "$workdir/follow.out")"
rm "$logs/default/web/app.running"
for _ in $(seq 1 100); do kill -0 $follow_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $follow_pid 2>/dev/null; then
  not_ok "kubectl logs -f ends when the container stops" "still running"; kill $follow_pid
else
  wait $follow_pid && ok "kubectl logs -f ends when the container stops (exit 0)" || not_ok "kubectl logs -f exit status" "$(cat "$workdir/follow.out")"
fi
expect_eq "kubectl logs -f output" "$(printf 'line 4\nline 5')" "$(cat "$workdir/follow.out")"

touch "$logs/default/web/app.running"
# kubectl itself, not through kc: $! must be kubectl's pid for the kill below to end it.
"$KUBECTL_DIR/kubectl" logs -f web --tail=0 >"$workdir/follow2.out" 2>&1 &
follow_pid=$!
for _ in $(seq 1 100); do [ "$(established)" -ge 1 ] && break; sleep 0.1; done
expect_eq "a follower holds one connection to the kubelet" "1" "$(established)"
kill $follow_pid; wait $follow_pid 2>/dev/null || true
for _ in $(seq 1 100); do [ "$(established)" -eq 0 ] && break; sleep 0.1; done
expect_eq "killing kubectl logs -f closes the kubelet connection" "0" "$(established)"
rm -f "$logs/default/web/app.running"

finish
