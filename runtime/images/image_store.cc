#include "runtime/images/image_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "api/json.h"

namespace kernlet::images {

namespace {

constexpr const char* kRecords = "images.json";
constexpr const char* kRecordsLock = "records.lock";
// Held shared by every import/pull for its whole duration and exclusively by gc() and by
// open()'s cleanup of tmp/: blobs written but not yet recorded are never collected.
constexpr const char* kGcLock = "gc.lock";

// flock on <root>/lock, held while the records or the set of blobs change. flock locks
// belong to an open file description, so this excludes other threads and other processes.
class StoreLock {
 public:
  static Result<StoreLock> take(int root_fd, const char* name, int op) {
    StoreLock l;
    l.fd_ = UniqueFd(::openat(root_fd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!l.fd_.valid()) return Error::from_errno(std::string("open image store lock ") + name);
    while (::flock(l.fd_.get(), op) != 0)
      if (errno != EINTR) return Error::from_errno(std::string("lock image store ") + name);
    return l;
  }

 private:
  UniqueFd fd_;
};

struct Record {
  Digest manifest;
  Digest index;
  int64_t created = 0;
};
using Records = std::map<std::string, Record>;

Result<Records> read_records(int root_fd) {
  Records out;
  auto text = read_file_at(root_fd, kRecords);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) return out;
    return std::move(text).error();
  }
  KL_ASSIGN_OR_RETURN(json::object doc, json::parse_object(*text, kRecords));
  const auto* images = json::get_object(doc, "images");
  if (images == nullptr) return out;
  for (const auto& [ref, v] : *images) {
    if (!v.is_object()) continue;
    Record r;
    auto m = Digest::parse(json::get_string(v.get_object(), "manifest"));
    if (!m.ok()) return std::move(m).error().context(std::string(kRecords) + ": " + std::string(ref));
    r.manifest = *m;
    if (auto idx = Digest::parse(json::get_string(v.get_object(), "index")); idx.ok()) r.index = *idx;
    r.created = json::get_int_or(v.get_object(), "created", 0);
    out[std::string(ref)] = r;
  }
  return out;
}

Result<void> write_records(int root_fd, const Records& records) {
  json::object images;
  for (const auto& [ref, r] : records) {
    json::object o;
    o["manifest"] = r.manifest.str();
    if (!r.index.empty()) o["index"] = r.index.str();
    o["created"] = r.created;
    images[ref] = std::move(o);
  }
  json::object doc;
  doc["images"] = std::move(images);
  return write_file_atomic(root_fd, kRecords, json::dump(doc));
}

// Streams a registry blob into the store, checking size as it arrives and the digest at the end.
Result<void> fetch_blob(RegistryClient& client, const BlobStore& blobs, const std::string& repo, const Descriptor& d) {
  if (blobs.has(d.digest)) return Ok();
  KL_ASSIGN_OR_RETURN(BlobStore::Writer w, blobs.writer());
  KL_TRY(client.get_blob(repo, d.digest, [&](const char* data, size_t n) -> Result<void> {
    if (w.size() + n > static_cast<uint64_t>(d.size))
      return Error(ErrorCode::kInvalidArgument, "blob " + d.digest.str() + ": more than the " + std::to_string(d.size) +
                                                    " bytes the manifest declares");
    return w.write(data, n);
  }));
  auto got = w.commit(d.digest, d.size);
  if (!got.ok()) return std::move(got).error().context("fetch " + repo);
  return Ok();
}

// The layer media type a docker-save layer file really has, from its magic bytes.
std::string sniff_layer_type(const BlobStore& blobs, const Digest& d) {
  auto fd = blobs.open_blob(d);
  unsigned char m[4] = {};
  if (fd.ok() && ::pread(fd->get(), m, 4, 0) == 4) {
    if (m[0] == 0x1f && m[1] == 0x8b) return std::string(media::kDockerLayerGzip);
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return std::string(media::kOciLayerZstd);
  }
  return std::string(media::kDockerLayer);
}

std::string join_relative(const std::string& entry, const std::string& target) {
  if (!target.empty() && target[0] == '/') return target.substr(1);
  auto slash = entry.rfind('/');
  std::string base = slash == std::string::npos ? "" : entry.substr(0, slash + 1);
  std::string p = base + target;
  // Collapse "dir/../x" (docker writes "../blobs/sha256/<hex>" links).
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& c : parts) out += (out.empty() ? "" : "/") + c;
  return out;
}

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root, UnpackOptions unpack) {
  std::unique_ptr<ImageStore> s(new ImageStore());
  s->root_ = root;
  s->unpack_ = unpack;
  KL_TRY(make_dirs(root + "/layers"));
  KL_ASSIGN_OR_RETURN(s->blobs_, BlobStore::open(root));
  KL_ASSIGN_OR_RETURN(s->root_fd_, open_dir(root));
  KL_ASSIGN_OR_RETURN(s->layers_fd_, open_dir(root + "/layers"));
  KL_ASSIGN_OR_RETURN(s->tmp_fd_, open_dir(root + "/tmp"));
  // Leftovers of a crash: partial blobs and unpacks. Under the exclusive lock, so a
  // concurrent import in another process is never cut short.
  auto lock = StoreLock::take(s->root_fd_.get(), kGcLock, LOCK_EX | LOCK_NB);
  DIR* dir = lock.ok() ? ::fdopendir(::dup(s->tmp_fd_.get())) : nullptr;
  if (dir != nullptr) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir))
      if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") names.emplace_back(e->d_name);
    ::closedir(dir);
    for (const auto& n : names) KL_TRY(remove_tree_at(s->tmp_fd_.get(), n));
  }
  return s;
}

