// The downward API as a volume projects it: pod metadata fields and container resources
// rendered to file contents exactly as the kubelet renders them.
// Thread-safety: free functions; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "api/json.h"
#include "api/object.h"
#include "api/result.h"
#include "api/validation.h"

namespace kernlet::csi {

// Go's %q of a string: the one in api/validation.h.
using api::go_quote;

// A labels/annotations map as the kubelet writes it: one `key="value"` line per entry
// (value Go-quoted), keys in byte order, no trailing newline. nullptr reads as empty.
std::string format_label_map(const json::object* m);

// The contents of a downwardAPI file for fieldRef.fieldPath: metadata.name,
// metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, and the
// subscripted metadata.labels['k'] / metadata.annotations['k'] ("" when k is absent).
// Anything else is kInvalidArgument `unsupported fieldPath: <path>`.
Result<std::string> downward_field_value(const json::object& pod, std::string_view field_path);

// The contents of a downwardAPI file for resourceFieldRef: `resource` (limits.cpu,
// requests.memory, limits.ephemeral-storage, limits.hugepages-2Mi, ...) of the container
// named `container`, divided by `divisor` (nullptr: 1) and rounded up, as the kubelet
// does: cpu in millis (ceil(milli / divisor milli)), others in units. An unset cpu, memory
// or ephemeral-storage limit reads as the node's allocatable. Errors name the container
// and resource.
Result<std::string> downward_resource_value(const json::object& pod, std::string_view container,
                                            std::string_view resource, const json::value* divisor,
                                            const api::ResourceList& node_allocatable);

}  // namespace kernlet::csi
