#!/bin/sh
# Guest side of the container VM tests: kernlet-runtime runs real containers on a pure
# cgroup2 host, and what the kernel enforces is what the runtime reports.
R=/tmp/kr
rt() { kernlet-runtime --root "$R" "$@"; }
result() { echo "KLVM case=$1 result=$2 detail=\"$3\""; }

mkdir -p /img/busybox && tar -C /img/busybox -xf /img/busybox-oci.tar
if out=$(rt images import /img/busybox --ref busybox:vm 2>&1); then result image_import pass "$out"; else result image_import fail "$out"; fi

out=$(rt run --rm --name hello busybox:vm sh -c 'echo hello-from-$(hostname)' 2>&1)
case "$out" in *hello-from-hello*) result container_runs pass "$out" ;; *) result container_runs fail "$out" ;; esac

# Over memory.max: the kernel's OOM killer ends it, and the runtime says OOMKilled.
rt run --name oom --memory 32Mi busybox:vm sh -c 'a=0123456789abcdef; while true; do a="$a$a"; done' >/dev/null 2>&1
rc=$?
st=$(rt inspect oom 2>&1)
case "$st" in
  *'"reason":"OOMKilled"'*) result container_oom_killed pass "exit $rc, $st" ;;
  *) result container_oom_killed fail "exit $rc, $st" ;;
esac
rt rm oom >/dev/null 2>&1

# cpu.max from --cpu 100 (0.1 core): a busy loop is throttled.
rt run -d --name busy --cpu 100 busybox:vm sh -c 'while :; do :; done' >/dev/null 2>&1
sleep 3
stat=/sys/fs/cgroup/kernlet/pod-p-busy/ctr-busy/cpu.stat
thr=$(awk '$1=="nr_throttled"{print $2}' "$stat" 2>/dev/null)
rt stop --time 0 busy >/dev/null 2>&1; rt rm busy >/dev/null 2>&1
if [ "${thr:-0}" -gt 0 ]; then result container_cpu_throttled pass "nr_throttled=$thr"; else result container_cpu_throttled fail "nr_throttled=${thr:-missing} ($stat)"; fi

# pids.max from --pids 16: forks beyond it fail inside the container.
out=$(rt run --rm --name forks --pids 16 busybox:vm sh -c 'n=0; for i in $(seq 1 40); do sleep 2 & n=$((n+1)); done; wait; echo started=$n' 2>&1)
case "$out" in
  *"can't fork"*|*"Resource temporarily unavailable"*) result container_pids_limited pass "$(echo "$out" | tail -1)" ;;
  *) result container_pids_limited fail "$(echo "$out" | tr '\n' ' ' | cut -c1-200)" ;;
esac
