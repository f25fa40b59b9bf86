#include "bpf/loader/pinned_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "api/unique_fd.h"

namespace kernlet::bpf {
namespace {

bool per_cpu(std::uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Bytes one lookup returns from user space: per-CPU values come as one 8-byte aligned slot
// per possible CPU.
std::uint32_t user_value_size(std::uint32_t type, std::uint32_t value_size) {
  if (!per_cpu(type)) return value_size;
  return ((value_size + 7) / 8 * 8) * static_cast<std::uint32_t>(std::max(libbpf_num_possible_cpus(), 1));
}

}  // namespace

Result<PinnedMapUpgrade> PinnedMapUpgrade::prepare(bpf_object* obj, std::string what) {
  PinnedMapUpgrade up;
  up.what_ = std::move(what);
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    const char* pin = bpf_map__pin_path(m);
    if (pin == nullptr || ::access(pin, F_OK) != 0) continue;
    const std::string name = bpf_map__name(m);
    UniqueFd fd(bpf_obj_get(pin));
    if (!fd) return Error::from_errno(up.what_ + ": open pinned map " + pin);
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
      return Error::from_errno(up.what_ + ": read the definition of pinned map " + pin);
    const bool same_layout = info.type == static_cast<std::uint32_t>(bpf_map__type(m)) &&
                             info.key_size == bpf_map__key_size(m) && info.value_size == bpf_map__value_size(m);
    const bool same_alloc = info.map_flags == bpf_map__map_flags(m) && info.max_entries == bpf_map__max_entries(m);
    if (!same_layout || same_alloc) continue;  // identical: reused as is; other layout: libbpf says so
    if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
      if (bpf_map__max_entries(m) < info.max_entries)
        return Error(ErrorCode::kResourceExhausted, up.what_ + ": pinned map " + pin + " has " +
                                                         std::to_string(info.max_entries) + " slots, the new one " +
                                                         std::to_string(bpf_map__max_entries(m)));
    }
    Saved s;
    s.name = name;
    s.key_size = info.key_size;
    s.value_size = user_value_size(info.type, info.value_size);
    std::vector<std::uint8_t> key(s.key_size), next(s.key_size), value(s.value_size);
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd.get(), prev, next.data()) == 0) {
      key = next;
      prev = key.data();
      if (bpf_map_lookup_elem(fd.get(), key.data(), value.data()) != 0) continue;  // deleted meanwhile
      s.keys.insert(s.keys.end(), key.begin(), key.end());
      s.values.insert(s.values.end(), value.begin(), value.end());
      ++s.count;
    }
    if (s.count > bpf_map__max_entries(m))
      return Error(ErrorCode::kResourceExhausted, up.what_ + ": pinned map " + pin + " holds " +
                                                       std::to_string(s.count) + " entries, more than the new one's " +
                                                       std::to_string(bpf_map__max_entries(m)));
    // Unpinned, the old map lives on as long as the attached programs use it.
    if (::unlink(pin) != 0) return Error::from_errno(up.what_ + ": unpin " + pin + " to recreate it");
    up.saved_.push_back(std::move(s));
  }
  return up;
}

Result<void> PinnedMapUpgrade::finish(bpf_object* obj) {
  for (const Saved& s : saved_) {
    bpf_map* m = bpf_object__find_map_by_name(obj, s.name.c_str());
    if (m == nullptr) return Error(ErrorCode::kInternal, what_ + ": map " + s.name + " vanished from the object");
    const int fd = bpf_map__fd(m);
    for (std::uint32_t i = 0; i < s.count; ++i) {
      if (bpf_map_update_elem(fd, s.keys.data() + std::size_t{i} * s.key_size,
                              s.values.data() + std::size_t{i} * s.value_size, BPF_ANY) != 0)
        return Error::from_errno(what_ + ": carry entry " + std::to_string(i + 1) + " of " + std::to_string(s.count) +
                                 " over to the new " + s.name);
    }
  }
  return Ok();
}

}  // namespace kernlet::bpf
