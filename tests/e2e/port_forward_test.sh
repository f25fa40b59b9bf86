#!/usr/bin/env bash
# kubectl port-forward against scripts/up's single-node cluster, with the real kubectl
# 1.33 (SPDY tunnelled in a WebSocket, SPDY/3.1+portforward.k8s.io) and 1.29 (SPDY/3.1,
# portforward.k8s.io) through kernlet-control's pods/portforward proxy to the agent's
# kubelet API, into a pod running a busybox echo server (`nc -ll -p 8080 -e cat`) that
# listens only inside the pod's network namespace: data round trips with half-close, two
# connections at once, 1 MiB, svc/ resolved by kubectl, a refused port (kubectl prints
# the agent's error), the API server's errors, and the forward ending when the pod is
# deleted. All traffic is on loopback or inside the pod's namespace.
source "$(dirname "$0")/agent_lib.sh"

forward_pids=()
stop_forwards() {
  local p
  for p in "${forward_pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  forward_pids=()
}
trap 'stop_forwards; cleanup_cluster' EXIT
start_cluster

kc 1.33 apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  containers:
  - name: echo
    image: $BUSYBOX
    command: ["nc", "-ll", "-p", "8080", "-e", "cat"]
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
EOF2
wait_until 60 phase_is echo Running || true
expect_eq "the echo pod runs" "Running" "$(jp echo '{.status.phase}')"

# forward VERSION LOGFILE ARGS...: kubectl port-forward in the background; waits (30 s at
# most) for "Forwarding from"; sets FORWARD_PID. False when kubectl exits or is silent.
forward() {
  local v=$1 log=$2; shift 2
  "$KUBECTL_DIR/kubectl.$v" port-forward --address 127.0.0.1 "$@" >"$log" 2>&1 &
  FORWARD_PID=$!
  forward_pids+=("$FORWARD_PID")
  local deadline=$((SECONDS + 30))
  until grep -q "Forwarding from" "$log"; do
    if ! kill -0 "$FORWARD_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "kubectl $v port-forward $* did not start:"; cat "$log"
      return 1
    fi
    sleep 0.1
  done
}

# talk PORT MESSAGE...: one connection per message, all open at once; each sends its
# message, half-closes, and reads to EOF (10 s at most). Prints the answers, one a line.
talk() {
  python3 - "$@" <<'PY'
import socket, sys
port = int(sys.argv[1])
conns = []
for msg in sys.argv[2:]:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conns.append((s, msg))
for s, msg in conns:           # every connection is open before any is answered
    s.sendall(msg.encode())
for s, msg in conns:
    s.shutdown(socket.SHUT_WR)  # the echo's cat sees EOF and ends the connection
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        got += b"<timeout>"
    print(got.decode(errors="replace"))
    s.close()
PY
}

# One MiB through the forward and back: its checksum.
big_checksum() {
  python3 - "$1" <<'PY'
import hashlib, socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
data = bytes(range(256)) * 4096
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
t.join()
print(hashlib.md5(got).hexdigest(), len(got))
PY
}
want_big="$(python3 -c 'import hashlib; print(hashlib.md5(bytes(range(256))*4096).hexdigest(), 1048576)')"

for v in 1.33 1.29; do
  lp=$(free_port)
  if forward "$v" "$workdir/pf-$v.log" pod/echo "$lp:8080" -v=4; then
    ok "kubectl $v port-forward starts"
    expect_eq "kubectl $v port-forward: the pod's echo answers through the forward (half-close both ways)" \
      "hello-$v" "$(talk "$lp" "hello-$v" 2>&1)"
    expect_eq "kubectl $v port-forward: two connections at once, each its own answer" \
      "$(printf 'first-%s\nsecond-%s' "$v" "$v")" "$(talk "$lp" "first-$v" "second-$v" 2>&1)"
    expect_eq "kubectl $v port-forward: 1 MiB through and back" "$want_big" "$(big_checksum "$lp" 2>&1)"
  else
    not_ok "kubectl $v port-forward starts"
  fi
  log=$(cat "$workdir/pf-$v.log")
  if [ "$v" = 1.33 ]; then
    # The tunnelling dialer logs its negotiation at -v=4; a fallback to SPDY would not.
    expect_contains "kubectl 1.33 used the WebSocket tunnel" "negotiated protocol: portforward.k8s.io" "$log"
  fi
  stop_forwards
done

# kubectl resolves svc/echo to the pod and the service's port 80 to targetPort 8080.
lp=$(free_port)
if forward 1.33 "$workdir/pf-svc.log" svc/echo "$lp:80"; then
  expect_eq "kubectl port-forward svc/echo reaches the pod's targetPort" "via-service" "$(talk "$lp" via-service 2>&1)"
