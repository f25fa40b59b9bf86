#include "cni/plugin/ipam_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>

#include "api/json.h"
#include "cni/client/config.h"

namespace kernlet::cni {
namespace {

constexpr std::string_view kTempPrefix = ".tmp-";

Error store_error(const std::string& dir, const std::string& what) {
  return Error::from_errno("ipam store " + dir + ": " + what);
}

Result<UniqueFd> open_dir_at(int parent, const std::string& name, const std::string& dir) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return store_error(dir, "mkdir " + name);
  }
  int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return store_error(dir, "open " + name);
  return UniqueFd(fd);
}

// The whole file, or nullopt when it does not exist. Records are tiny; a larger file is
// garbage and reads as its first 4 KiB (which then fails to decode).
Result<std::optional<std::string>> read_small(int dirfd, const std::string& name,
                                              const std::string& dir) {
  int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return store_error(dir, "open " + name);
  }
  UniqueFd f(fd);
  char buf[4096];
  std::string out;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return store_error(dir, "read " + name);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() >= sizeof buf) break;
  }
  return std::optional<std::string>(std::move(out));
}

// Writes `data` to a temporary file and renames it to `name`: with `exclusive`, failing with
// kAlreadyExists when `name` exists.
Result<void> write_atomic(int dirfd, const std::string& name, const std::string& data,
                          bool exclusive, const std::string& dir) {
  static std::atomic<unsigned> counter{0};
  std::string tmp = std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                    std::to_string(counter++) + "-" + name;
  int fd = ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return store_error(dir, "create " + tmp);
  UniqueFd f(fd);
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = store_error(dir, "write " + tmp);
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  f.reset();
  if (::renameat2(dirfd, tmp.c_str(), dirfd, name.c_str(), exclusive ? RENAME_NOREPLACE : 0) !=
      0) {
    int saved = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    if (saved == EEXIST) return Error(ErrorCode::kAlreadyExists, "ipam store " + dir + ": " + name + " exists");
    errno = saved;
    return store_error(dir, "rename " + tmp + " to " + name);
  }
  return Ok();
}

Result<void> remove_at(int dirfd, const std::string& name, const std::string& dir) {
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return store_error(dir, "remove " + name);
  }
  return Ok();
}

Result<std::vector<std::string>> list_dir(int dirfd, const std::string& dir) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return store_error(dir, "open for listing");
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return store_error(dir, "fdopendir");
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  int saved = errno;
  ::closedir(d);
  if (saved != 0) {
    errno = saved;
    return store_error(dir, "readdir");
  }
  return names;
}

std::optional<uint32_t> decode_entry(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return parse_ipv4(text);
}

}  // namespace

std::string encode_claim(uint32_t ip, const IpamOwner& who) {
  json::object o;
  o["ip"] = ipv4_to_string(ip);
  o["containerID"] = who.container_id;
  o["ifname"] = who.ifname;
  return json::dump(o) + "\n";
}

std::optional<Allocation> decode_claim(std::string_view text) {
  auto doc = json::parse_object(text, "claim");
  if (!doc.ok()) return std::nullopt;
  auto ip = parse_ipv4(json::get_string(*doc, "ip"));
  IpamOwner who{std::string(json::get_string(*doc, "containerID")),
                 std::string(json::get_string(*doc, "ifname"))};
  if (!ip || !valid_identifier(who.container_id) || !valid_interface_name(who.ifname)) {
    return std::nullopt;
  }
  return Allocation{*ip, std::move(who)};
}

std::string entry_name(const IpamOwner& who) { return who.container_id + "%" + who.ifname; }

std::optional<IpamOwner> decode_entry_name(std::string_view name) {
  std::size_t pct = name.find('%');
  if (pct == std::string_view::npos) return std::nullopt;
  IpamOwner who{std::string(name.substr(0, pct)), std::string(name.substr(pct + 1))};
  if (!valid_identifier(who.container_id) || !valid_interface_name(who.ifname)) {
    return std::nullopt;
  }
  return who;
}

IpamStore::IpamStore(std::string dir, UniqueFd dirfd, UniqueFd ips, UniqueFd entries,
                     Ipv4Prefix subnet, uint32_t first, uint32_t last)
    : dir_(std::move(dir)),
      dirfd_(std::move(dirfd)),
      ips_(std::move(ips)),
      entries_(std::move(entries)),
      subnet_(subnet),
      first_(first),
      last_(last) {}

