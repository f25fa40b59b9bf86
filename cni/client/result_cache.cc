#include "cni/client/result_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "api/unique_fd.h"

namespace kernlet::cni {
namespace {

Result<void> mkdir_p(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error("create cni cache dir " + dir + ": " + ec.message(), ec.value());
  return Ok();
}

Result<void> write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("write " + path);
    done += static_cast<std::size_t>(n);
  }
  return Ok();
}

std::optional<CachedAttachment> from_json(const json::object& o) {
  if (json::get_string(o, "kind") != "cniCacheV1") return std::nullopt;
  CachedAttachment e;
  e.network = std::string(json::get_string(o, "networkName"));
  e.container_id = std::string(json::get_string(o, "containerId"));
  e.ifname = std::string(json::get_string(o, "ifName"));
  e.netns = std::string(json::get_string(o, "netns"));
  if (e.network.empty() || e.container_id.empty() || e.ifname.empty()) return std::nullopt;
  if (const json::array* args = json::get_array(o, "cniArgs")) {
    for (const auto& kv : *args) {
      if (!kv.is_array() || kv.get_array().size() != 2 || !kv.get_array()[0].is_string() ||
          !kv.get_array()[1].is_string()) {
        continue;
      }
      e.cni_args.emplace_back(std::string(kv.get_array()[0].get_string()),
                              std::string(kv.get_array()[1].get_string()));
    }
  }
  if (const json::object* caps = json::get_object(o, "capabilityArgs")) e.capability_args = *caps;
  if (const json::object* result = json::get_object(o, "result")) e.result = *result;
  return e;
}

}  // namespace

std::string ResultCache::path(const std::string& network, const std::string& container_id,
                              const std::string& ifname) const {
  return dir_ + "/" + network + "-" + container_id + "-" + ifname;
}

Result<void> ResultCache::save(const CachedAttachment& e) const {
  KL_TRY(mkdir_p(dir_));
  json::object o;
  o["kind"] = "cniCacheV1";
  o["containerId"] = e.container_id;
  o["ifName"] = e.ifname;
  o["networkName"] = e.network;
  if (!e.netns.empty()) o["netns"] = e.netns;
  json::array args;
  for (const auto& [k, v] : e.cni_args) args.emplace_back(json::array{json::string(k), json::string(v)});
  o["cniArgs"] = std::move(args);
  if (!e.capability_args.empty()) o["capabilityArgs"] = e.capability_args;
  o["result"] = e.result;
  std::string data = json::dump(o);

  std::string final_path = path(e.network, e.container_id, e.ifname);
  std::string tmp = final_path + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::random_device{}());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("create " + tmp);
  auto fail = [&](Error err) {
    ::unlink(tmp.c_str());
    return err;
  };
  if (auto w = write_all(fd.get(), data, tmp); !w.ok()) return fail(std::move(w).error());
  if (::fsync(fd.get()) != 0) return fail(Error::from_errno("fsync " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return fail(Error::from_errno("rename " + tmp + " to " + final_path));
  }
  // The rename is durable only once the directory is synced.
  UniqueFd dfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return Ok();
}

Result<std::optional<CachedAttachment>> ResultCache::load(const std::string& network,
                                                          const std::string& container_id,
                                                          const std::string& ifname) const {
  std::string p = path(network, container_id, ifname);
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<CachedAttachment>();
    return Error::from_errno("read cni cache " + p);
  }
  std::ostringstream s;
  s << in.rdbuf();
  auto doc = json::parse_object(s.str(), "cni cache " + p);
  if (!doc.ok()) return std::move(doc).error();
  auto e = from_json(*doc);
  if (!e) return Error(ErrorCode::kInvalidArgument, "cni cache " + p + ": not a cniCacheV1 entry");
  return std::optional<CachedAttachment>(std::move(*e));
}

Result<void> ResultCache::remove(const std::string& network, const std::string& container_id,
                                 const std::string& ifname) const {
  std::string p = path(network, container_id, ifname);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove cni cache " + p);
  return Ok();
}

std::vector<CachedAttachment> ResultCache::list(const std::string& network) const {
  std::vector<CachedAttachment> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec) return out;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.rfind(network + "-", 0) != 0 || name.find(".tmp-") != std::string::npos) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    auto doc = json::parse_object(s.str());
    if (!doc.ok()) continue;
    auto e = from_json(*doc);
    // The prefix alone is ambiguous ("net" vs "net-2"); the entry says which network it is.
    if (e && e->network == network) out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace kernlet::cni
