#!/usr/bin/env bash
# The floor under "100 pods created at once" on this machine (root): what 100 processes
# cost when each only gets the namespaces a pod sandbox has (pid, mount, uts, ipc, net)
# and execs a static busybox `true` — no API, no scheduler, no cgroup, no overlay mount,
# no image, no status write. Nothing a node agent does to start a pod can cost less, so
# when this floor alone takes longer than a budget, no runtime meets that budget here.
# Prints one JSON document: wall time until all N have run and exited, the machine's CPU
# (all cores, from /proc/stat, so run it on a quiet machine) per process, and the same
# for one at a time; for a bare fork + exec as well as for the sandboxed process.
#
#   bench/agent/burst_floor.sh [--count N] [--rounds R]
#
# Uses util-linux unshare and busybox-static (both in scripts/setup). The namespaces go
# with their processes; nothing is left behind.
set -euo pipefail
count=100
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "burst_floor.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "burst_floor.sh: needs root (new namespaces)" >&2; exit 1; }
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "burst_floor.sh: busybox not found (scripts/setup installs busybox-static)" >&2; exit 1; }

# Busy jiffies of all CPUs (user+nice+system+irq+softirq+steal).
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
hz=$(getconf CLK_TCK)
now_ns() { date +%s%N; }

# The two floors: a process that only execs busybox (what any pod's container costs at
# the least), and the same inside the namespaces of a pod sandbox.
plain() { "$busybox" true; }
sandboxed() { unshare --fork --pid --mount --uts --ipc --net --mount-proc "$busybox" true; }

# One round: N at once, or N one after another. Prints "wall_ms cpu_ms".
round() {
  local mode=$1 one=$2 c0 c1 t0 t1
  c0=$(busy)
  t0=$(now_ns)
  if [ "$mode" = burst ]; then
    local pids=()
    for _ in $(seq "$count"); do
      $one &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
  else
    for _ in $(seq "$count"); do $one; done
  fi
  t1=$(now_ns)
  c1=$(busy)
  echo "$(( (t1 - t0) / 1000000 )) $(( (c1 - c0) * 1000 / hz ))"
}

rows=()
for _ in $(seq "$rounds"); do
  for what in plain sandboxed; do
    for mode in burst serial; do
      rows+=("$what $mode $(round $mode $what)")
    done
  done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$count" "$load" "${rows[@]}" <<'PY'
import json, sys
count = int(sys.argv[1]); load = sys.argv[2]
runs = {}
for row in sys.argv[3:]:
    what, mode, wall, cpu = row.split()
    runs.setdefault(what, {}).setdefault(mode, []).append(
        {"wall_ms": int(wall), "machine_cpu_ms_per_process": round(int(cpu) / count, 2)})
def summary(r):
    return {"all_at_once": r["burst"], "one_after_another": r["serial"],
            "best_all_at_once_ms": min(x["wall_ms"] for x in r["burst"]),
            "best_ms_per_process_one_after_another": round(min(x["wall_ms"] for x in r["serial"]) / count, 2)}
print(json.dumps({
    "count": count,
    "load_average_after": load,
    "plain": dict(what="fork + exec of busybox true from bash", **summary(runs["plain"])),
    "sandboxed": dict(what="unshare --fork --pid --mount --uts --ipc --net --mount-proc busybox true",
                      **summary(runs["sandboxed"])),
    "budget_p99_ms_for_100_pods_at_once": 200,
}, indent=2))
PY
