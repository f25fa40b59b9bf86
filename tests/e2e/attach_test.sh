#!/usr/bin/env bash
# kubectl attach and kubectl run -i against scripts/up's single-node cluster, with the real
# kubectl 1.33 (WebSocket, v5.channel.k8s.io) and 1.27 (SPDY/3.1, v4.channel.k8s.io)
# through kernlet-control's pods/attach proxy to the agent's kubelet API: a container's
# stdin (`stdin: true`) gets what the client sends, the client sees the container's live
# output (not what came before), detaching leaves the container running and its stdin
# open; `kubectl run -i --rm` (stdinOnce) reads piped input and is deleted afterwards; a
# `tty: true` container's terminal output reaches `kubectl logs` and an attached terminal;
# and after kill -9 of the agent the container still runs and can be attached again.
source "$(dirname "$0")/agent_lib.sh"
command -v script >/dev/null || { echo "SKIP: script (util-linux) missing"; exit 77; }
start_cluster
# expect_not_contains NAME NEEDLE HAYSTACK
expect_not_contains() {
  case "$3" in *"$2"*) not_ok "$1" "want not to contain: $2" "got: $3" ;; *) ok "$1" ;; esac
}

kc 1.33 apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: echo}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    stdin: true
    command: ["sh", "-c", "echo before-attach; while read l; do echo got:\$l; done; echo stdin-ended"]
