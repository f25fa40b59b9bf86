#include "csi/volume/downward_api.h"

#include <algorithm>
#include <vector>

#include "api/objects/pod.h"

namespace kernlet::csi {

namespace {

std::string_view after_prefix(std::string_view s, std::string_view prefix) {
  return s.substr(prefix.size());
}

}  // namespace

std::string format_label_map(const json::object* m) {
  if (m == nullptr) return {};
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (const auto& kv : *m) {
    std::string_view v = kv.value().is_string() ? std::string_view(kv.value().get_string()) : "";
    entries.emplace_back(std::string_view(kv.key()), v);
  }
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& [k, v] : entries) {
    if (!out.empty()) out += '\n';
    out += k;
    out += '=';
    out += go_quote(v);
  }
  return out;
}

Result<std::string> downward_field_value(const json::object& pod, std::string_view field_path) {
  api::Meta meta(pod);
  if (field_path == "metadata.name") return std::string(meta.name());
  if (field_path == "metadata.namespace") return std::string(meta.namespace_());
  if (field_path == "metadata.uid") return std::string(meta.uid());
  if (field_path == "metadata.labels") return format_label_map(meta.labels());
  if (field_path == "metadata.annotations") return format_label_map(meta.annotations());
  // metadata.labels['key'] / metadata.annotations['key']
  for (std::string_view prefix : {std::string_view("metadata.labels['"), std::string_view("metadata.annotations['")}) {
    if (field_path.starts_with(prefix) && field_path.ends_with("']") &&
        field_path.size() >= prefix.size() + 2) {
      std::string_view key = after_prefix(field_path, prefix);
      key.remove_suffix(2);
      bool labels = prefix == "metadata.labels['";
      std::optional<std::string_view> v = labels ? meta.label(key) : meta.annotation(key);
      return std::string(v.value_or(""));
    }
  }
  return Error(ErrorCode::kInvalidArgument, "unsupported fieldPath: " + std::string(field_path));
}

Result<std::string> downward_resource_value(const json::object& pod, std::string_view container,
                                            std::string_view resource, const json::value* divisor,
                                            const api::ResourceList& node_allocatable) {
  std::string what = "resourceFieldRef " + std::string(resource) + " of container \"" + std::string(container) + "\"";
  api::PodSpecView spec = api::PodView(pod).spec();
  std::optional<api::ContainerView> found;
  for (const auto& c : spec.containers())
    if (c.name() == container) found = c;
  if (!found)
    for (const auto& c : spec.init_containers())
      if (c.name() == container) found = c;
  if (!found) return Error(ErrorCode::kInvalidArgument, what + ": no such container in the pod");

  bool is_limit = resource.starts_with("limits.");
  bool is_request = resource.starts_with("requests.");
  if (!is_limit && !is_request) return Error(ErrorCode::kInvalidArgument, what + ": unsupported resource");
  std::string_view name = resource.substr(is_limit ? 7 : 9);
  if (name != "cpu" && name != "memory" && name != "ephemeral-storage" && !name.starts_with("hugepages-"))
    return Error(ErrorCode::kInvalidArgument, what + ": unsupported resource");

  api::ResourcesView res = found->resources();
  api::ResourceListView list = is_limit ? res.limits() : res.requests();
  Quantity q;
  if (list.has(name)) {
    Result<Quantity> r = list.get(name);
    if (!r.ok()) return std::move(r).error().context(what);
    q = *r;
  } else if (is_limit && (name == "cpu" || name == "memory" || name == "ephemeral-storage")) {
    // As the kubelet: a container without a limit may use what the node has to give.
    if (auto it = node_allocatable.find(name); it != node_allocatable.end()) q = it->second;
  }

  Quantity div = Quantity::from_int(1);
  if (divisor != nullptr && !divisor->is_null()) {
    Result<Quantity> d = api::quantity_from_json(*divisor);
    if (!d.ok()) return std::move(d).error().context(what + ": divisor");
    div = *d;
  }
  bool cpu = name == "cpu";
  Result<int64_t> num = cpu ? q.milli_value() : q.value();
  Result<int64_t> den = cpu ? div.milli_value() : div.value();
  if (!num.ok()) return std::move(num).error().context(what);
  if (!den.ok()) return std::move(den).error().context(what + ": divisor");
  if (*den <= 0) return Error(ErrorCode::kInvalidArgument, what + ": divisor must be positive");
  int64_t v = *num / *den + ((*num % *den) > 0 ? 1 : 0);  // ceil, as math.Ceil upstream
  return std::to_string(v);
}

}  // namespace kernlet::csi
