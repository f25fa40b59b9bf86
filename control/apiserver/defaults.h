// API defaulting: the fields Kubernetes' defaulting (and the admission plugins every
// cluster runs: Priority, DefaultTolerationSeconds) fills in on every write, so that
// `kubectl get -o yaml` shows the same stored object it would against a real cluster.
#pragma once

#include "api/json.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {

// Fills the API defaults of kind r.kind into obj in place; fields already set are kept.
// Idempotent, never fails (a member of the wrong JSON type is left for validation to
// report). Kinds without defaults are left untouched.
void apply_defaults(const ResourceInfo& r, json::object& obj);

// The imagePullPolicy Kubernetes defaults for an image reference: "Always" when the tag
// is "latest" or absent (and no digest), else "IfNotPresent".
std::string_view default_image_pull_policy(std::string_view image);

}  // namespace kernlet::apiserver
