// fsGroup for CSI volumes: whether the kubelet's rules apply the pod's fsGroup to a volume
// (the CSIDriver's fsGroupPolicy) and the ownership change itself (the kubelet's
// SetVolumeOwnership: group set, group rw, setgid directories).
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"

namespace kernlet::csi {

// Whether a volume gets the pod's fsGroup. `policy` is CSIDriver spec.fsGroupPolicy ("" =
// the default ReadWriteOnceWithFSType): File always, None never, ReadWriteOnceWithFSType
// only when the PV names an fsType and its access modes include ReadWriteOnce (the
// kubelet's rule). A read-only mount is never changed. Pure.
bool fs_group_applies(std::string_view policy, std::string_view fs_type,
                      const std::vector<std::string>& access_modes, bool read_only);

// Gives the tree at `root` the group `gid` as the kubelet does: every file and directory
// gets the group, files g+rw (g+x where the owner has x), directories g+rwx and setgid, so
// new files inherit the group. Symlinks are not followed (their own group is set). With
// `on_root_mismatch` (fsGroupChangePolicy OnRootMismatch) nothing is walked when the root
// already has the group, setgid and g+rwx. Errors name the path.
Result<void> apply_fs_group(const std::string& root, gid_t gid, bool on_root_mismatch);

}  // namespace kernlet::csi
