#include "runtime/images/oci.h"

#include "api/json.h"

namespace kernlet::images {

namespace {

Error invalid(std::string_view what, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument, std::string(what) + ": " + why);
}

Result<Descriptor> parse_descriptor(const json::object& o, const std::string& where) {
  Descriptor d;
  d.media_type = std::string(json::get_string(o, "mediaType"));
  auto digest = Digest::parse(json::get_string(o, "digest"));
  if (!digest.ok()) return invalid(where + ".digest", digest.error().message());
  d.digest = *digest;
  auto size = json::get_int(o, "size");
  if (!size || *size < 0) return invalid(where + ".size", "missing or negative");
  d.size = *size;
  if (const auto* p = json::get_object(o, "platform")) {
    Platform pl;
    pl.os = std::string(json::get_string(*p, "os"));
    pl.architecture = std::string(json::get_string(*p, "architecture"));
    pl.variant = std::string(json::get_string(*p, "variant"));
    d.platform = pl;
  }
  if (const auto* a = json::get_object(o, "annotations"))
    for (const auto& [k, v] : *a)
      if (v.is_string()) d.annotations[std::string(k)] = std::string(v.get_string());
  return d;
}

Result<std::vector<std::string>> string_list(const json::object& o, std::string_view key, std::string_view where) {
  std::vector<std::string> out;
  const json::value* v = json::find(o, key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return invalid(std::string(where) + "." + std::string(key), "expected an array of strings");
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return invalid(std::string(where) + "." + std::string(key), "expected an array of strings");
    out.emplace_back(e.get_string());
  }
  return out;
}

}  // namespace

Result<DocumentKind> classify_document(std::string_view body, std::string_view content_type) {
  auto ct = content_type.substr(0, content_type.find(';'));
  if (ct == media::kOciIndex || ct == media::kDockerList) return DocumentKind::kIndex;
  if (ct == media::kOciManifest || ct == media::kDockerManifest) return DocumentKind::kManifest;
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(body, "manifest"));
  auto mt = json::get_string(o, "mediaType");
  if (mt == media::kOciIndex || mt == media::kDockerList) return DocumentKind::kIndex;
  if (mt == media::kOciManifest || mt == media::kDockerManifest) return DocumentKind::kManifest;
  if (json::get_int_or(o, "schemaVersion", 0) == 1)
    return invalid("manifest", "Docker schema1 manifests are not supported");
  if (!mt.empty()) return invalid("manifest", "unsupported mediaType " + std::string(mt));
  if (json::get_array(o, "manifests") != nullptr) return DocumentKind::kIndex;
  if (json::get_array(o, "layers") != nullptr) return DocumentKind::kManifest;
  return invalid("manifest", "neither an index nor an image manifest");
}

Result<Index> parse_index(std::string_view body) {
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(body, "image index"));
  if (json::get_int_or(o, "schemaVersion", 0) != 2) return invalid("image index", "schemaVersion must be 2");
  Index idx;
  idx.media_type = std::string(json::get_string(o, "mediaType", media::kOciIndex));
  const auto* ms = json::get_array(o, "manifests");
  if (ms == nullptr) return invalid("image index", "missing manifests");
  for (size_t i = 0; i < ms->size(); ++i) {
    if (!(*ms)[i].is_object()) return invalid("image index.manifests[" + std::to_string(i) + "]", "not an object");
    KL_ASSIGN_OR_RETURN(Descriptor d, parse_descriptor((*ms)[i].get_object(), "manifests[" + std::to_string(i) + "]"));
    idx.manifests.push_back(std::move(d));
  }
  return idx;
}

