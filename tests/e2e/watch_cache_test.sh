#!/usr/bin/env bash
# LIST and WATCH served by the watch cache, seen from a client: pagination, selector moves
# on a watch, watch-list (sendInitialEvents) with its closing bookmark, resourceVersion
# semantics on list.
. "$(dirname "$0")/lib.sh"
start_control
post() {  # post PATH JSON
  curl_admin POST "$1" -H 'Content-Type: application/json' -d "$2"
}
r=$(post /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"wc"}}')
expect_eq "namespace" "201" "${r%% *}"
for i in 1 2 3 4 5; do
  post /api/v1/namespaces/wc/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c$i\",\"labels\":{\"app\":\"a$((i % 2))\"}}}" >/dev/null
done

# A consistent list sees the write that was just acknowledged.
r=$(curl_admin GET /api/v1/namespaces/wc/configmaps)
expect_eq "list right after the writes has all five" "c1 c2 c3 c4 c5" \
  "$(echo "${r#* }" | python3 -c 'import json,sys; print(" ".join(i["metadata"]["name"] for i in json.load(sys.stdin)["items"]))')"

# limit/continue: pages at one revision, in key order, every object once.
pages=$(python3 - "$PORT" "$workdir/control/pki" <<'PY'
import http.client, json, ssl, sys, urllib.parse
port, pki = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt"); ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
names, cont, rvs = [], "", set()
while True:
    c.request("GET", "/api/v1/namespaces/wc/configmaps?limit=2" + ("&continue=" + urllib.parse.quote(cont) if cont else ""))
    raw = c.getresponse().read(); l = json.loads(raw)
    if "items" not in l: print(raw, file=sys.stderr); sys.exit(1)
    names += [i["metadata"]["name"] for i in l["items"]]; rvs.add(l["metadata"]["resourceVersion"])
    cont = l["metadata"].get("continue", "")
    if not cont: break
print(" ".join(names), len(rvs))
PY
)
expect_eq "limit=2 pages through everything at one revision" "c1 c2 c3 c4 c5 1" "$pages"

# A label-selected watch: an object whose label changes away is DELETED for it, back ADDED.
rv=$(curl_admin GET /api/v1/namespaces/wc/configmaps | sed 's/^[0-9]* //' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
curl_admin PATCH /api/v1/namespaces/wc/configmaps/c1 -H 'Content-Type: application/merge-patch+json' \
  -d '{"metadata":{"labels":{"app":"other"}}}' >/dev/null
curl_admin PATCH /api/v1/namespaces/wc/configmaps/c1 -H 'Content-Type: application/merge-patch+json' \
  -d '{"metadata":{"labels":{"app":"a1"}}}' >/dev/null
curl_admin PATCH /api/v1/namespaces/wc/configmaps/c3 -H 'Content-Type: application/merge-patch+json' \
  -d '{"data":{"k":"v"}}' >/dev/null
events=$(kc 1.33 get --raw "/api/v1/namespaces/wc/configmaps?watch=1&labelSelector=app%3Da1&resourceVersion=$rv&timeoutSeconds=2" |
  python3 -c 'import json,sys; print(" ".join(e["type"]+":"+e["object"]["metadata"]["name"] for e in map(json.loads, sys.stdin)))')
expect_eq "selector moves on a watch replayed from the window" "DELETED:c1 ADDED:c1 MODIFIED:c3" "$events"

# Watch-list: the state, then a BOOKMARK marked as the end of the initial events.
events=$(kc 1.33 get --raw "/api/v1/namespaces/wc/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1" |
  python3 -c '
import json,sys
out=[]
for e in map(json.loads, sys.stdin):
    m=e["object"]["metadata"]
    out.append(e["type"] + (":" + m["name"] if e["type"] != "BOOKMARK" else ":" + m.get("annotations", {}).get("k8s.io/initial-events-end", "")))
print(" ".join(out))')
expect_eq "sendInitialEvents: state then the initial-events-end bookmark" \
  "ADDED:c1 ADDED:c2 ADDED:c3 ADDED:c4 ADDED:c5 BOOKMARK:true" "$events"

# resourceVersion semantics on list.
r=$(curl_admin GET "/api/v1/namespaces/wc/configmaps?resourceVersion=0")
expect_eq "resourceVersion=0 is served" "200" "${r%% *}"
r=$(curl_admin GET "/api/v1/namespaces/wc/configmaps?resourceVersion=$rv")
expect_eq "resourceVersion=N (not older than) is served" "200" "${r%% *}"
r=$(curl_admin GET "/api/v1/namespaces/wc/configmaps?resourceVersion=99999999")
expect_eq "a resourceVersion the store never reached is 504" "504" "${r%% *}"
expect_contains "504 says too large" "Too large resource version" "$r"
# GET with resourceVersion=0 comes from the cache: the same object and resourceVersion.
live=$(curl_admin GET /api/v1/namespaces/wc/configmaps/c3 | sed 's/^[0-9]* //' |
  python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["metadata"]["resourceVersion"], o["data"]["k"])')
cached=$(curl_admin GET "/api/v1/namespaces/wc/configmaps/c3?resourceVersion=0" | sed 's/^[0-9]* //' |
  python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["metadata"]["resourceVersion"], o["data"]["k"])')
expect_eq "GET resourceVersion=0 serves the cached object" "$live" "$cached"
r=$(curl_admin GET "/api/v1/namespaces/wc/configmaps/nope?resourceVersion=0")
expect_eq "GET resourceVersion=0 of a missing object is 404" "404" "${r%% *}"
r=$(curl_admin GET "/api/v1/namespaces/wc/configmaps?watch=1&resourceVersion=abc")
expect_eq "a malformed resourceVersion on a watch is 400" "400" "${r%% *}"
finish
