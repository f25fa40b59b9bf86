#!/bin/sh
# Guest side of the pod VM tests: the agent's pod path (pod_vm_guest) on a pure cgroup2 host.
mkdir -p /img/busybox && tar -C /img/busybox -xf /img/busybox-oci.tar
pod_vm_guest /img/busybox