---
apiVersion: v1
kind: Pod
metadata: {name: term}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    stdin: true
    tty: true
    command: ["sh", "-c", "tty; echo tty-ready; while read l; do echo tty-got:\$l; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: termro}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    tty: true
    command: ["sh", "-c", "echo termro-ready; while read l; do echo termro-got:\$l; done; sleep 3600"]
EOF
kc 1.33 wait --for=condition=Ready pod/echo pod/term pod/termro --timeout=60s >/dev/null 2>&1 || true
expect_eq "the pods run" "Running Running" "$(jp echo '{.status.phase}') $(jp term '{.status.phase}')"
logs_have() { kc 1.33 logs "$1" 2>/dev/null | grep -q "$2"; }
wait_until 10 logs_have echo before-attach

# A write to a kubectl that has ended must fail (EPIPE), not end this script (SIGPIPE).
trap '' PIPE
# attach_session VERSION TAG: kubectl attach -i to `echo`, two lines sent one after the
# other, each answered before the next; then kubectl is stopped (a non-stdinOnce attach
# lasts as long as the container). What kubectl printed is in $workdir/out.VERSION; fails
# when an answer does not come (kubectl ended, or 20 s passed).
attach_session() {
  local v=$1 tag=$2 in="$workdir/in.$1" out="$workdir/out.$1" pid rc=0
  rm -f "$in"; mkfifo "$in"
  kc "$v" attach -i echo -c main <"$in" >"$out" 2>"$workdir/err.$v" &
  pid=$!
  exec 3>"$in"
  answered() { grep -q "got:$1" "$out" || ! kill -0 "$pid" 2>/dev/null; }
  { echo "$tag-one" >&3 && wait_until 20 answered "$tag-one" && grep -q "got:$tag-one" "$out" &&
    echo "$tag-two" >&3 && wait_until 20 answered "$tag-two" && grep -q "got:$tag-two" "$out"; } 2>/dev/null || rc=1
  exec 3>&-
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return $rc
}
attach_lines() {  # attach_lines VERSION TAG: attach_session, checked
  attach_session "$1" "$2" || true
  expect_eq "kubectl $1 attach -i: the container reads stdin, its answers come back live" \
    "$(printf 'got:%s-one\ngot:%s-two' "$2" "$2")" "$(cat "$workdir/out.$1")"
}
attach_lines 1.33 ws
expect_not_contains "attach shows output from now on, not the history" "before-attach" "$(cat "$workdir/out.1.33")"
attach_lines 1.27 spdy
expect_eq "detaching leaves the container running, not restarted" "Running 0" \
  "$(jp echo '{.status.phase} {.status.containerStatuses[0].restartCount}')"
expect_contains "kubectl logs has what attached clients saw" "got:spdy-two" "$(kc 1.33 logs echo)"
expect_not_contains "the container's stdin stayed open across the sessions (no stdinOnce)" "stdin-ended" \
  "$(kc 1.33 logs echo)"

# --- kubectl run -i --rm (stdin, stdinOnce) -------------------------------------------------
for v in 1.33 1.27; do
  name="run-${v/./-}"
  out=$(echo "world" | kc "$v" run -i --rm --restart=Never --image="$BUSYBOX" --image-pull-policy=IfNotPresent \
    "$name" -- sh -c 'read x; echo hello-$x; cat; echo eof-after-session' 2>"$workdir/run-err.$v")
  expect_contains "kubectl $v run -i: piped input reaches the container, its output comes back" "hello-world" "$out"
  expect_contains "kubectl $v run -i: stdinOnce — the end of the session's input is the container's EOF" \
    "eof-after-session" "$out"
  wait_until 30 sh -c "! $KUBECTL_DIR/kubectl.1.33 get pod $name >/dev/null 2>&1"
  expect_contains "kubectl $v run -i --rm deletes the pod afterwards" "NotFound" \
    "$(kc 1.33 get pod "$name" 2>&1)"
done

# --- a terminal (tty: true) ---------------------------------------------------------------
expect_contains "tty: the container's stdio is a terminal of its devpts, its output in kubectl logs" \
  "/dev/pts/" "$(kc 1.33 logs term)"
expect_contains "tty: kubectl logs has the terminal's output" "tty-ready" "$(kc 1.33 logs term)"
# kubectl attach -t needs a terminal of its own: script(1) gives it one. The line typed is
# echoed by the container's terminal and answered by the shell.
# Its input is script's: the lines a writer sends after a pause (kubectl is attached by
# then, else the terminal holds them until kubectl reads). The session ends when timeout
# stops script, before its input ends: an EOF would reach the container's terminal as ^D.
tty_attach() {  # tty_attach LINE [POD]: kubectl attach -it to POD (`term`), LINE typed; the screen
  (sleep 3; echo "$1"; sleep 9) | timeout 10 script -qfec "$KUBECTL_DIR/kubectl.1.33 attach -it ${2:-term} -c main" /dev/null 2>&1 |
    tr -d '\r' || true
}
out=$(tty_attach typed)
expect_contains "kubectl attach -it: a line typed reaches the terminal, the answer comes back" "tty-got:typed" "$out"
expect_not_contains "kubectl attach -it: kubectl used its terminal (tty on the wire)" "Unable to use a TTY" "$out"

# kubectl run -it --rm: tty, stdin and stdinOnce; the shell gets typed lines, its exit ends
# the session and the pod is deleted.
# The typed line waits for kubectl's size (the resize channel) to reach the terminal.
typed='s=; for i in $(seq 50); do s=$(stty size 2>/dev/null); case "$s" in [1-9]*) break;; esac; sleep 0.1; done; echo tty-run-$((6*7)) $s; exit'
out=$( (sleep 3; echo "$typed"; sleep 20) | timeout 60 script -qfec \
  "stty cols 91 rows 37; $KUBECTL_DIR/kubectl.1.33 run -it --rm --restart=Never --image=$BUSYBOX --image-pull-policy=IfNotPresent ttyrun -- sh" \
  /dev/null 2>&1 | tr -d '\r' || true)
expect_contains "kubectl run -it --rm: the shell on the container's terminal runs what is typed, at kubectl's size" \
  "tty-run-42 37 91" "$out"
expect_not_contains "kubectl run -it: kubectl used its terminal (tty on the wire)" "Unable to use a TTY" "$out"
wait_until 30 sh -c "! $KUBECTL_DIR/kubectl.1.33 get pod ttyrun >/dev/null 2>&1"
expect_contains "kubectl run -it --rm: the pod is deleted once the shell exits" "NotFound" "$(kc 1.33 get pod ttyrun 2>&1)"

# --- kill -9 of the agent --------------------------------------------------------------------
before=$(jp echo '{.status.containerStatuses[0].containerID}/{.status.containerStatuses[0].restartCount}')
agent_pid=$(cat "$DATA/agent.pid")
kill -KILL "$agent_pid"
wait_until 20 sh -c "[ \"\$(cat '$DATA/agent.pid')\" != $agent_pid ]"
# The restarted agent answers attach once it has re-adopted the pod.
attached=""
for _ in $(seq 50); do
  if attach_session 1.33 again; then attached=yes; break; fi
  sleep 0.2
done
expect_eq "after kill -9 of the agent the container still runs, not restarted" "$before" \
  "$(jp echo '{.status.containerStatuses[0].containerID}/{.status.containerStatuses[0].restartCount}')"
expect_eq "after kill -9 of the agent its stdin is still open and attach works again" "yes" "$attached"
expect_not_contains "the container never saw its stdin end" "stdin-ended" "$(kc 1.33 logs echo)"
expect_eq "the tty container still runs after the agent's restart (its pod's holder kept the terminal)" "Running 0" \
  "$(jp term '{.status.phase} {.status.containerStatuses[0].restartCount}')"
out=$(tty_attach after-restart)
expect_contains "after the restart kubectl attach -it reaches the same terminal" "tty-got:after-restart" "$out"
expect_contains "after the restart the terminal's output still reaches kubectl logs" "tty-got:after-restart" \
  "$(kc 1.33 logs term)"

# A tty container without stdin: its terminal is kept across the restart, but what is typed
# must not reach it (the spec did not open stdin), before the restart as after.
wait_until 10 logs_have termro termro-ready
out=$(tty_attach typed-ro termro)
expect_not_contains "after the restart a tty container without stdin gets no input" "termro-got:typed-ro" \
  "$(kc 1.33 logs termro)"

kc 1.33 delete pod echo term termro --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
finish_cluster
