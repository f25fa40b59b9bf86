// Image references as Docker and Kubernetes write them, normalised the way containerd and
// the kubelet do: `busybox` is `docker.io/library/busybox:latest`.
#pragma once

#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::images {

struct Reference {
  std::string domain;      // "docker.io", "127.0.0.1:5000", "localhost"
  std::string repository;  // path within the registry: "library/busybox"
  std::string tag;         // "latest" when neither tag nor digest was given; may be empty
  std::string digest;      // "sha256:…" or empty

  // Parses and normalises. Errors name the input and what is wrong with it.
  static Result<Reference> parse(std::string_view text);

  // The canonical form: domain/repository[:tag][@digest].
  std::string str() const;
  // domain/repository.
  std::string name() const { return domain + "/" + repository; }
  // The tag or the digest, as the registry's manifests/<reference> wants it (digest wins).
  std::string manifest_reference() const { return digest.empty() ? tag : digest; }
  // The host to connect to: docker.io's registry lives at registry-1.docker.io.
  std::string registry_host() const;
};

}  // namespace kernlet::images
