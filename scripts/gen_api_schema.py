#!/usr/bin/env python3
"""Writes api/schema/builtin_schema.inc: kernlet's own compact table of the built-in types.

For every message reachable from the kinds the API server serves it records, per field,
the protobuf field number, the JSON name (from the Go json tag; "-" marks an inline
embedded struct), and the type. Facts only: the field numbers, names and types are read
from the Go types and generated.proto files of Kubernetes' k8s.io/api and
k8s.io/apimachinery, given as git directories (checkouts or bare mirrors).

  scripts/gen_api_schema.py API_GIT_DIR APIMACHINERY_GIT_DIR [TAG] > api/schema/builtin_schema.inc

TAG (default v0.33.13, the types of Kubernetes 1.33, the newest kubectl on these machines)
is read from both repositories.

Table format (one message per block):
  @<name>
  <number> <json name or -> <type> <flags>
where <type> is a scalar (string bool int32 int64 double bytes), a special (time microtime
duration quantity intorstring rawextension fieldsv1), a message name, []<type> for a list
or {}<type> for a map with string keys, and <flags> holds p when the Go field is a pointer
and o when its json tag says omitempty ("-" for neither): together they say whether a zero
value decoded from protobuf appears in the JSON form.
"""
import re
import subprocess
import sys

API_PACKAGES = ["core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "discovery/v1",
                "coordination/v1", "storage/v1", "events/v1"]
MACHINERY_PACKAGES = ["pkg/apis/meta/v1", "pkg/api/resource", "pkg/util/intstr", "pkg/runtime"]

ROOTS = [
    "core.v1.Binding", "core.v1.ConfigMap", "core.v1.Endpoints", "core.v1.Event", "core.v1.Namespace",
    "core.v1.Node", "core.v1.PersistentVolumeClaim", "core.v1.PersistentVolume", "core.v1.Pod",
    "core.v1.PodTemplate", "core.v1.Secret", "core.v1.ServiceAccount", "core.v1.Service",
    "apps.v1.ControllerRevision", "apps.v1.DaemonSet", "apps.v1.Deployment", "apps.v1.ReplicaSet", "batch.v1.Job", "batch.v1.CronJob",
    "autoscaling.v1.Scale", "autoscaling.v2.HorizontalPodAutoscaler", "discovery.v1.EndpointSlice",
    "coordination.v1.Lease", "storage.v1.StorageClass", "storage.v1.CSIDriver", "storage.v1.CSINode",
    "storage.v1.VolumeAttachment", "events.v1.Event", "meta.v1.DeleteOptions",
]

SPECIALS = {
    "meta.v1.Time": "time",
    "meta.v1.MicroTime": "microtime",
    "meta.v1.Duration": "duration",
    "meta.v1.FieldsV1": "fieldsv1",
    "resource.Quantity": "quantity",
    "intstr.IntOrString": "intorstring",
    "runtime.RawExtension": "rawextension",
}
SCALARS = {"string", "bool", "int32", "int64", "double", "bytes"}


REF = "v0.33.13"


def git_show(git_dir, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", REF + ":" + path], check=True,
                          capture_output=True, text=True).stdout


def git_ls(git_dir, path):
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", REF, path + "/"],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def short(pkg):
    pkg = pkg.lstrip(".")
    for prefix in ("k8s.io.api.", "k8s.io.apimachinery.pkg.apis.", "k8s.io.apimachinery.pkg.api.",
                   "k8s.io.apimachinery.pkg.util.", "k8s.io.apimachinery.pkg."):
        if pkg.startswith(prefix):
            return pkg[len(prefix):]
    raise SystemExit("unknown package " + pkg)


