#!/usr/bin/env bash
# Durability through the API server: concurrent writers create ConfigMaps over HTTPS,
# kernlet-control is killed with SIGKILL in the middle of the burst, restarted on the same
# data directory, and every create that was acknowledged (201) must be there with its
# content, and every object that is there must be whole (no half-written object).
. "$(dirname "$0")/lib.sh"
start_control --compaction-interval 0
r=$(curl_admin POST /api/v1/namespaces -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dur"}}')
expect_eq "namespace for the burst" "201" "${r%% *}"

cat >"$workdir/writers.py" <<'PY'
import http.client, json, os, signal, ssl, sys, threading, time, hashlib
port, pki, victim, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
def content(name):  # 4 KiB derived from the name, so any truncation or mix-up shows
    return (hashlib.sha256(name.encode()).hexdigest() * 64)[:4096]
acked, lock, total = [], threading.Lock(), [0]
killed = threading.Event()
def writer(t):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    i = 0
    while True:
        name = "w%d-%d" % (t, i); i += 1
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name}, "data": {"v": content(name)}})
        try:
            conn.request("POST", "/api/v1/namespaces/dur/configmaps", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse(); r.read()
        except Exception:
            return  # the server is gone: stop; what was acknowledged is recorded
        if r.status != 201:
            print("unexpected status", r.status, file=sys.stderr); return
        with lock:
            acked.append(name); total[0] += 1
threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
for th in threads: th.start()
deadline = time.time() + 30
while time.time() < deadline:  # let the burst build up, then kill mid-flight
    with lock:
        if total[0] >= 400: break
    time.sleep(0.01)
os.kill(victim, signal.SIGKILL)
for th in threads: th.join()
json.dump(acked, open(out, "w"))
print(len(acked))
PY

cat >"$workdir/check.py" <<'PY'
import http.client, json, ssl, sys, hashlib
port, pki, acked_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
def content(name):
    return (hashlib.sha256(name.encode()).hexdigest() * 64)[:4096]
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
conn.request("GET", "/api/v1/namespaces/dur/configmaps")
r = conn.getresponse(); items = json.loads(r.read())["items"]
present = {i["metadata"]["name"]: i for i in items}
acked = json.load(open(acked_file))
missing = [n for n in acked if n not in present]
bad = [n for n, o in present.items() if o.get("data", {}).get("v") != content(n)
       or not o["metadata"].get("uid") or not o["metadata"].get("resourceVersion")]
print("acked=%d present=%d missing=%d bad=%d" % (len(acked), len(present), len(missing), len(bad)))
if missing: print("missing:", missing[:10])
if bad: print("bad:", bad[:10])
sys.exit(1 if missing or bad or not acked else 0)
PY

pki="$workdir/control/pki"
acked=$(python3 "$workdir/writers.py" "$PORT" "$pki" "$control_pid" "$workdir/acked.json")
wait "$control_pid" 2>/dev/null || true
control_pid=""
if [ "$acked" -ge 400 ]; then ok "a burst of acknowledged creates before the kill ($acked)"; else not_ok "burst" "acked: $acked"; fi

start_control --compaction-interval 0
result=$(python3 "$workdir/check.py" "$PORT" "$pki" "$workdir/acked.json" 2>&1) && rc=0 || rc=$?
expect_eq "every acknowledged create survives kill -9, and nothing is half-written ($result)" 0 "$rc"
r=$(curl_admin POST /api/v1/namespaces/dur/configmaps -H 'Content-Type: application/json' \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after-restart"}}')
expect_eq "the restarted server takes writes" "201" "${r%% *}"
finish