Result<IpamStore> IpamStore::open(const std::string& dir, Ipv4Prefix subnet, uint32_t first,
                                  uint32_t last) {
  if (first > last || !subnet.contains(first) || !subnet.contains(last)) {
    return Error(ErrorCode::kInvalidArgument,
                 "ipam store " + dir + ": empty or foreign range " + ipv4_to_string(first) +
                     "-" + ipv4_to_string(last) + " for " + subnet.to_string());
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error("ipam store " + dir + ": create: " + ec.message(), ec.value());
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return store_error(dir, "open");
  UniqueFd d(fd);
  KL_ASSIGN_OR_RETURN(UniqueFd ips, open_dir_at(d.get(), "ips", dir));
  KL_ASSIGN_OR_RETURN(UniqueFd entries, open_dir_at(d.get(), "attachments", dir));
  return IpamStore(dir, std::move(d), std::move(ips), std::move(entries), subnet, first, last);
}

Result<UniqueFd> IpamStore::lock() {
  int fd = ::openat(dirfd_.get(), "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return store_error(dir_, "open lock");
  UniqueFd f(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return store_error(dir_, "flock");
  }
  return f;
}

Result<std::optional<uint32_t>> IpamStore::try_allocate(const IpamOwner& who) {
  const std::string ename = entry_name(who);
  // The address this attachment already holds (ADD retried after a crash or a timeout).
  KL_ASSIGN_OR_RETURN(auto entry, read_small(entries_.get(), ename, dir_));
  if (entry) {
    if (auto ip = decode_entry(*entry); ip && *ip >= first_ && *ip <= last_) {
      const std::string cname = ipv4_to_string(*ip);
      KL_ASSIGN_OR_RETURN(auto claim, read_small(ips_.get(), cname, dir_));
      if (!claim) {
        auto w = write_atomic(ips_.get(), cname, encode_claim(*ip, who), true, dir_);
        if (w.ok()) return std::optional<uint32_t>(*ip);
        if (w.error().code() != ErrorCode::kAlreadyExists) return std::move(w).error();
      } else if (auto c = decode_claim(*claim); c && c->ip == *ip && c->owner == who) {
        return std::optional<uint32_t>(*ip);
      }
    }
    KL_TRY(remove_at(entries_.get(), ename, dir_));  // dangling or someone else's
  }

  uint64_t n = capacity();
  uint32_t start = first_;
  KL_ASSIGN_OR_RETURN(auto cursor, read_small(dirfd_.get(), "last_reserved", dir_));
  if (cursor) {
    if (auto last = decode_entry(*cursor); last && *last >= first_ && *last < last_) {
      start = *last + 1;
    }
  }
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t ip = static_cast<uint32_t>(first_ + (uint64_t{start} - first_ + i) % n);
    const std::string cname = ipv4_to_string(ip);
    struct stat st;
    if (::fstatat(ips_.get(), cname.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    if (errno != ENOENT) return store_error(dir_, "stat ips/" + cname);
    KL_TRY(write_atomic(entries_.get(), ename, cname + "\n", false, dir_));
    auto w = write_atomic(ips_.get(), cname, encode_claim(ip, who), true, dir_);
    if (!w.ok()) {
      (void)remove_at(entries_.get(), ename, dir_);
      if (w.error().code() == ErrorCode::kAlreadyExists) continue;
      return std::move(w).error();
    }
    // The cursor is a hint: failing to move it costs nothing but fairness.
    (void)write_atomic(dirfd_.get(), "last_reserved", cname + "\n", false, dir_);
    return std::optional<uint32_t>(ip);
  }
  return std::optional<uint32_t>();
}

Result<uint32_t> IpamStore::allocate(const IpamOwner& who) {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  KL_ASSIGN_OR_RETURN(auto ip, try_allocate(who));
  if (ip) return *ip;
  // Full: a torn record may be holding an address nobody owns.
  KL_ASSIGN_OR_RETURN(RecoveryReport r, recover_locked());
  if (r.total() > 0) {
    KL_ASSIGN_OR_RETURN(ip, try_allocate(who));
    if (ip) return *ip;
  }
  return Error(ErrorCode::kResourceExhausted,
               "ipam store " + dir_ + ": no free address in " + subnet_.to_string() + " (all " +
                   std::to_string(capacity()) + " in use)");
}

Result<std::vector<uint32_t>> IpamStore::release_locked(const IpamOwner& who) {
  std::vector<uint32_t> released;
  const std::string ename = entry_name(who);
  KL_ASSIGN_OR_RETURN(auto entry, read_small(entries_.get(), ename, dir_));
  std::optional<uint32_t> indexed = entry ? decode_entry(*entry) : std::nullopt;
  auto release_claim = [&](uint32_t ip) -> Result<void> {
    const std::string cname = ipv4_to_string(ip);
    KL_ASSIGN_OR_RETURN(auto claim, read_small(ips_.get(), cname, dir_));
    if (!claim) return Ok();
    auto c = decode_claim(*claim);
    if (!c || c->ip != ip || !(c->owner == who)) return Ok();  // not ours
    KL_TRY(remove_at(ips_.get(), cname, dir_));
    released.push_back(ip);
    return Ok();
  };
  if (indexed) {
    KL_TRY(release_claim(*indexed));
  } else {
    // No usable index entry (a second DEL, or a torn entry): look through the claims.
    KL_ASSIGN_OR_RETURN(auto names, list_dir(ips_.get(), dir_));
    for (const auto& name : names) {
      if (auto ip = parse_ipv4(name)) KL_TRY(release_claim(*ip));
    }
  }
  if (entry) KL_TRY(remove_at(entries_.get(), ename, dir_));
  return released;
}

Result<std::vector<uint32_t>> IpamStore::release(const IpamOwner& who) {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  return release_locked(who);
}

Result<std::optional<uint32_t>> IpamStore::lookup(const IpamOwner& who) {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  KL_ASSIGN_OR_RETURN(auto entry, read_small(entries_.get(), entry_name(who), dir_));
  if (!entry) return std::optional<uint32_t>();
  auto ip = decode_entry(*entry);
  if (!ip) return std::optional<uint32_t>();
  KL_ASSIGN_OR_RETURN(auto claim, read_small(ips_.get(), ipv4_to_string(*ip), dir_));
  if (!claim) return std::optional<uint32_t>();
  auto c = decode_claim(*claim);
  if (!c || c->ip != *ip || !(c->owner == who)) return std::optional<uint32_t>();
  return ip;
}

Result<std::vector<Allocation>> IpamStore::list() {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  KL_ASSIGN_OR_RETURN(auto names, list_dir(ips_.get(), dir_));
  std::vector<Allocation> out;
  for (const auto& name : names) {
    auto ip = parse_ipv4(name);
    if (!ip) continue;
    KL_ASSIGN_OR_RETURN(auto claim, read_small(ips_.get(), name, dir_));
    if (!claim) continue;
    if (auto c = decode_claim(*claim); c && c->ip == *ip) out.push_back(std::move(*c));
  }
  std::sort(out.begin(), out.end(),
            [](const Allocation& a, const Allocation& b) { return a.ip < b.ip; });
  return out;
}

Result<RecoveryReport> IpamStore::recover_locked() {
  RecoveryReport r;
  // Temporary files: nobody is writing (we hold the lock), so they are a crashed writer's.
  for (int fd : {dirfd_.get(), ips_.get(), entries_.get()}) {
    KL_ASSIGN_OR_RETURN(auto names, list_dir(fd, dir_));
    for (const auto& name : names) {
      if (name.starts_with(kTempPrefix)) {
        KL_TRY(remove_at(fd, name, dir_));
        ++r.temp_files_removed;
      }
    }
  }

  // Read both sides.
  std::map<uint32_t, std::optional<IpamOwner>> claims;  // nullopt: garbage
  KL_ASSIGN_OR_RETURN(auto claim_names, list_dir(ips_.get(), dir_));
  for (const auto& name : claim_names) {
    auto ip = parse_ipv4(name);
    KL_ASSIGN_OR_RETURN(auto text, read_small(ips_.get(), name, dir_));
    if (!text) continue;
    if (!ip || !subnet_.contains(*ip)) {
      KL_TRY(remove_at(ips_.get(), name, dir_));  // not an address of this store at all
      ++r.claims_reclaimed;
      continue;
    }
    auto c = decode_claim(*text);
    claims[*ip] = (c && c->ip == *ip) ? std::optional<IpamOwner>(c->owner) : std::nullopt;
  }
  std::map<std::string, std::pair<IpamOwner, std::optional<uint32_t>>> entries;
  KL_ASSIGN_OR_RETURN(auto entry_names, list_dir(entries_.get(), dir_));
  for (const auto& name : entry_names) {
    auto who = decode_entry_name(name);
    KL_ASSIGN_OR_RETURN(auto text, read_small(entries_.get(), name, dir_));
    if (!text) continue;
    if (!who) {
      KL_TRY(remove_at(entries_.get(), name, dir_));
      ++r.entries_removed;
      continue;
    }
    entries[name] = {*who, decode_entry(*text)};
  }

  // Garbage claims: the owner is known when an index entry names the address.
  std::map<uint32_t, IpamOwner> indexed_owner;
  for (const auto& [name, e] : entries) {
    if (e.second) indexed_owner.emplace(*e.second, e.first);
  }
  for (auto& [ip, owner] : claims) {
    if (owner) continue;
    const std::string cname = ipv4_to_string(ip);
    if (auto it = indexed_owner.find(ip); it != indexed_owner.end()) {
      KL_TRY(write_atomic(ips_.get(), cname, encode_claim(ip, it->second), false, dir_));
      owner = it->second;
      ++r.claims_repaired;
    } else {
      KL_TRY(remove_at(ips_.get(), cname, dir_));
      ++r.claims_reclaimed;
    }
  }

  // Index entries must point at a claim of their own attachment.
  std::map<std::string, uint32_t> claimed_by;  // entry name -> address
  for (const auto& [ip, owner] : claims) {
    if (owner) claimed_by.emplace(entry_name(*owner), ip);
  }
  for (const auto& [name, e] : entries) {
    auto it = claimed_by.find(name);
    if (e.second) {
      auto c = claims.find(*e.second);
      if (c != claims.end() && c->second && *c->second == e.first) continue;  // consistent
    }
    if (it != claimed_by.end()) {
      KL_TRY(write_atomic(entries_.get(), name, ipv4_to_string(it->second) + "\n", false, dir_));
      ++r.entries_repaired;
    } else {
      KL_TRY(remove_at(entries_.get(), name, dir_));
      ++r.entries_removed;
    }
  }
  // Claims without any index entry (the entry was lost): re-index them.
  for (const auto& [name, ip] : claimed_by) {
    if (entries.count(name) != 0) continue;
    KL_TRY(write_atomic(entries_.get(), name, ipv4_to_string(ip) + "\n", false, dir_));
    ++r.entries_repaired;
  }
  return r;
}

Result<RecoveryReport> IpamStore::recover() {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  return recover_locked();
}

Result<std::vector<Allocation>> IpamStore::gc(const std::vector<IpamOwner>& valid) {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  KL_TRY(recover_locked());
  std::set<std::string> keep;
  for (const auto& a : valid) keep.insert(entry_name(a));
  KL_ASSIGN_OR_RETURN(auto names, list_dir(ips_.get(), dir_));
  std::vector<Allocation> released;
  for (const auto& name : names) {
    KL_ASSIGN_OR_RETURN(auto text, read_small(ips_.get(), name, dir_));
    if (!text) continue;
    auto c = decode_claim(*text);
    if (!c || keep.count(entry_name(c->owner)) != 0) continue;
    KL_TRY(remove_at(ips_.get(), name, dir_));
    KL_TRY(remove_at(entries_.get(), entry_name(c->owner), dir_));
    released.push_back(std::move(*c));
  }
  std::sort(released.begin(), released.end(),
            [](const Allocation& a, const Allocation& b) { return a.ip < b.ip; });
  return released;
}

Result<uint64_t> IpamStore::free_count() {
  KL_ASSIGN_OR_RETURN(UniqueFd held, lock());
  KL_TRY(recover_locked());
  // Writable? A probe file through the same path every record takes.
  KL_TRY(write_atomic(dirfd_.get(), ".status-probe", "ok\n", false, dir_));
  KL_TRY(remove_at(dirfd_.get(), ".status-probe", dir_));
  uint64_t used = 0;
  KL_ASSIGN_OR_RETURN(auto names, list_dir(ips_.get(), dir_));
  for (const auto& name : names) {
    auto ip = parse_ipv4(name);
    if (ip && *ip >= first_ && *ip <= last_) ++used;
  }
  return capacity() - std::min(used, capacity());
}

}  // namespace kernlet::cni
