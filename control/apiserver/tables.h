// Server-side printing: the meta.k8s.io/v1 Table the API server returns for
// `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`, which is what `kubectl get`
// asks for and prints verbatim (column names upper-cased, priority-1 columns only with
// -o wide).
//
// Columns and cells follow Kubernetes' built-in printers (pkg/printers/internalversion)
// for the kinds kernlet serves; any other resource gets the generic table of the API
// server's default convertor (Name, Created At). All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {

// The includeObject query parameter of a Table request: what each row's `object` holds.
enum class IncludeObject {
  kNone,      // null
  kMetadata,  // a meta.k8s.io/v1 PartialObjectMetadata (the API server's default)
  kObject,    // the whole object (kubectl asks for it when sorting with --sort-by)
};

// Parses includeObject: "None", "Metadata", "Object", or "" (the default, Metadata);
// nullopt for anything else (the API server answers 400 then).
std::optional<IncludeObject> parse_include_object(std::string_view value);

struct TableOptions {
  IncludeObject include_object = IncludeObject::kMetadata;
  // TableOptions.noHeaders: leave columnDefinitions out (null), as for watch events
  // after the first.
  bool no_headers = false;
  // The Table's ListMeta, copied from the list (or the object's resourceVersion for a get).
  std::string resource_version;
  std::string continue_token;
  std::optional<int64_t> remaining_item_count;
  // The reference time for ages and durations; injected so output is deterministic.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// The Table for `objects` (one per row, in order) of `resource`. Objects need not be
// well-formed: a missing or mistyped field prints as Kubernetes prints its zero value.
json::object make_table(const ResourceInfo& resource, const std::vector<const json::object*>& objects,
                        const TableOptions& options);

// apimachinery's duration.HumanDuration, the form of every Age column: "45s", "3m2s",
// "10m", "5h3m", "3d4h", "2y10d". Up to one second in the future reads "0s"; further
// ahead is "<invalid>".
std::string human_duration(std::chrono::nanoseconds d);

// The pod's STATUS column as kubectl shows it: the phase or status.reason, overridden by
// init container progress ("Init:1/2", "Init:CrashLoopBackOff"), container waiting or
// terminated reasons ("ContainerCreating", "Completed", "Error"), "NotReady",
// "Terminating" or "Unknown" for a pod being deleted.
std::string pod_status_reason(const json::object& pod);

}  // namespace kernlet::apiserver
