#!/usr/bin/env bash
# Static pods through the real agent (scripts/up --pod-manifest-path, real kubectl): a
# manifest dropped into the directory runs, its mirror pod shows in `kubectl get pods`
# (named <pod>-<node>, with the kubernetes.io/config.mirror annotation); deleting the
# mirror pod with kubectl brings a new mirror and leaves the container running; removing
# the file stops the pod and deletes the mirror.
source "$(dirname "$0")/agent_lib.sh"
manifests="$workdir/manifests"
mkdir -p "$manifests"
start_cluster --pod-manifest-path "$manifests"
marker="static-marker-$$"
mirror="static-web-$node"

# Written elsewhere and renamed in, so the agent never reads half a file.
cat >"$workdir/static-web.yaml" <<MANIFEST
apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: default, labels: {app: static}}
spec:
  containers:
  - name: main
    image: $BUSYBOX
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo static up; while true; do sleep 1; done; echo $marker"]
MANIFEST
mv "$workdir/static-web.yaml" "$manifests/static-web.yaml"

# --- the static pod runs, its mirror pod shows ----------------------------------------------
wait_until 60 phase_is "$mirror" Running
expect_eq "a static pod runs: its mirror pod is Running" "Running" "$(jp "$mirror" '{.status.phase}')"
expect_contains "kubectl get pods lists the mirror pod" "$mirror" "$(kc 1.33 get pods)"
expect_eq "the mirror pod is bound to the node" "$node" "$(jp "$mirror" '{.spec.nodeName}')"
annotation=$(jp "$mirror" '{.metadata.annotations.kubernetes\.io/config\.mirror}')
expect_eq "the mirror pod carries kubernetes.io/config.mirror (the config hash)" "yes" \
  "$([ -n "$annotation" ] && echo yes || echo "annotations: $(jp "$mirror" '{.metadata.annotations}')")"
expect_eq "... and is owned by the Node" "Node/$node" \
  "$(jp "$mirror" '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')"
wait_until 10 sh -c "$KUBECTL_DIR/kubectl.1.33 logs $mirror | grep -q 'static up'"
expect_eq "kubectl logs of the mirror pod reads the static pod's container" "static up" "$(kc 1.33 logs "$mirror")"
expect_eq "the container runs on the host" "yes" "$(pgrep -f "$marker" >/dev/null && echo yes || echo no)"

# --- deleting the mirror pod: a new mirror, the same container ------------------------------
uid1=$(jp "$mirror" '{.metadata.uid}')
cid1=$(jp "$mirror" '{.status.containerStatuses[0].containerID}')
pid1=$(pgrep -f "$marker" | head -1)
kc 1.33 delete pod "$mirror" --wait=false >/dev/null
new_mirror() {
  local uid
  uid=$(jp "$mirror" '{.metadata.uid}')
  [ -n "$uid" ] && [ "$uid" != "$uid1" ] && [ -z "$(jp "$mirror" '{.metadata.deletionTimestamp}')" ]
}
if wait_until 30 new_mirror; then
  ok "kubectl delete of the mirror pod: the agent creates it again"
else
  not_ok "kubectl delete of the mirror pod: the agent creates it again" "uid before $uid1, now $(jp "$mirror" '{.metadata.uid}')"
fi
expect_eq "... the container was not killed (the same process)" "$pid1" "$(pgrep -f "$marker" | head -1)"
has_container_id() { [ -n "$(jp "$mirror" '{.status.containerStatuses[0].containerID}')" ]; }
# The agent writes the static pod's status to the new mirror as soon as it sees it.
if wait_until 20 has_container_id; then
  ok "... the new mirror pod gets the static pod's status"
else
  not_ok "... the new mirror pod gets the static pod's status" "no containerStatuses on $(kc 1.33 get pod "$mirror" -o json 2>&1 | head -c 600)"
fi
expect_eq "... the new mirror shows the same container" "$cid1" "$(jp "$mirror" '{.status.containerStatuses[0].containerID}')"
expect_eq "... with restartCount 0" "0" "$(jp "$mirror" '{.status.containerStatuses[0].restartCount}')"

# --- removing the manifest stops the pod and deletes the mirror -----------------------------
rm "$manifests/static-web.yaml"
mirror_gone() { ! kc 1.33 get pod "$mirror" >/dev/null 2>&1; }
if wait_until 60 mirror_gone; then
  ok "removing the manifest deletes the mirror pod"
else
  not_ok "removing the manifest deletes the mirror pod" "$(kc 1.33 get pod "$mirror" 2>&1)"
fi
process_gone() { ! pgrep -f "$marker" >/dev/null; }
if wait_until 60 process_gone; then
  ok "... and stops the static pod's container"
else
  not_ok "... and stops the static pod's container" "still running: $(pgrep -af "$marker")"
fi

finish_cluster
