#!/usr/bin/env bash
# kubectl exec against scripts/up's single-node cluster, with the real kubectl 1.33 and
# 1.31 (WebSocket, v5.channel.k8s.io) and 1.29 and 1.27 (SPDY/3.1, v4.channel.k8s.io)
# through kernlet-control's pods/exec proxy to the agent's kubelet API: output, exit
# codes, stdin to EOF (v5 close signal, SPDY FIN), -c in a pod of two containers, the
# container's filesystem, environment, user and PID namespace, a terminal (-t, on a pty of
# the container's devpts) with kubectl's size, and the errors for a missing container or
# command.
source "$(dirname "$0")/agent_lib.sh"
start_cluster

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  securityContext: {runAsUser: 1234, runAsGroup: 2345}
  containers:
  - name: main
    image: $BUSYBOX
    command: ["sh", "-c", "echo main-init; exec sleep 3600"]
    env: [{name: WHO, value: main-env}]
    workingDir: /etc
  - name: side
    image: $BUSYBOX
    command: ["sh", "-c", "exec sleep 3601"]
    env: [{name: WHO, value: side-env}]
    securityContext: {runAsUser: 4321}
EOF
kc 1.33 wait --for=condition=Ready pod/two --timeout=60s >/dev/null 2>&1 || true
expect_eq "the pod runs" "Running" "$(jp two '{.status.phase}')"

for v in 1.33 1.31 1.29 1.27; do
  expect_eq "kubectl $v exec prints the command's output" "hi" "$(kc "$v" exec two -c main -- echo hi 2>&1)"
  rc=0
  kc "$v" exec two -c main -- sh -c 'echo out; echo err >&2; exit 3' >"$workdir/out" 2>"$workdir/err" || rc=$?
  expect_eq "kubectl $v exec: the exit code propagates" "3" "$rc"
  expect_eq "kubectl $v exec: stdout" "out" "$(cat "$workdir/out")"
  expect_contains "kubectl $v exec: stderr" "err" "$(cat "$workdir/err")"
  expect_contains "kubectl $v exec: kubectl says the command failed" "command terminated with exit code 3" \
    "$(cat "$workdir/err")"
  expect_eq "kubectl $v exec -i: stdin reaches the command, EOF ends it" "$(printf 'data\nmore')" \
    "$(printf 'data\nmore\n' | kc "$v" exec -i two -c main -- cat 2>&1)"
  # 1 MiB through stdin and back: flow control both ways.
  expect_eq "kubectl $v exec -i: 1 MiB in, its checksum out" "$(head -c 1048576 /dev/zero | tr '\0' x | md5sum | cut -c1-32)" \
    "$(head -c 1048576 /dev/zero | tr '\0' x | kc "$v" exec -i two -c main -- md5sum 2>&1 | cut -c1-32)"
done

# --- the container's view -------------------------------------------------------------------
expect_eq "-c picks the container: its environment" "main-env side-env" \
  "$(kc 1.33 exec two -c main -- sh -c 'echo $WHO') $(kc 1.33 exec two -c side -- sh -c 'echo $WHO')"
expect_eq "exec runs as the container's user and group" "1234:2345 4321:2345" \
  "$(kc 1.33 exec two -c main -- sh -c 'echo $(id -u):$(id -g)') $(kc 1.33 exec two -c side -- sh -c 'echo $(id -u):$(id -g)')"
expect_eq "exec starts in the container's workingDir" "/etc" "$(kc 1.33 exec two -c main -- pwd)"
expect_eq "exec sees the container's filesystem, not the host's" "no /work, /bin/busybox" \
  "$(kc 1.33 exec two -c main -- sh -c 'test -e /work && echo /work || echo no /work'), $(kc 1.33 exec two -c main -- sh -c 'ls /bin/busybox')"
expect_eq "exec sees the pod's hostname" "two" "$(kc 1.33 exec two -c side -- hostname)"
expect_eq "exec is in the container's PID namespace: pid 1 is its init" "sleep 3601" \
  "$(kc 1.33 exec two -c side -- sh -c 'tr "\0" " " </proc/1/cmdline' | sed 's/ $//')"
