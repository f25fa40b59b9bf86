#!/usr/bin/env bash
# Enforces the rooms' dependency direction (docs/architecture.md):
#   api <- runtime, cni, csi, bpf <- agent;   api <- control
# A file may include only headers of its own room and of the rooms it depends on.
set -euo pipefail
root=${1:-$(git rev-parse --show-toplevel)}
cd "$root"
declare -A allowed=(
  [api]="api"
  [runtime]="api runtime"
  [cni]="api cni"
  [csi]="api csi"
  [bpf]="api bpf"
  [agent]="api runtime cni csi bpf agent"
  [control]="api control"
)
rooms="api runtime cni csi bpf agent control"
bad=0
checked=0
for room in "${!allowed[@]}"; do
  [ -d "$room" ] || continue
  while IFS= read -r -d '' f; do
    checked=$((checked + 1))
    while IFS= read -r inc; do
      target=${inc%%/*}
      case " $rooms " in *" $target "*) ;; *) continue ;; esac
      case " ${allowed[$room]} " in
        *" $target "*) ;;
        *) echo "layering: $f includes \"$inc\": room '$room' may not depend on '$target'"; bad=1 ;;
      esac
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done < <(find "$room" \( -name '*.h' -o -name '*.cc' -o -name '*.c' \) -print0)
done
if [ "$checked" -eq 0 ]; then
  echo "layering: no source files found under $root" >&2
  exit 1
fi
[ "$bad" -eq 0 ] && echo "layering: $checked files respect the room dependencies"
exit $bad