Result<void> ImageStore::ensure_layer(const Descriptor& layer, const Digest& diff_id) {
  std::string name(diff_id.hex());
  struct stat st;
  if (::fstatat(layers_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) return Ok();
  KL_ASSIGN_OR_RETURN(UniqueFd blob, blobs_.open_blob(layer.digest));
  std::string tmp = "unpack-" + random_suffix();
  if (::mkdirat(tmp_fd_.get(), tmp.c_str(), 0755) != 0)
    return Error::from_errno("mkdir " + blobs_.tmp_dir() + "/" + tmp);
  UniqueFd dir(::openat(tmp_fd_.get(), tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  auto cleanup = [&] { (void)remove_tree_at(tmp_fd_.get(), tmp); };
  if (!dir.valid()) {
    Error e = Error::from_errno("open " + tmp);
    cleanup();
    return e;
  }
  auto stats = unpack_layer(blob.get(), dir.get(), diff_id, unpack_);
  if (!stats.ok()) {
    cleanup();
    return std::move(stats).error().context("layer " + layer.digest.str());
  }
  // Publish the finished directory in one step; a concurrent unpack of the same layer that
  // won the race leaves ours to be removed.
  if (::renameat(tmp_fd_.get(), tmp.c_str(), layers_fd_.get(), name.c_str()) != 0) {
    int err = errno;
    cleanup();
    if (err == EEXIST || err == ENOTEMPTY) return Ok();
    errno = err;
    return Error::from_errno("publish layer " + diff_id.str());
  }
  if (::fsync(layers_fd_.get()) != 0) return Error::from_errno("fsync layers directory");
  return Ok();
}

Result<Image> ImageStore::load(const std::string& ref, const Digest& manifest, const Digest& index) const {
  const std::pair<std::string, std::string> key{manifest.str(), index.str()};
  {
    std::lock_guard g(loaded_mu_);
    if (auto it = loaded_.find(key); it != loaded_.end()) {
      Image img = it->second;
      img.ref = ref;
      return img;
    }
  }
  KL_ASSIGN_OR_RETURN(Image img, load_uncached(ref, manifest, index));
  std::lock_guard g(loaded_mu_);
  if (loaded_.size() >= 256) loaded_.clear();  // a bound; entries are cheap to rebuild
  loaded_.emplace(key, img);
  return img;
}

Result<Image> ImageStore::load_uncached(const std::string& ref, const Digest& manifest_digest,
                                        const Digest& index) const {
  KL_ASSIGN_OR_RETURN(std::string mbody, blobs_.read(manifest_digest));
  KL_ASSIGN_OR_RETURN(Manifest m, parse_manifest(mbody));
  KL_ASSIGN_OR_RETURN(std::string cbody, blobs_.read(m.config.digest));
  KL_ASSIGN_OR_RETURN(ImageConfig cfg, parse_image_config(cbody));
  if (cfg.diff_ids.size() != m.layers.size())
    return Error(ErrorCode::kInvalidArgument, "image " + ref + ": manifest has " + std::to_string(m.layers.size()) +
                                                  " layers but the config lists " +
                                                  std::to_string(cfg.diff_ids.size()) + " diff_ids");
  Image img;
  img.ref = ref;
  img.id = m.config.digest;
  img.manifest_digest = manifest_digest;
  img.index_digest = index;
  img.diff_ids = cfg.diff_ids;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    img.layer_dirs.push_back(layer_dir(cfg.diff_ids[i]));
    img.size += m.layers[i].size;
  }
  img.config = std::move(cfg);
  return img;
}

Result<Image> ImageStore::commit(const std::string& ref, const Digest& manifest, const Digest& index) {
  KL_ASSIGN_OR_RETURN(Image img, load_uncached(ref, manifest, index));
  KL_ASSIGN_OR_RETURN(std::string mbody, blobs_.read(manifest));
  KL_ASSIGN_OR_RETURN(Manifest m, parse_manifest(mbody));
  for (size_t i = 0; i < m.layers.size(); ++i) KL_TRY(ensure_layer(m.layers[i], img.diff_ids[i]));
  std::lock_guard g(records_mu_);
  KL_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::take(root_fd_.get(), kRecordsLock, LOCK_EX));
  (void)lock;
  KL_ASSIGN_OR_RETURN(Records records, read_records(root_fd_.get()));
  records[ref] = Record{manifest, index, static_cast<int64_t>(::time(nullptr))};
  KL_TRY(write_records(root_fd_.get(), records));
  return img;
}

Result<Image> ImageStore::import_oci_layout(const std::string& dir, std::string_view ref_text, std::string_view name,
                                            const Platform& platform) {
  KL_ASSIGN_OR_RETURN(StoreLock in_use, StoreLock::take(root_fd_.get(), kGcLock, LOCK_SH));
  (void)in_use;
  KL_ASSIGN_OR_RETURN(Reference ref, Reference::parse(ref_text));
  auto ctx = [&](Error e) { return std::move(e).context("import OCI layout " + dir); };
  auto layout = read_file(dir + "/oci-layout", 1 << 16);
  if (!layout.ok()) return ctx(std::move(layout).error());
  auto ldoc = json::parse_object(*layout, "oci-layout");
  if (!ldoc.ok()) return ctx(std::move(ldoc).error());
  if (json::get_string(*ldoc, "imageLayoutVersion") != "1.0.0")
    return ctx(Error(ErrorCode::kInvalidArgument, "oci-layout: unsupported imageLayoutVersion"));
  auto index_text = read_file(dir + "/index.json", 16 << 20);
  if (!index_text.ok()) return ctx(std::move(index_text).error());
  auto index = parse_index(*index_text);
  if (!index.ok()) return ctx(std::move(index).error());

  auto blob_path = [&](const Digest& d) { return dir + "/blobs/sha256/" + std::string(d.hex()); };
  constexpr const char* kRefName = "org.opencontainers.image.ref.name";
  const Descriptor* chosen = nullptr;
  std::string names;
  for (const auto& d : index->manifests) {
    auto it = d.annotations.find(kRefName);
    std::string n = it == d.annotations.end() ? "" : it->second;
    names += (names.empty() ? "" : ", ") + (n.empty() ? std::string("(unnamed)") : n);
    if (!name.empty() ? n == name : (!n.empty() && n == ref.tag)) chosen = &d;
  }
  if (chosen == nullptr && name.empty() && index->manifests.size() == 1) chosen = &index->manifests[0];
  if (chosen == nullptr)
    return ctx(Error(ErrorCode::kNotFound, "no image named \"" + std::string(name.empty() ? ref.tag : name) +
                                               "\" in index.json (has: " + names + ")"));

  Descriptor desc = *chosen;
  Digest index_digest;
  if (desc.media_type == media::kOciIndex || desc.media_type == media::kDockerList) {
    auto nested = blobs_.put_file(blob_path(desc.digest), desc.digest, desc.size);
    if (!nested.ok()) return ctx(std::move(nested).error());
    index_digest = desc.digest;
    KL_ASSIGN_OR_RETURN(std::string body, blobs_.read(desc.digest));
    KL_ASSIGN_OR_RETURN(Index inner, parse_index(body));
    KL_ASSIGN_OR_RETURN(desc, select_platform(inner, platform));
  }
  auto put = [&](const Descriptor& d) -> Result<void> {
    auto r = blobs_.put_file(blob_path(d.digest), d.digest, d.size);
    if (!r.ok()) return ctx(std::move(r).error());
    return Ok();
  };
  KL_TRY(put(desc));
  KL_ASSIGN_OR_RETURN(std::string mbody, blobs_.read(desc.digest));
  KL_ASSIGN_OR_RETURN(Manifest m, parse_manifest(mbody));
  KL_TRY(put(m.config));
  for (const auto& l : m.layers) KL_TRY(put(l));
  auto img = commit(ref.str(), desc.digest, index_digest);
  if (!img.ok()) return ctx(std::move(img).error());
  return img;
}

Result<std::vector<Image>> ImageStore::import_docker_archive(const std::string& path, std::string_view ref_override) {
  KL_ASSIGN_OR_RETURN(StoreLock in_use, StoreLock::take(root_fd_.get(), kGcLock, LOCK_SH));
  (void)in_use;
  auto ctx = [&](Error e) { return std::move(e).context("import docker archive " + path); };
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 17) != ARCHIVE_OK)
    return ctx(Error(ErrorCode::kInvalidArgument, archive_error_string(a.get())));
  std::string manifest_json;
  std::map<std::string, std::pair<Digest, int64_t>> files;  // entry name → stored blob
  std::map<std::string, std::string> links;                 // symlink name → target name
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return ctx(Error(ErrorCode::kInvalidArgument, archive_error_string(a.get())));
    std::string name = join_relative("", archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e) != nullptr) {
      links[name] = join_relative(name, archive_entry_symlink(e));
      continue;
    }
    if (archive_entry_hardlink(e) != nullptr) {
      links[name] = join_relative("", archive_entry_hardlink(e));
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    if (name == "manifest.json") {
      la_int64_t size = archive_entry_size(e);
      if (size < 0 || size > (16 << 20)) return ctx(Error(ErrorCode::kInvalidArgument, "manifest.json too large"));
      manifest_json.resize(static_cast<size_t>(size));
      if (archive_read_data(a.get(), manifest_json.data(), manifest_json.size()) != size)
        return ctx(Error(ErrorCode::kInvalidArgument, "short read of manifest.json"));
      continue;
    }
    // Everything else may be a config or a layer: keep its bytes, named by their digest.
    KL_ASSIGN_OR_RETURN(BlobStore::Writer w, blobs_.writer());
    const void* buf;
    size_t n;
    la_int64_t off;
    for (;;) {
      int rr = archive_read_data_block(a.get(), &buf, &n, &off);
      if (rr == ARCHIVE_EOF) break;
      if (rr != ARCHIVE_OK)
        return ctx(Error(ErrorCode::kInvalidArgument, "read " + name + ": " + archive_error_string(a.get())));
      KL_TRY(w.write(buf, n));
    }
    int64_t size = static_cast<int64_t>(w.size());
    KL_ASSIGN_OR_RETURN(Digest d, w.commit());
    files[name] = {d, size};
  }
  if (manifest_json.empty()) return ctx(Error(ErrorCode::kInvalidArgument, "no manifest.json in the archive"));
  KL_ASSIGN_OR_RETURN(json::value mdoc, json::parse(manifest_json));
  if (!mdoc.is_array()) return ctx(Error(ErrorCode::kInvalidArgument, "manifest.json: expected an array"));
  auto lookup = [&](std::string n) -> Result<std::pair<Digest, int64_t>> {
    for (int hops = 0; hops < 8; ++hops) {
      if (auto it = files.find(n); it != files.end()) return it->second;
      auto l = links.find(n);
      if (l == links.end()) break;
      n = l->second;
    }
    return Error(ErrorCode::kInvalidArgument, "manifest.json names " + n + ", which the archive does not contain");
  };
  if (!ref_override.empty() && mdoc.get_array().size() != 1)
    return ctx(Error(ErrorCode::kInvalidArgument, "a reference was given but the archive holds " +
                                                      std::to_string(mdoc.get_array().size()) + " images"));
  std::vector<Image> out;
  for (const auto& item : mdoc.get_array()) {
    if (!item.is_object()) return ctx(Error(ErrorCode::kInvalidArgument, "manifest.json: entry is not an object"));
    const auto& o = item.get_object();
    auto cfg = lookup(join_relative("", std::string(json::get_string(o, "Config"))));
    if (!cfg.ok()) return ctx(std::move(cfg).error());
    json::object manifest;
    manifest["schemaVersion"] = 2;
    manifest["mediaType"] = media::kDockerManifest;
    manifest["config"] = {{"mediaType", media::kDockerConfig}, {"digest", cfg->first.str()}, {"size", cfg->second}};
    json::array layers;
    if (const auto* ls = json::get_array(o, "Layers")) {
      for (const auto& l : *ls) {
        if (!l.is_string()) return ctx(Error(ErrorCode::kInvalidArgument, "manifest.json: Layers must be strings"));
        auto blob = lookup(join_relative("", std::string(l.get_string())));
        if (!blob.ok()) return ctx(std::move(blob).error());
        layers.push_back(json::object{{"mediaType", sniff_layer_type(blobs_, blob->first)},
                                      {"digest", blob->first.str()},
                                      {"size", blob->second}});
      }
    }
    manifest["layers"] = std::move(layers);
    KL_ASSIGN_OR_RETURN(Digest md, blobs_.put(json::dump(manifest)));
    std::vector<std::string> refs;
    if (!ref_override.empty()) {
      refs.emplace_back(ref_override);
    } else if (const auto* tags = json::get_array(o, "RepoTags")) {
      for (const auto& t : *tags)
        if (t.is_string()) refs.emplace_back(t.get_string());
    }
    if (refs.empty())
      return ctx(
          Error(ErrorCode::kInvalidArgument, "image " + cfg->first.str() + " has no RepoTags; give a reference"));
    for (const auto& r : refs) {
      KL_ASSIGN_OR_RETURN(Reference parsed, Reference::parse(r));
      auto img = commit(parsed.str(), md, {});
      if (!img.ok()) return ctx(std::move(img).error());
      out.push_back(std::move(*img));
    }
  }
  return out;
}

