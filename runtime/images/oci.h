// The OCI image spec's JSON documents (index, manifest, config) and their Docker v2 schema2
// equivalents (manifest list, manifest), parsed into one model.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/images/digest.h"

namespace kernlet::images {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
}  // namespace media

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

// An index (OCI) or manifest list (Docker).
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// An image manifest (OCI or Docker schema2).
struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// The parts of the image config a runtime uses (OCI config "config" + rootfs).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "NAME=value"
  std::string working_dir;
  std::string user;
  std::string stop_signal;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;
  std::map<std::string, std::string> labels;
  std::string os;
  std::string architecture;
  std::vector<Digest> diff_ids;
};

enum class DocumentKind { kIndex, kManifest };

// Which kind of document `body` is: from `content_type` when it names one, else from the
// document's own mediaType, else from its shape (manifests vs layers). Schema1 is refused.
Result<DocumentKind> classify_document(std::string_view body, std::string_view content_type = {});

Result<Index> parse_index(std::string_view body);
Result<Manifest> parse_manifest(std::string_view body);
Result<ImageConfig> parse_image_config(std::string_view body);

// The manifest for `want` in an index: os and architecture must match; a variant, when
// asked, too. Errors list the platforms the index offers.
Result<Descriptor> select_platform(const Index& index, const Platform& want);

// True for a layer media type kernlet can unpack (tar, tar+gzip, tar+zstd; OCI or Docker).
bool is_supported_layer(std::string_view media_type);

// The Accept header for manifest requests: every manifest and index type kernlet parses.
std::string manifest_accept_header();

}  // namespace kernlet::images
