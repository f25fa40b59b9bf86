#!/usr/bin/env python3
"""A stand-in for the node agent in control-plane e2e tests, until the agent exists.

It does what the kubelet reports, nothing more: every pod bound to one of the given nodes
is reported Running and Ready with an IP, and a pod marked for deletion on them is
deleted for good (grace 0), as the kubelet does once its containers have stopped.
Usage: fake_kubelet.py SERVER CA CERT KEY NODE [NODE...]   (runs until killed)
"""
import json
import ssl
import sys
import time
import urllib.request
from datetime import datetime, timezone

server, ca, cert, key, *nodes = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)


def call(method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return {"code": e.code}


ip_of = {}
while True:
    try:
        pods = call("GET", "/api/v1/pods").get("items", [])
    except Exception:  # the server restarting: try again
        time.sleep(0.2)
        continue
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for p in pods:
        meta, spec, status = p["metadata"], p.get("spec", {}), p.get("status", {})
        if spec.get("nodeName") not in nodes:
            continue
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0")
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        if status.get("phase") == "Running" and ready:
            continue
        ip = ip_of.setdefault(meta["uid"], "10.244.0.%d" % (len(ip_of) % 250 + 2))
        conds = [{"type": t, "status": "True", "lastTransitionTime": now}
                 for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
             {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                         "conditions": conds}},
             "application/merge-patch+json")
    time.sleep(0.2)