FIELD_RE = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP_RE = re.compile(r"^\s*map<\s*(\S+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(text, messages):
    pkg = short(re.search(r"^package\s+([\w.]+);", text, re.M).group(1))
    current = None
    for line in text.splitlines():
        m = re.match(r"^message\s+(\w+)\s*\{", line)
        if m:
            current = pkg + "." + m.group(1)
            messages[current] = []
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue

        def resolve(t):
            if t in SCALARS:
                return t
            if t.startswith("."):
                q = t[1:]
                return short(q.rsplit(".", 1)[0]) + "." + q.rsplit(".", 1)[1]
            return pkg + "." + t

        m = FIELD_RE.match(line)
        if m:
            messages[current].append({"num": int(m.group(4)), "proto": m.group(3), "type": resolve(m.group(2)),
                                      "rep": m.group(1) == "repeated", "map": False})
            continue
        m = MAP_RE.match(line)
        if m:
            if m.group(1) != "string":
                raise SystemExit("map with non-string key in " + current)
            messages[current].append({"num": int(m.group(4)), "proto": m.group(3), "type": resolve(m.group(2)),
                                      "rep": False, "map": True})
    return pkg


TAG_RE = re.compile(r'`([^`]*)`')


def parse_go(text, pkg, json_names):
    current = None
    for line in text.splitlines():
        m = re.match(r"^type\s+(\w+)\s+struct\s*\{", line)
        if m:
            current = pkg + "." + m.group(1)
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue
        t = TAG_RE.search(line)
        if not t:
            continue
        tag = t.group(1)
        pm = re.search(r'protobuf:"[^,"]*,(\d+),', tag)
        jm = re.search(r'json:"([^"]*)"', tag)
        if not pm or not jm:
            continue
        parts = jm.group(1).split(",")
        name = parts[0] if parts[0] else "-"
        fm = re.match(r"^\s*\w+\s+(\S+)\s+`", line)
        flags = ("p" if fm and fm.group(1).startswith("*") else "") + ("o" if "omitempty" in parts[1:] else "")
        json_names[(current, int(pm.group(1)))] = (name, flags or "-")


def main():
    global REF
    api_git, machinery_git = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        REF = sys.argv[3]
    messages, json_names = {}, {}
    for git_dir, pkgs in ((api_git, API_PACKAGES), (machinery_git, MACHINERY_PACKAGES)):
        for p in pkgs:
            pkg = parse_proto(git_show(git_dir, p + "/generated.proto"), messages)
            for f in git_ls(git_dir, p):
                base = f.rsplit("/", 1)[-1]
                if base.endswith(".go") and not base.endswith("_test.go") and not base.startswith("zz_") \
                        and base != "generated.pb.go":
                    parse_go(git_show(git_dir, f), pkg, json_names)

    out, seen, queue = [], set(), list(ROOTS)
    while queue:
        name = queue.pop(0)
        if name in seen or name in SPECIALS:
            continue
        seen.add(name)
        if name not in messages:
            raise SystemExit("unknown message " + name)
        lines = ["@" + name]
        for f in sorted(messages[name], key=lambda f: f["num"]):
            t = SPECIALS.get(f["type"], f["type"])
            if t not in SCALARS and t not in SPECIALS.values():
                queue.append(t)
            if f["map"]:
                t = "{}" + t
            elif f["rep"]:
                t = "[]" + t
            jname, flags = json_names.get((name, f["num"]), (None, "-"))
            if jname is None:
                print("warning: no json tag for %s field %d (%s); using the proto name" % (name, f["num"], f["proto"]),
                      file=sys.stderr)
                jname = f["proto"]
            lines.append("%d %s %s %s" % (f["num"], jname, t, flags))
        out.append("\n".join(lines))
    print("// Generated by scripts/gen_api_schema.py from Kubernetes' k8s.io/api and k8s.io/apimachinery")
    print("// %s (field numbers, JSON names and types are facts of the wire format). Do not edit by hand." % REF)
    print('R"KLSCHEMA(')
    print("\n".join(out))
    print(')KLSCHEMA"')


if __name__ == "__main__":
    main()
