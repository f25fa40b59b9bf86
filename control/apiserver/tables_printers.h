// Internals of tables.cc shared by the per-group printer files (tables_*.cc): the column
// and row shapes, the formatting helpers every printer uses, and each group's lookup.
// Not for use outside the table code.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "api/json.h"

namespace kernlet::apiserver::tables {

using TimePoint = std::chrono::system_clock::time_point;

// One metav1.TableColumnDefinition.
struct Column {
  std::string_view name;
  std::string_view type;         // "string", "integer", "boolean", "date"
  std::string_view format;       // "name" for the object's name column, else ""
  std::string_view description;
  int priority = 0;              // 1: shown by kubectl only with -o wide
};

// One row: its cells, and metav1.TableRowConditions (pods that finished get one).
struct Row {
  json::array cells;
  json::array conditions;
};

using PrintFn = Row (*)(const json::object& obj, TimePoint now);

struct Printer {
  std::span<const Column> columns;
  PrintFn print;
};

// ObjectMeta's swagger descriptions, which upstream uses for every Name and Age column.
inline constexpr std::string_view kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of a name automatically. Name is "
    "primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
inline constexpr std::string_view kAgeDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It "
    "is not guaranteed to be set in happens-before order across separate operations. Clients may not "
    "set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
inline constexpr std::string_view kContainersDescription = "Names of each container in the template.";
inline constexpr std::string_view kImagesDescription = "Images referenced by each container in the template.";

// translateTimestampSince: HumanDuration from an RFC 3339 time to now; "<unknown>" when
// the time is unset or unparsable.
std::string since(std::string_view rfc3339, TimePoint now);
// The Age cell of an object (metadata.creationTimestamp).
std::string age(const json::object& obj, TimePoint now);
// A RFC 3339 time parsed, or nullopt when unset or malformed.
std::optional<TimePoint> parse_time(std::string_view rfc3339);

// labels.FormatLabels: "k1=v1,k2=v2" sorted by key; "<none>" when empty or null.
std::string format_labels(const json::object* labels);
// metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key, "" for an
// unset or empty selector; nullopt when an expression is malformed.
std::optional<std::string> selector_string(const json::object* selector);
// metav1.FormatLabelSelector: selector_string, "<none>" when empty, "<error>" when bad.
std::string format_label_selector(const json::object* selector);
// layoutContainerCells: the containers' names and images, comma-separated.
std::pair<std::string, std::string> container_cells(const json::object& pod_spec);
// A quantity's canonical string (resource.Quantity.String()); "0" when absent.
std::string quantity_string(const json::value* v);
// o[key] as an int64 when it is an integer, else `fallback`.
int64_t int_or(const json::object& o, std::string_view key, int64_t fallback = 0);

// The printer for a resource of each group file; nullptr when that file has none.
const Printer* find_workload_printer(std::string_view group, std::string_view resource);

}  // namespace kernlet::apiserver::tables
