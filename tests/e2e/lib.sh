# Shared helpers for e2e tests: start a fresh kernlet-control, run kubectl, assert.
# Each test sources this, calls start_control, and gets cleanup on any exit.
set -euo pipefail

: "${KERNLET_BIN:?KERNLET_BIN must point at build/bin}"
KUBECTL_DIR=${KUBECTL_DIR:-/usr/lib/google-cloud-sdk/bin}
# The kubectl builds these tests drive come with the machine, not from Debian: without
# them the tests cannot run, and say so (exit 77 = skipped, for ctest).
for v in 1.27 1.30 1.33; do
  if [ ! -x "$KUBECTL_DIR/kubectl.$v" ]; then
    echo "SKIP: $KUBECTL_DIR/kubectl.$v not found; e2e needs kubectl 1.27, 1.30 and 1.33 there"
    exit 77
  fi
done
failures=0
checks=0
control_pid=""
workdir=$(mktemp -d /tmp/kernlet-e2e-XXXXXX)

cleanup() {
  if [ -n "$control_pid" ] && kill -0 "$control_pid" 2>/dev/null; then
    kill "$control_pid"
    wait "$control_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_control [flags...]: runs kernlet-control on a free loopback port with extra flags;
# sets KUBECONFIG and PORT.
start_control() {
  PORT=$(free_port)
  "$KERNLET_BIN/kernlet-control" --data-dir "$workdir/control" --listen "127.0.0.1:$PORT" "$@" \
    >"$workdir/control.log" 2>&1 &
  control_pid=$!
  export KUBECONFIG="$workdir/control/admin.kubeconfig"
  for _ in $(seq 1 100); do
    if [ -f "$KUBECONFIG" ] && curl -sk "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$control_pid" 2>/dev/null; then
      echo "kernlet-control exited:"; cat "$workdir/control.log"; exit 1
    fi
    sleep 0.1
  done
  echo "kernlet-control did not become ready"; cat "$workdir/control.log"; exit 1
}

# kc VERSION args...: kubectl of that minor version ("" = the default one).
kc() {
  local v=$1; shift
  local bin="$KUBECTL_DIR/kubectl"
  [ -n "$v" ] && bin="$KUBECTL_DIR/kubectl.$v"
  "$bin" --request-timeout=20s "$@"
}

# curl_admin METHOD PATH [curl args...]: prints "<http code> <body>".
curl_admin() {
  local method=$1 path=$2; shift 2
  local dir="$workdir/control/pki"
  curl -sk --cacert "$dir/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" \
    -X "$method" -o "$workdir/body" -w '%{http_code}' "https://127.0.0.1:$PORT$path" "$@"
  echo " $(cat "$workdir/body")"
}

ok() { checks=$((checks + 1)); echo "ok   - $1"; }
not_ok() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL - $1"; shift; printf '       %s\n' "$@"; }

# expect_eq NAME WANT GOT
expect_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want: $2" "got:  $3"; fi
}
# expect_contains NAME NEEDLE HAYSTACK
expect_contains() {
  case "$3" in *"$2"*) ok "$1" ;; *) not_ok "$1" "want to contain: $2" "got: $3" ;; esac
}
# expect_fail NAME CMD...: the command must exit non-zero.
expect_fail() {
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then not_ok "$name" "command succeeded: $*"; else ok "$name"; fi
}

finish() {
  echo "$((checks - failures)) passed, $failures failed"
  if [ "$failures" -ne 0 ]; then
    if [ -f "$workdir/control.log" ]; then
      echo "--- kernlet-control log ---"; tail -50 "$workdir/control.log"
    fi
    exit 1
  fi
}
