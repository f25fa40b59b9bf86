// Carrying pinned maps across a change of their definition that keeps their entries valid.
//
// The loaders pin their maps under versioned names (kl_lb_services_v1, ...) and the next
// agent reuses them, so a restart never leaves a VIP unbalanced. libbpf reuses a pinned map
// only if its definition is identical; when a release changes just how a map is allocated
// (map_flags, e.g. BPF_F_NO_PREALLOC) or how large it may grow (max_entries), its key and
// value layout are unchanged and the entries can move as they are. That is what this does:
//
//   prepare(obj)   before the skeleton's load: for each map of `obj` whose pin exists with
//                  the same type, key size and value size but other flags or max_entries,
//                  reads every entry and removes the pin (the programs still attached
//                  through the old pinned links keep the old map alive and in use);
//   finish(obj)    right after the load (libbpf created and pinned the new map), before any
//                  program is attached: writes the entries into the new map.
//
// So the old programs keep serving from the old maps until the new programs replace them
// (bpf_link_update), and those find every entry in place. Pins whose layout differs are left
// alone: libbpf's load then fails with its own "couldn't reuse pinned map" error, which is
// a bumped version suffix's job, not this one's. Maps the programs write (LRU tables) must
// not change definition this way: entries written between prepare() and the link update
// would be lost.
//
// Thread-safety: none; the loaders call it once, single-threaded, while attaching.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/result.h"

struct bpf_object;

namespace kernlet::bpf {

class PinnedMapUpgrade {
 public:
  // `what` prefixes errors ("service LB", "nodeport").
  static Result<PinnedMapUpgrade> prepare(bpf_object* obj, std::string what);
  Result<void> finish(bpf_object* obj);

 private:
  struct Saved {
    std::string name;
    std::vector<std::uint8_t> keys, values;  // entries back to back
    std::uint32_t key_size = 0, value_size = 0, count = 0;
  };
  std::string what_;
  std::vector<Saved> saved_;
};

}  // namespace kernlet::bpf
