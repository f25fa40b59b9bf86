// IpamStore: kernlet-cni's address allocation store, one directory per network
// (<dataDir>/<network>/), shared by every plugin process on the node.
//
// Layout, one small file per fact, each written whole to a temporary name and renamed into
// place (so a crash never leaves a half-written record under a real name):
//   lock                       flock(LOCK_EX) held by every operation, reads included
//   ips/<a.b.c.d>              the claim on one address: {"ip","containerID","ifname"};
//                              created with renameat2(RENAME_NOREPLACE)
//   attachments/<cid>%<ifname> index: the address of one attachment ("a.b.c.d\n"); the
//                              container id never holds '%', so the name splits back
//   last_reserved              round-robin cursor, so a freed address is not reused at once
// The ips/ records are the truth; attachments/ is an index for O(1) DEL and idempotent ADD.
// ADD writes the index entry first, then the claim; DEL removes the claim first, then the
// entry. A crash between the two leaves only an index entry without its claim, which never
// holds an address and is dropped by the next DEL, ADD retry or recovery.
//
// No fsync: after a machine crash every pod (and netns) is gone with it; what a power loss
// can leave is a torn store (empty or garbage records), which recover() repairs:
//   - temporary files are removed;
//   - a garbage claim is rewritten when an index entry still names its address (the owner
//     is known), and reclaimed only when no entry does (the owner is unknown);
//   - a garbage index entry is rewritten from the claim that names its attachment, or removed;
//   - an index entry whose address is unclaimed or claimed by someone else is removed.
// allocate() runs recovery before it reports exhaustion, GC and STATUS run it always.
//
// Thread-safety: one IpamStore per thread; any number of stores (threads or processes) on
// the same directory serialize on the flock, which is per open file description.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/result.h"
#include "api/unique_fd.h"
#include "cni/plugin/ipv4.h"

namespace kernlet::cni {

struct IpamOwner {
  std::string container_id;
  std::string ifname;
  bool operator==(const IpamOwner&) const = default;
};

struct Allocation {
  uint32_t ip = 0;
  IpamOwner owner;
};

struct RecoveryReport {
  int temp_files_removed = 0;
  int claims_repaired = 0;     // garbage claim rewritten from its index entry
  int claims_reclaimed = 0;    // garbage claim of an unknown owner removed
  int entries_repaired = 0;    // index entry rewritten from its claim
  int entries_removed = 0;     // garbage or dangling index entries
  int total() const {
    return temp_files_removed + claims_repaired + claims_reclaimed + entries_repaired +
           entries_removed;
  }
};

class IpamStore {
 public:
  // Opens (creating when needed, mode 0700) the store in `dir`, handing out addresses in
  // [first, last] of `subnet`. Errors: the directory cannot be created or opened (errno).
  static Result<IpamStore> open(const std::string& dir, Ipv4Prefix subnet, uint32_t first,
                                uint32_t last);

  // The address of `who`: the one it already holds, else the next free one after the
  // cursor. Errors: kResourceExhausted when every address is claimed (after recovery);
  // store I/O errors with the path.
  Result<uint32_t> allocate(const IpamOwner& who);

  // Releases every address `who` holds; the released ones (none is not an error).
  Result<std::vector<uint32_t>> release(const IpamOwner& who);

  // The address `who` holds, if any (read-only).
  Result<std::optional<uint32_t>> lookup(const IpamOwner& who);

  // Every well-formed claim, sorted by address (read-only).
  Result<std::vector<Allocation>> list();

  // Repairs a torn store (see the header comment).
  Result<RecoveryReport> recover();

  // Recovers, then releases every claim whose owner is not in `valid`; the released claims.
  Result<std::vector<Allocation>> gc(const std::vector<IpamOwner>& valid);

  // Recovers, checks the store is writable, and counts the free addresses.
  Result<uint64_t> free_count();

  uint64_t capacity() const { return uint64_t{last_} - first_ + 1; }
  const std::string& dir() const { return dir_; }

 private:
  IpamStore(std::string dir, UniqueFd dirfd, UniqueFd ips, UniqueFd entries, Ipv4Prefix subnet,
            uint32_t first, uint32_t last);
  Result<UniqueFd> lock();
  Result<std::optional<uint32_t>> try_allocate(const IpamOwner& who);
  Result<std::vector<uint32_t>> release_locked(const IpamOwner& who);
  Result<RecoveryReport> recover_locked();

  std::string dir_;
  UniqueFd dirfd_, ips_, entries_;
  Ipv4Prefix subnet_;
  uint32_t first_ = 0, last_ = 0;
};

// Record codecs, exposed for tests: the claim document and the index entry name.
std::string encode_claim(uint32_t ip, const IpamOwner& who);
std::optional<Allocation> decode_claim(std::string_view text);
std::string entry_name(const IpamOwner& who);
std::optional<IpamOwner> decode_entry_name(std::string_view name);

}  // namespace kernlet::cni
