// kernlet's image store: the one place the rest of the runtime gets images from.
//
// On disk under <root>:
//   blobs/sha256/<hex>   content-addressed blobs (manifests, configs, compressed layers)
//   layers/<hex>         one unpacked layer per diff_id, shared by every image that has it;
//                        each is an overlayfs lower dir (whiteouts already in overlay form)
//   images.json          reference → manifest digest records, replaced atomically
//   tmp/                 partial downloads and unpacks; emptied on open
// An image is recorded only after all its blobs are verified and all its layers unpacked,
// so a crash at any point leaves either no record or a complete image.
#pragma once

#include <cstdint>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/images/blob_store.h"
#include "runtime/images/digest.h"
#include "runtime/images/image_config.h"
#include "runtime/images/layer_unpack.h"
#include "runtime/images/oci.h"
#include "runtime/images/reference.h"
#include "runtime/images/registry_client.h"

namespace kernlet::images {

// A stored image, ready to run.
struct Image {
  std::string ref;  // canonical reference it was resolved by
  Digest id;        // the config digest ("image ID")
  Digest manifest_digest;
  Digest index_digest;                  // the index/list it was selected from, if any
  std::vector<std::string> layer_dirs;  // absolute paths, lowest layer first
  std::vector<Digest> diff_ids;         // parallel to layer_dirs
  ImageConfig config;
  int64_t size = 0;  // sum of the (compressed) layer blob sizes
};

// One line of `images ls`.
struct ImageRecord {
  std::string ref;
  Digest id;
  Digest manifest_digest;
  Digest index_digest;
  int64_t size = 0;
  int64_t created_unix = 0;  // when it was recorded here
};

struct PullOptions {
  RegistryOptions registry;  // plain_http, ca_file, credentials, timeout
  Platform platform;         // chosen from an index; linux/amd64 by default
  int parallel_layers = 3;   // layers downloaded and unpacked at once
};

struct GcStats {
  int blobs_removed = 0;
  int layers_removed = 0;
};

class ImageStore {
 public:
  // Opens (creating) the store under `root` and clears its tmp/.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& root, UnpackOptions unpack = {});

  // Imports one image from an OCI image layout directory and records it as `ref`.
  // `name` picks the index entry by its org.opencontainers.image.ref.name annotation; when
  // empty the layout must hold exactly one image (or one whose name is ref's tag).
  Result<Image> import_oci_layout(const std::string& dir, std::string_view ref, std::string_view name = {},
                                  const Platform& platform = {});
  // Imports every image of a `docker save` archive under its RepoTags (or under `ref` when
  // given, for an archive with one image). Returns the images recorded.
  Result<std::vector<Image>> import_docker_archive(const std::string& path, std::string_view ref = {});
  // Pulls `ref` from its registry: manifest (platform chosen from an index), config, then
  // the layers concurrently, each verified by digest before use and unpacked.
  Result<Image> pull(std::string_view ref, const PullOptions& options = {});

  // The image recorded under `ref` (normalised: "busybox" finds docker.io/library/busybox:latest)
  // or with image ID `ref` ("sha256:<config hex>"). kNotFound when absent.
  Result<Image> resolve(std::string_view ref) const;
  Result<std::vector<ImageRecord>> list() const;
  // Forgets the record; its blobs and layers go at the next gc(). kNotFound when absent.
  Result<void> remove(std::string_view ref);
  // Removes blobs and layer dirs no record references. The caller must not gc layers a
  // running container still uses (the kubelet rule: only images no container uses are removed).
  Result<GcStats> gc();

  const std::string& root() const { return root_; }
  std::string layer_dir(const Digest& diff_id) const { return root_ + "/layers/" + std::string(diff_id.hex()); }
  const BlobStore& blobs() const { return blobs_; }

 private:
  ImageStore() = default;
  // Unpacks the layer blob into layers/<diff_id hex> unless it is there already.
  Result<void> ensure_layer(const Descriptor& layer, const Digest& diff_id);
  // Verifies the manifest's blobs are all present, unpacks its layers and records `ref`.
  Result<Image> commit(const std::string& ref, const Digest& manifest, const Digest& index);
  // The image a manifest (and index) describes. Blobs are content-addressed and verified,
  // so a result is cached by the digests (a pod start resolves its image twice or more).
  Result<Image> load(const std::string& ref, const Digest& manifest, const Digest& index) const;
  Result<Image> load_uncached(const std::string& ref, const Digest& manifest, const Digest& index) const;

  std::string root_;
  UnpackOptions unpack_;
  BlobStore blobs_;
  UniqueFd root_fd_;
  UniqueFd layers_fd_;
  UniqueFd tmp_fd_;
  mutable std::mutex records_mu_;
  mutable std::mutex loaded_mu_;  // guards loaded_
  mutable std::map<std::pair<std::string, std::string>, Image> loaded_;  // (manifest, index) -> image
};

}  // namespace kernlet::images