else
  not_ok "kubectl port-forward svc/echo starts"
fi
stop_forwards

# kubectl resolves deploy/ to one of its pods.
kc 1.33 create deployment echo-deploy --image="$BUSYBOX" -- nc -ll -p 8080 -e cat >/dev/null
kc 1.33 rollout status deployment/echo-deploy --timeout=60s >/dev/null 2>&1 || true
lp=$(free_port)
if forward 1.33 "$workdir/pf-deploy.log" deploy/echo-deploy "$lp:8080"; then
  expect_eq "kubectl port-forward deploy/echo-deploy reaches one of its pods" "via-deployment" \
    "$(talk "$lp" via-deployment 2>&1)"
else
  not_ok "kubectl port-forward deploy/echo-deploy starts"
fi
stop_forwards
kc 1.33 delete deployment echo-deploy --wait=false >/dev/null 2>&1 || true

# A port nothing listens on: the agent's error reaches kubectl, which prints it.
for v in 1.33 1.29; do
  lp=$(free_port)
  if forward "$v" "$workdir/pf-refused-$v.log" pod/echo "$lp:9999"; then
    talk "$lp" nobody >/dev/null 2>&1 || true
    refused_logged() { grep -q "error forwarding port 9999" "$workdir/pf-refused-$v.log"; }
    wait_until 15 refused_logged || true
    log=$(cat "$workdir/pf-refused-$v.log")
    expect_contains "kubectl $v port-forward to a closed port prints the agent's error" \
      "error forwarding port 9999 to pod default/echo" "$log"
    expect_contains "... which says the connection was refused" "connect to 127.0.0.1:9999" "$log"
    # client-go closes the whole forward once an error stream carries a message (so a
    # next connection needs a new kubectl port-forward, with the kubelet too).
    pf_exited() { ! kill -0 "$FORWARD_PID" 2>/dev/null; }
    if wait_until 15 pf_exited; then
      ok "kubectl $v port-forward stops after the error, as client-go does"
      expect_contains "... saying so" "lost connection to pod" "$(cat "$workdir/pf-refused-$v.log")"
    else
      not_ok "kubectl $v port-forward stops after the error, as client-go does" "still running 15 s later"
    fi
  else
    not_ok "kubectl $v port-forward to port 9999 starts"
  fi
  stop_forwards
done

# The API server's answers before any upgrade.
rc=0
err=$(kc 1.33 port-forward pod/nosuchpod 18080:80 2>&1) || rc=$?
expect_contains "port-forward to a missing pod: NotFound" 'pods "nosuchpod" not found' "$err"
token_curl() {
  local server ca cert key
  server=$(kc 1.33 config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  kc 1.33 config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >"$workdir/c.pem"
  kc 1.33 config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >"$workdir/k.pem"
  curl -sk --cert "$workdir/c.pem" --key "$workdir/k.pem" "$@" "$server/api/v1/namespaces/default/pods/echo/portforward"
}
expect_contains "pods/portforward without an upgrade: 400 naming what is spoken" "Upgrade request required" \
  "$(token_curl -X POST 2>&1)"
kc 1.33 apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: unscheduled}
spec:
  nodeName: ""
  schedulerName: nobody
  containers: [{name: c, image: $BUSYBOX}]
EOF2
server=$(kc 1.33 config view --raw -o jsonpath='{.clusters[0].cluster.server}')
err=$(curl -sk --cert "$workdir/c.pem" --key "$workdir/k.pem" -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
  "$server/api/v1/namespaces/default/pods/unscheduled/portforward" 2>&1)
expect_contains "pods/portforward to a pod without a node: 400" "does not have a host assigned" "$err"

# Deleting the pod ends the forward: the agent closes the session when the sandbox ends.
lp=$(free_port)
if forward 1.33 "$workdir/pf-delete.log" pod/echo "$lp:8080"; then
  expect_eq "the forward works before the pod is deleted" "before" "$(talk "$lp" before 2>&1)"
  kc 1.33 delete pod echo --wait=false >/dev/null 2>&1
  gone() { ! kill -0 "$FORWARD_PID" 2>/dev/null; }
  if wait_until 60 gone; then
    ok "kubectl port-forward ends when its pod is deleted"
  else
    not_ok "kubectl port-forward ends when its pod is deleted" "still running 60 s after the delete"
  fi
  expect_contains "... saying it lost the pod" "lost connection to pod" "$(cat "$workdir/pf-delete.log")"
else
  not_ok "kubectl port-forward for the delete check starts"
fi
stop_forwards

kc 1.33 delete pod unscheduled --grace-period=0 --force >/dev/null 2>&1 || true
finish_cluster