Result<Manifest> parse_manifest(std::string_view body) {
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(body, "image manifest"));
  if (json::get_int_or(o, "schemaVersion", 0) != 2) return invalid("image manifest", "schemaVersion must be 2");
  Manifest m;
  m.media_type = std::string(json::get_string(o, "mediaType", media::kOciManifest));
  const auto* cfg = json::get_object(o, "config");
  if (cfg == nullptr) return invalid("image manifest", "missing config");
  KL_ASSIGN_OR_RETURN(m.config, parse_descriptor(*cfg, "config"));
  const auto* ls = json::get_array(o, "layers");
  if (ls == nullptr) return invalid("image manifest", "missing layers");
  for (size_t i = 0; i < ls->size(); ++i) {
    std::string where = "layers[" + std::to_string(i) + "]";
    if (!(*ls)[i].is_object()) return invalid("image manifest." + where, "not an object");
    KL_ASSIGN_OR_RETURN(Descriptor d, parse_descriptor((*ls)[i].get_object(), where));
    if (!is_supported_layer(d.media_type))
      return invalid("image manifest." + where, "unsupported layer media type " + d.media_type);
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<ImageConfig> parse_image_config(std::string_view body) {
  KL_ASSIGN_OR_RETURN(json::object o, json::parse_object(body, "image config"));
  ImageConfig c;
  c.os = std::string(json::get_string(o, "os"));
  c.architecture = std::string(json::get_string(o, "architecture"));
  if (const auto* cfg = json::get_object(o, "config")) {
    KL_ASSIGN_OR_RETURN(c.entrypoint, string_list(*cfg, "Entrypoint", "config"));
    KL_ASSIGN_OR_RETURN(c.cmd, string_list(*cfg, "Cmd", "config"));
    KL_ASSIGN_OR_RETURN(c.env, string_list(*cfg, "Env", "config"));
    c.working_dir = std::string(json::get_string(*cfg, "WorkingDir"));
    c.user = std::string(json::get_string(*cfg, "User"));
    c.stop_signal = std::string(json::get_string(*cfg, "StopSignal"));
    if (const auto* ports = json::get_object(*cfg, "ExposedPorts"))
      for (const auto& [k, v] : *ports) c.exposed_ports.emplace_back(k);
    if (const auto* vols = json::get_object(*cfg, "Volumes"))
      for (const auto& [k, v] : *vols) c.volumes.emplace_back(k);
    if (const auto* labels = json::get_object(*cfg, "Labels"))
      for (const auto& [k, v] : *labels)
        if (v.is_string()) c.labels[std::string(k)] = std::string(v.get_string());
  }
  const auto* rootfs = json::get_object(o, "rootfs");
  if (rootfs == nullptr) return invalid("image config", "missing rootfs");
  if (json::get_string(*rootfs, "type") != "layers") return invalid("image config.rootfs.type", "must be \"layers\"");
  KL_ASSIGN_OR_RETURN(auto ids, string_list(*rootfs, "diff_ids", "rootfs"));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto d = Digest::parse(ids[i]);
    if (!d.ok()) return invalid("image config.rootfs.diff_ids[" + std::to_string(i) + "]", d.error().message());
    c.diff_ids.push_back(*d);
  }
  return c;
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  std::string offered;
  for (const auto& d : index.manifests) {
    if (d.media_type == media::kOciIndex || d.media_type == media::kDockerList) continue;
    if (!d.platform) {
      offered += offered.empty() ? "(none)" : ", (none)";
      continue;
    }
    const Platform& p = *d.platform;
    std::string name = p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
    offered += (offered.empty() ? "" : ", ") + name;
    if (p.os == want.os && p.architecture == want.architecture && (want.variant.empty() || want.variant == p.variant))
      return d;
  }
  // An index without platforms (as a single-image OCI layout often is) means "this one".
  if (index.manifests.size() == 1 && !index.manifests[0].platform) return index.manifests[0];
  std::string w = want.os + "/" + want.architecture + (want.variant.empty() ? "" : "/" + want.variant);
  return Error(ErrorCode::kNotFound,
               "no manifest for platform " + w + " in index (offers: " + (offered.empty() ? "nothing" : offered) + ")");
}

bool is_supported_layer(std::string_view mt) {
  return mt == media::kOciLayer || mt == media::kOciLayerGzip || mt == media::kOciLayerZstd ||
         mt == media::kDockerLayer || mt == media::kDockerLayerGzip ||
         mt == "application/vnd.docker.image.rootfs.diff.tar.zstd";
}

std::string manifest_accept_header() {
  return std::string(media::kOciManifest) + ", " + std::string(media::kOciIndex) + ", " +
         std::string(media::kDockerManifest) + ", " + std::string(media::kDockerList);
}

}  // namespace kernlet::images
