#!/usr/bin/env bash
# kernlet-runtime, the debug CLI, end to end on this host as root: import the project's
# busybox test image, run a container in the foreground (identity, capabilities, seccomp,
# exit code), one in the background (ps, exec, logs, stop, inspect, rm), and refuse bad
# input with a message naming it. Skips (77) when not root.
set -euo pipefail
: "${KERNLET_BIN:?KERNLET_BIN must point at build/bin}"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (namespaces, mounts, cgroups)"; exit 77; fi
src=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d /tmp/kl-cli-XXXXXX)
rt() { "$KERNLET_BIN/kernlet-runtime" --root "$work/root" "$@"; }
names=()
cleanup() {
  for n in "${names[@]}"; do rt stop --time 0 "$n" >/dev/null 2>&1 || true; rt rm "$n" >/dev/null 2>&1 || true; done
  rmdir /sys/fs/cgroup/unified/kernlet /sys/fs/cgroup/kernlet 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
ok() { echo "ok   - $1"; }
not_ok() { failures=$((failures + 1)); echo "FAIL - $1"; shift; printf '       %s\n' "$@"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want: $2" "got:  $3"; fi; }
expect_contains() { case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "want to contain: $2" "got: $3" ;; esac; }

bash "$src/tests/images/build.sh" "$work/img" >/dev/null
expect_contains "an OCI layout is imported" "docker.io/library/busybox:cli" "$(rt images import "$work/img/busybox" --ref busybox:cli)"
expect_contains "images ls lists it" "docker.io/library/busybox:cli" "$(rt images ls)"

fg="fg-$$"; names+=("$fg")
out=$(rt run --rm --name "$fg" busybox:cli sh -c 'hostname; id -u; grep -E "^(CapEff|Seccomp):" /proc/self/status; exit 7' 2>/dev/null) && code=0 || code=$?
expect_eq "the container's exit code is the CLI's" "7" "$code"
expect_contains "hostname is the pod's name" "$fg" "$out"
expect_contains "containerd's default capabilities" "00000000a80425fb" "$out"
expect_contains "RuntimeDefault seccomp is on" "Seccomp:	2" "$out"
out=$(rt run --rm --name "$fg" --user 1000:1000 --cap-drop ALL busybox:cli sh -c 'id -u; grep ^CapBnd /proc/self/status; mkdir /x 2>&1 || true' 2>/dev/null || true)
expect_contains "--user switches identity" "1000" "$out"
expect_contains "--cap-drop ALL empties the bounding set" "CapBnd:	0000000000000000" "$out"
out=$(rt run --rm --name "$fg" busybox:cli sh -c 'unshare -m true 2>&1; echo rc=$?' 2>/dev/null || true)
expect_contains "unshare is refused under RuntimeDefault" "rc=1" "$out"

bg="bg-$$"; names+=("$bg")
expect_eq "run -d prints the name" "$bg" "$(rt run -d --name "$bg" busybox:cli sh -c 'echo started; exec sleep 60' 2>/dev/null)"
expect_contains "ps shows it running" "Running" "$(rt ps | grep "$bg")"
expect_eq "exec runs inside it" "hello $bg" "$(rt exec "$bg" sh -c 'echo hello $(hostname)')"
for _ in $(seq 1 50); do grep -q started "$work/root/logs/$bg.log" 2>/dev/null && break; sleep 0.1; done
expect_contains "logs shows its output" "started" "$(rt logs "$bg")"
rt stop --time 1 "$bg"
inspect=$(rt inspect "$bg")
expect_contains "inspect reports the exit" '"state":"Exited"' "$inspect"
expect_contains "a container killed after its grace period exits 137" '"exitCode":137' "$inspect"
rt rm "$bg"
expect_eq "rm removes it" "" "$(rt ps | grep "$bg" || true)"

expect_contains "an unknown image is named" "busybox:nope" "$(rt run --rm --name x-$$ busybox:nope true 2>&1 || true)"
expect_contains "a bad flag value is named" "--memory lots" "$(rt run --memory lots busybox:cli true 2>&1 || true)"
expect_contains "a user the image does not know is named" 'user "postgres" not found in the image' \
  "$(rt run --rm --name y-$$ --user postgres busybox:cli true 2>&1 || true)"
expect_contains "each command has --help" "Usage: kernlet-runtime" "$(rt run --help)"

[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
