#!/usr/bin/env bash
# boot_vm.sh DIR TIMEOUT run_vm.sh-args...: one VM run for a group of ctest cases. Clears DIR
# first (no stale results), records a skip for check_case.sh, keeps run_vm.sh's exit code.
set -uo pipefail
dir=$1 timeout=$2; shift 2
rm -rf "$dir"; mkdir -p "$dir"
out=$("$(dirname "$0")/lib/run_vm.sh" --out "$dir" --timeout "$timeout" "$@" 2>&1); rc=$?
echo "$out"
[ $rc -eq 77 ] && echo "$out" > "$dir/skipped"
[ -f "$dir/console.log" ] && grep -a '^KLVM' "$dir/console.log" | tr -d '\r'
exit $rc
