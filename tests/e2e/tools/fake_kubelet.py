#!/usr/bin/env python3
"""A stand-in for the node agent in control-plane e2e tests, until the agent exists.

It does what the kubelet reports, nothing more: every pod bound to one of the given nodes
is reported Running and Ready with an IP, and a pod marked for deletion on them is
reported Failed (if it had not finished) and deleted for good (grace 0), as the kubelet
does once its containers have stopped. It renews each node's Lease in kube-node-lease every
second and reports the node Ready when it is not.

Pods that run to completion (restartPolicy Never or OnFailure) finish when their first
container's command says so: "sleep S" runs S seconds (default 0), "exit N" ends with
code N (default 0) -- e.g. `kubectl create job j --image=busybox -- sh -c 'sleep 1; exit 1'`.
The annotations kernlet.test/run-seconds and kernlet.test/exit-code say the same; the
exit code may name the env variable JOB_COMPLETION_INDEX ("index") to exit with it.
With --dead-dir DIR, a node for which the file DIR/NODE exists is dead: nothing is done
for it (no Lease renewal, no pod status, no deletions) until the file is removed.
Usage: fake_kubelet.py [--dead-dir DIR] SERVER CA CERT KEY NODE [NODE...]   (runs until killed)
"""
import json
import os
import re
import ssl
import sys
import time
import urllib.request
from datetime import datetime, timezone

args = sys.argv[1:]
dead_dir = None
if args[:1] == ["--dead-dir"]:
    dead_dir, args = args[1], args[2:]
server, ca, cert, key, *nodes = args
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


def completion(pod):
    """(run seconds, exit code) when the pod runs to completion, else None."""
    spec, ann = pod.get("spec", {}), pod["metadata"].get("annotations", {}) or {}
    if spec.get("restartPolicy", "Always") == "Always":
        return None
    c = (spec.get("containers") or [{}])[0]
    cmd = " ".join(c.get("command", []) + c.get("args", []))
    run = re.search(r"sleep (\d+(?:\.\d+)?)", cmd)
    code = re.search(r"exit (\d+)", cmd)
    if not (run or code or "kernlet.test/exit-code" in ann or "kernlet.test/run-seconds" in ann):
        return None
    seconds = float(ann.get("kernlet.test/run-seconds", run.group(1) if run else 0))
    exit_code = ann.get("kernlet.test/exit-code", code.group(1) if code else "0")
    if exit_code == "index":
        exit_code = ann.get("batch.kubernetes.io/job-completion-index", "0")
    return seconds, int(exit_code)


def terminated(p, code, now):
    name = (p["spec"].get("containers") or [{}])[0].get("name", "c")
    return {"status": {"phase": "Succeeded" if code == 0 else "Failed",
                       "conditions": [{"type": t, "status": "False", "lastTransitionTime": now}
                                      for t in ("Ready", "ContainersReady")],
                       "containerStatuses": [{"name": name, "ready": False, "restartCount": 0,
                                              "image": p["spec"]["containers"][0].get("image", ""),
                                              "state": {"terminated": {
                                                  "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                                  "finishedAt": now}}}]}}


def alive(node):
    return dead_dir is None or not os.path.exists(os.path.join(dead_dir, node))


def renew_leases():
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for n in nodes:
        if not alive(n):
            continue
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{n}"
        spec = {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": now}
        if call("PATCH", path, {"spec": spec}, "application/merge-patch+json").get("code") == 404:
            call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                 {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                  "metadata": {"name": n, "namespace": "kube-node-lease"}, "spec": spec})
        node = call("GET", f"/api/v1/nodes/{n}")
        conds = node.get("status", {}).get("conditions", [])
        if "metadata" in node and not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            stamp = now[:19] + "Z"
            others = [c for c in conds if c.get("type") != "Ready"]
            ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                     "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
            call("PATCH", f"/api/v1/nodes/{n}/status", {"status": {"conditions": others + [ready]}},
                 "application/merge-patch+json")


started = {}
ip_of = {}
last_renew = 0.0
while True:
    if time.monotonic() - last_renew >= 1.0:
        try:
            renew_leases()
            last_renew = time.monotonic()
        except Exception:  # the server restarting: try again
            pass
    try:
        pods = call("GET", "/api/v1/pods").get("items", [])
    except Exception:  # the server restarting: try again
        time.sleep(0.2)
        continue
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for p in pods:
        meta, spec, status = p["metadata"], p.get("spec", {}), p.get("status", {})
        if spec.get("nodeName") not in nodes or not alive(spec["nodeName"]):
            continue
        ns, name = meta["namespace"], meta["name"]
        phase = status.get("phase")
        if meta.get("deletionTimestamp"):
            if phase not in ("Succeeded", "Failed"):
                call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", terminated(p, 137, now),
                     "application/merge-patch+json")
            call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0")
            continue
        if phase in ("Succeeded", "Failed"):
            continue
        done = completion(p)
        if done is not None and phase == "Running":
            if time.monotonic() - started.setdefault(meta["uid"], time.monotonic()) >= done[0]:
                call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", terminated(p, done[1], now),
                     "application/merge-patch+json")
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        if phase == "Running" and ready:
            continue
        ip = ip_of.setdefault(meta["uid"], "10.244.0.%d" % (len(ip_of) % 250 + 2))
        conds = [{"type": t, "status": "True", "lastTransitionTime": now}
                 for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
             {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                         "conditions": conds}},
             "application/merge-patch+json")
    time.sleep(0.2)