expect_contains "kubectl picks the first container without -c" "main-env" "$(kc 1.33 exec two -- sh -c 'echo $WHO' 2>/dev/null)"

# --- a terminal -----------------------------------------------------------------------------
out=$(script -qec "$KUBECTL_DIR/kubectl.1.33 exec -it two -c main -- sh -c 'tty; stty size'" /dev/null </dev/null 2>&1 | tr -d '\r')
expect_contains "kubectl exec -it: the command has a terminal of the container's devpts" "/dev/pts/" "$out"
# kubectl sends its size once the session is up, so the command may start before the size
# reaches its terminal: wait for it. Until then busybox's `stty size` prints nothing (rows 0
# is "no size" to it, an error on stderr with a stale errno), not "0 0" — this loop once
# stopped there, which looked like a size that never arrived.
size_loop='for i in $(seq 200); do s=$(stty size 2>/dev/null); case "$s" in [1-9]*" "[1-9]*) break;; esac; sleep 0.1; done; echo $s'
out=$(script -qec "stty cols 91 rows 37; $KUBECTL_DIR/kubectl.1.33 exec -it two -c main -- sh -c '$size_loop'" \
  /dev/null </dev/null 2>&1 | tr -d '\r')
expect_contains "kubectl exec -it: the terminal has kubectl's size (resize channel)" "37 91" "$out"
rc=0
script -qec "$KUBECTL_DIR/kubectl.1.31 exec -it two -c main -- sh -c 'exit 7'" /dev/null </dev/null >/dev/null 2>&1 || rc=$?
expect_eq "kubectl exec -it: the exit code propagates" "7" "$rc"
# The same over SPDY: a terminal of the container's devpts, kubectl's size on the resize
# stream, the exit code from the v4 status.
out=$(script -qec "stty cols 83 rows 29; $KUBECTL_DIR/kubectl.1.27 exec -it two -c main -- sh -c 'tty; $size_loop'" \
  /dev/null </dev/null 2>&1 | tr -d '\r')
expect_contains "kubectl 1.27 exec -it (SPDY): a terminal of the container's devpts" "/dev/pts/" "$out"
expect_contains "kubectl 1.27 exec -it (SPDY): the terminal has kubectl's size (resize stream)" "29 83" "$out"
rc=0
script -qec "$KUBECTL_DIR/kubectl.1.27 exec -it two -c main -- sh -c 'exit 9'" /dev/null </dev/null >/dev/null 2>&1 || rc=$?
expect_eq "kubectl 1.27 exec -it (SPDY): the exit code propagates" "9" "$rc"

# --- errors ---------------------------------------------------------------------------------
rc=0
err=$(kc 1.33 exec two -c nope -- true 2>&1) || rc=$?
expect_contains "exec into a missing container: a clear error" "container nope is not valid for pod two" "$err"
expect_eq "... and kubectl fails" "1" "$rc"
rc=0
err=$(kc 1.33 exec two -c main -- /no/such/command 2>&1) || rc=$?
expect_contains "exec of a missing command: the runtime's error" "/no/such/command" "$err"
expect_eq "... and kubectl fails" "yes" "$([ "$rc" -ne 0 ] && echo yes || echo "rc $rc")"
rc=0
err=$(kc 1.33 exec nosuchpod -- true 2>&1) || rc=$?
expect_contains "exec into a missing pod: NotFound" 'pods "nosuchpod" not found' "$err"

# The sessions' processes are killed and reaped as their sessions end: allow the agent a
# moment to finish that on a loaded machine, then none may be left.
leftover() { kc 1.33 exec two -c main -- sh -c 'ps | grep -c -e "[c]at$" -e "[m]d5sum" -e "[s]tty" || true' 2>&1; }
for _ in $(seq 50); do [ "$(leftover)" = 0 ] && break; sleep 0.2; done
expect_eq "no exec'd process outlives its session" "0" "$(leftover)"

kc 1.33 delete pod two --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
finish_cluster