Result<Image> ImageStore::pull(std::string_view ref_text, const PullOptions& options) {
  KL_ASSIGN_OR_RETURN(StoreLock in_use, StoreLock::take(root_fd_.get(), kGcLock, LOCK_SH));
  (void)in_use;
  KL_ASSIGN_OR_RETURN(Reference ref, Reference::parse(ref_text));
  auto ctx = [&](Error e) { return std::move(e).context("pull " + ref.str()); };
  RegistryClient client(ref.registry_host(), options.registry);
  if (auto p = client.ping(); !p.ok()) return ctx(std::move(p).error());
  auto top = client.get_manifest(ref.repository, ref.manifest_reference());
  if (!top.ok()) return ctx(std::move(top).error());
  KL_ASSIGN_OR_RETURN(DocumentKind kind, classify_document(top->body, top->media_type));
  Digest index_digest;
  RegistryClient::Manifest chosen = std::move(*top);
  if (kind == DocumentKind::kIndex) {
    KL_ASSIGN_OR_RETURN(Index idx, parse_index(chosen.body));
    KL_ASSIGN_OR_RETURN(Descriptor d, select_platform(idx, options.platform));
    KL_TRY(blobs_.put(chosen.body, chosen.digest));
    index_digest = chosen.digest;
    auto child = client.get_manifest(ref.repository, d.digest.str());
    if (!child.ok()) return ctx(std::move(child).error());
    chosen = std::move(*child);
  }
  KL_ASSIGN_OR_RETURN(Manifest m, parse_manifest(chosen.body));
  if (auto r = fetch_blob(client, blobs_, ref.repository, m.config); !r.ok()) return ctx(std::move(r).error());
  KL_ASSIGN_OR_RETURN(std::string cbody, blobs_.read(m.config.digest));
  KL_ASSIGN_OR_RETURN(ImageConfig cfg, parse_image_config(cbody));
  if (cfg.diff_ids.size() != m.layers.size())
    return ctx(Error(ErrorCode::kInvalidArgument, "manifest has " + std::to_string(m.layers.size()) +
                                                      " layers, config lists " + std::to_string(cfg.diff_ids.size()) +
                                                      " diff_ids"));

  // Layers: N workers take the next index; each downloads (digest-verified) and unpacks.
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= m.layers.size()) return;
      {
        std::lock_guard g(err_mu);
        if (first_error) return;
      }
      Result<void> r = fetch_blob(client, blobs_, ref.repository, m.layers[i]);
      if (r.ok()) r = ensure_layer(m.layers[i], cfg.diff_ids[i]);
      if (!r.ok()) {
        std::lock_guard g(err_mu);
        if (!first_error) first_error = std::move(r).error();
      }
    }
  };
  int n = std::max(1, std::min<int>(options.parallel_layers, static_cast<int>(m.layers.size())));
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) return ctx(std::move(*first_error));

  KL_TRY(blobs_.put(chosen.body, chosen.digest));
  auto img = commit(ref.str(), chosen.digest, index_digest);
  if (!img.ok()) return ctx(std::move(img).error());
  return img;
}

