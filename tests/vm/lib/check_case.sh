#!/usr/bin/env bash
# check_case.sh DIR CASE: passes when the VM run in DIR (run_vm.sh --out DIR) printed
# "KLVM case=CASE result=pass"; skips (77) when that run was skipped; fails otherwise.
set -euo pipefail
dir=$1 case=$2
if [ -f "$dir/skipped" ]; then cat "$dir/skipped"; exit 77; fi
log=$dir/console.log
[ -f "$log" ] || { echo "no console log $log: the VM did not run"; exit 1; }
line=$(grep -a "^KLVM case=$case " "$log" | tr -d '\r' | tail -n 1 || true)
if [ -z "$line" ]; then
  echo "case $case: no result line in $log; console tail:"; tail -n 20 "$log"; exit 1
fi
echo "$line"
case "$line" in
  *" result=pass "*) exit 0 ;;
  *) exit 1 ;;
esac
