// The on-disk cache of ADD results, one file per attachment at
// <dir>/<network>-<containerID>-<ifname> (libcni's layout and its "cniCacheV1" fields), so a
// DEL after an agent restart still hands the plugins their ADD result as prevResult.
//
// Thread-safety: calls on different attachments may run concurrently; the caller serialises
// calls on one attachment. Writes are atomic (temp file, fsync, rename).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::cni {

struct CachedAttachment {
  std::string network;
  std::string container_id;
  std::string ifname;
  std::string netns;  // for diagnostics only: the path may name another netns by now
  std::vector<std::pair<std::string, std::string>> cni_args;
  json::object capability_args;
  json::object result;  // the ADD result as the last plugin returned it
};

class ResultCache {
 public:
  explicit ResultCache(std::string dir = "/var/lib/cni/results") : dir_(std::move(dir)) {}

  // The file of one attachment.
  std::string path(const std::string& network, const std::string& container_id,
                   const std::string& ifname) const;
  // Writes the entry atomically, creating the dir (0700). Errors: filesystem, with path.
  Result<void> save(const CachedAttachment& entry) const;
  // The entry, or nullopt when there is none. Errors: unreadable or malformed file.
  Result<std::optional<CachedAttachment>> load(const std::string& network,
                                               const std::string& container_id,
                                               const std::string& ifname) const;
  // Removes the entry; a missing one is fine. Errors: unlink failed otherwise.
  Result<void> remove(const std::string& network, const std::string& container_id,
                      const std::string& ifname) const;
  // Every readable entry of `network` (malformed files are skipped). A missing dir is empty.
  std::vector<CachedAttachment> list(const std::string& network) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace kernlet::cni
