#!/usr/bin/env bash
# History is compacted on schedule; a watch or an exact list from before the compacted
# revision gets 410 Gone (Expired), as Kubernetes answers, so clients relist.
. "$(dirname "$0")/lib.sh"
start_control --compaction-interval 1s

cm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: "%s"}\n' "$1"; }
cm 0 | kc 1.33 apply -f - >/dev/null
rv0=$(kc 1.33 get cm c -o jsonpath='{.metadata.resourceVersion}')
for i in 1 2 3; do cm $i | kc 1.33 apply -f - >/dev/null; done

# Poll (bounded) until the compactor has passed rv0: two ticks of 1 s are enough.
gone=""
for _ in $(seq 1 100); do
  r=$(curl_admin GET "/api/v1/namespaces/default/configmaps?resourceVersion=$rv0&resourceVersionMatch=Exact")
  if [ "${r%% *}" = 410 ]; then gone=$r; break; fi
  sleep 0.1
done
expect_eq "exact list at a compacted revision is 410" "410" "${gone%% *}"
expect_contains "410 is reason Expired" '"reason":"Expired"' "$gone"

ev=$(kc 1.33 get --raw "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv0&timeoutSeconds=2" |
  python3 -c 'import json,sys; e=json.loads(sys.stdin.readline()); print(e["type"], e["object"].get("code"), e["object"].get("reason"))')
expect_eq "watch from a compacted revision gets an ERROR 410 Expired event" "ERROR 410 Expired" "$ev"

expect_eq "current state survives compaction" "3" "$(kc 1.33 get cm c -o jsonpath='{.data.v}')"
finish