Result<Image> ImageStore::resolve(std::string_view ref_text) const {
  Records records;
  {
    std::lock_guard g(records_mu_);
    KL_ASSIGN_OR_RETURN(records, read_records(root_fd_.get()));
  }
  auto finish = [&](const std::string& ref, const Record& r) -> Result<Image> {
    KL_ASSIGN_OR_RETURN(Image img, load(ref, r.manifest, r.index));
    for (const auto& d : img.layer_dirs) {
      struct stat st;
      if (::stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Error(ErrorCode::kNotFound, "image " + ref + ": layer directory " + d + " is missing");
    }
    return img;
  };
  if (ref_text.starts_with("sha256:")) {
    KL_ASSIGN_OR_RETURN(Digest id, Digest::parse(ref_text));
    for (const auto& [ref, r] : records) {
      auto img = load(ref, r.manifest, r.index);
      if (img.ok() && img->id == id) return finish(ref, r);
    }
    return Error(ErrorCode::kNotFound, "image " + id.str() + " not found");
  }
  KL_ASSIGN_OR_RETURN(Reference ref, Reference::parse(ref_text));
  auto it = records.find(ref.str());
  if (it == records.end()) return Error(ErrorCode::kNotFound, "image " + ref.str() + " not found");
  return finish(it->first, it->second);
}

Result<std::vector<ImageRecord>> ImageStore::list() const {
  Records records;
  {
    std::lock_guard g(records_mu_);
    KL_ASSIGN_OR_RETURN(records, read_records(root_fd_.get()));
  }
  std::vector<ImageRecord> out;
  for (const auto& [ref, r] : records) {
    ImageRecord rec;
    rec.ref = ref;
    rec.manifest_digest = r.manifest;
    rec.index_digest = r.index;
    rec.created_unix = r.created;
    if (auto img = load(ref, r.manifest, r.index); img.ok()) {
      rec.id = img->id;
      rec.size = img->size;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

Result<void> ImageStore::remove(std::string_view ref_text) {
  std::string key;
  if (ref_text.starts_with("sha256:")) {
    KL_ASSIGN_OR_RETURN(Image img, resolve(ref_text));
    key = img.ref;
  } else {
    KL_ASSIGN_OR_RETURN(Reference ref, Reference::parse(ref_text));
    key = ref.str();
  }
  std::lock_guard g(records_mu_);
  KL_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::take(root_fd_.get(), kRecordsLock, LOCK_EX));
  (void)lock;
  KL_ASSIGN_OR_RETURN(Records records, read_records(root_fd_.get()));
  if (records.erase(key) == 0) return Error(ErrorCode::kNotFound, "image " + key + " not found");
  return write_records(root_fd_.get(), records);
}

Result<GcStats> ImageStore::gc() {
  KL_ASSIGN_OR_RETURN(StoreLock gc_lock, StoreLock::take(root_fd_.get(), kGcLock, LOCK_EX));
  (void)gc_lock;
  std::lock_guard g(records_mu_);
  KL_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::take(root_fd_.get(), kRecordsLock, LOCK_EX));
  (void)lock;
  KL_ASSIGN_OR_RETURN(Records records, read_records(root_fd_.get()));
  std::set<Digest> keep_blobs;
  std::set<std::string> keep_layers;
  for (const auto& [ref, r] : records) {
    keep_blobs.insert(r.manifest);
    if (!r.index.empty()) keep_blobs.insert(r.index);
    auto mbody = blobs_.read(r.manifest);
    if (!mbody.ok()) continue;
    auto m = parse_manifest(*mbody);
    if (!m.ok()) continue;
    keep_blobs.insert(m->config.digest);
    for (const auto& l : m->layers) keep_blobs.insert(l.digest);
    if (auto cbody = blobs_.read(m->config.digest); cbody.ok())
      if (auto cfg = parse_image_config(*cbody); cfg.ok())
        for (const auto& d : cfg->diff_ids) keep_layers.insert(std::string(d.hex()));
  }
  GcStats stats;
  KL_ASSIGN_OR_RETURN(std::vector<Digest> all, blobs_.list());
  for (const auto& d : all) {
    if (keep_blobs.count(d)) continue;
    KL_TRY(blobs_.remove(d));
    ++stats.blobs_removed;
  }
  std::vector<std::string> layer_names;
  if (DIR* dir = ::fdopendir(::dup(layers_fd_.get()))) {
    ::rewinddir(dir);
    while (dirent* e = ::readdir(dir)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && !keep_layers.count(n)) layer_names.push_back(n);
    }
    ::closedir(dir);
  }
  for (const auto& n : layer_names) {
    // Out of layers/ first, in one rename, so no half-deleted layer is ever visible there.
    std::string doomed = "gc-" + random_suffix();
    if (::renameat(layers_fd_.get(), n.c_str(), tmp_fd_.get(), doomed.c_str()) != 0)
      return Error::from_errno("gc: move layer " + n + " aside");
    KL_TRY(remove_tree_at(tmp_fd_.get(), doomed));
    ++stats.layers_removed;
  }
  return stats;
}

}  // namespace kernlet::images
