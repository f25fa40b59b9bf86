// Unpacks one image layer (a tar stream, plain, gzip or zstd) into a directory that can serve
// as an overlayfs lower dir. Every write is resolved inside that directory with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and *at() calls on the resulting fds: no
// entry name, symlink or hardlink in the layer can reach outside it.
#pragma once

#include <cstdint>

#include "api/result.h"
#include "runtime/images/digest.h"

namespace kernlet::images {

struct UnpackOptions {
  // chown entries to the uid/gid in the tar (needs CAP_CHOWN); off → files belong to the caller.
  bool preserve_ownership = true;
  // syncfs() the destination's file system before returning, so the layer is durable when
  // it is published. Off only for measurements.
  bool sync = true;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // regular-file content written
  Digest diff_id;      // sha256 of the uncompressed tar stream
};

// Reads the layer blob from `blob_fd` (from its current offset) and writes its entries into
// the directory `dest_dirfd`, which should be empty and private to the caller.
// OCI whiteouts become overlayfs ones: `.wh.<name>` → a 0/0 character device <name>,
// `.wh..wh..opq` → xattr trusted.overlay.opaque=y on its directory. Ownership, modes,
// mtimes, xattrs (except trusted.overlay.*, which only whiteouts may produce), hardlinks,
// symlinks, device nodes and fifos are kept. When `expected_diff_id` is not empty the
// uncompressed stream must hash to it. Errors name the entry.
Result<UnpackStats> unpack_layer(int blob_fd, int dest_dirfd, const Digest& expected_diff_id = {},
                                 const UnpackOptions& options = {});

}  // namespace kernlet::images
