// Validation of apps/v1 kinds: Deployment, ReplicaSet, DaemonSet, ControllerRevision.
#include <optional>
#include <string>

#include "api/object.h"
#include "control/apiserver/validate.h"

namespace kernlet::apiserver {
namespace validate_detail {
namespace {

// The value of an int-or-percent against 100 (percent strings are their number).
std::optional<int64_t> int_or_percent(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_string()) {
    std::string_view s = v->get_string();
    if (s.size() < 2 || s.back() != '%') return std::nullopt;
    int64_t n = 0;
    for (char c : s.substr(0, s.size() - 1)) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
      if (n > 1000000) return n;
    }
    return n;
  }
  return std::nullopt;
}

// ValidatePositiveIntOrPercent and, when at_most_100, IsNotMoreThan100Percent.
void positive_int_or_percent(Causes& out, const json::object& o, std::string_view key, const std::string& path,
                             bool at_most_100) {
  const json::value* v = json::find(o, key);
  if (v == nullptr || v->is_null()) return;
  if (v->is_string()) {
    if (!int_or_percent(v)) {
      add_invalid_raw(out, path, go_int_or_string(*v),
                      "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
                      "'93%', regex used for validation is '[0-9]+%')");
      return;
    }
    if (at_most_100 && *int_or_percent(v) > 100) add_invalid_raw(out, path, go_int_or_string(*v), "must not be greater than 100%");
  } else if (v->is_int64() && v->get_int64() < 0) {
    add(out, api::field_invalid(path, v->get_int64(), "must be greater than or equal to 0"));
  }
}

void validate_rolling_update(Causes& out, const json::object& ru, const std::string& path) {
  positive_int_or_percent(out, ru, "maxUnavailable", path + ".maxUnavailable", true);
  positive_int_or_percent(out, ru, "maxSurge", path + ".maxSurge", false);
  auto mu = int_or_percent(json::find(ru, "maxUnavailable"));
  auto ms = int_or_percent(json::find(ru, "maxSurge"));
  if (mu.value_or(0) == 0 && ms.value_or(0) == 0) {
    const json::value* v = json::find(ru, "maxUnavailable");
    add_invalid_raw(out, path + ".maxUnavailable", go_int_or_string(v != nullptr ? *v : json::value(0)),
                    "may not be 0 when `maxSurge` is 0");
  }
}

void validate_replicas_and_template(Causes& out, const json::object& spec, std::string_view kind_word) {
  nonnegative(out, spec, "replicas", "spec.replicas");
  nonnegative(out, spec, "minReadySeconds", "spec.minReadySeconds");
  validate_template_and_selector(out, spec, "spec", kind_word);
  if (const json::object* tspec = json::get_path(spec, "template.spec"))
    one_of(out, *tspec, "restartPolicy", "spec.template.spec.restartPolicy", {"Always"}, false);
}

void validate_deployment(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  validate_replicas_and_template(out, spec, "deployment");
  nonnegative(out, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
  const json::object& strategy = api::object_or_empty(spec, "strategy");
  one_of(out, strategy, "type", "spec.strategy.type", {"Recreate", "RollingUpdate"}, true);
  const json::object* ru = json::get_object(strategy, "rollingUpdate");
  std::string_view type = json::get_string(strategy, "type");
  if (type == "Recreate" && ru != nullptr) {
    add(out, api::field_forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
  } else if (type == "RollingUpdate" && ru != nullptr) {
    validate_rolling_update(out, *ru, "spec.strategy.rollingUpdate");
  }
  if (auto pds = json::get_int(spec, "progressDeadlineSeconds")) {
    nonnegative(out, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds");
    if (*pds <= json::get_int_or(spec, "minReadySeconds", 0))
      add(out, api::field_invalid("spec.progressDeadlineSeconds", *pds, "must be greater than minReadySeconds"));
  }
}

void validate_daemonset(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  nonnegative(out, spec, "minReadySeconds", "spec.minReadySeconds");
  nonnegative(out, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
  validate_template_and_selector(out, spec, "spec", "daemonset");
  if (const json::object* tspec = json::get_path(spec, "template.spec"))
    one_of(out, *tspec, "restartPolicy", "spec.template.spec.restartPolicy", {"Always"}, false);
  const json::object& strategy = api::object_or_empty(spec, "updateStrategy");
  one_of(out, strategy, "type", "spec.updateStrategy.type", {"OnDelete", "RollingUpdate"}, true);
  if (json::get_string(strategy, "type") == "RollingUpdate")
    if (const json::object* ru = json::get_object(strategy, "rollingUpdate"))
      validate_rolling_update(out, *ru, "spec.updateStrategy.rollingUpdate");
}

// ValidateControllerRevision: a revision number >= 0; data is what rollbacks restore.
void validate_controller_revision(const json::object& obj, Causes& out) {
  nonnegative(out, obj, "revision", "revision");
  const json::value* data = json::find(obj, "data");
  if (data == nullptr || data->is_null()) add_invalid_raw(out, "data", "null", "data is mandatory");
}

}  // namespace

bool validate_apps_create(const ResourceInfo& r, const json::object& obj, Causes& out) {
  if (r.group != "apps") return false;
  if (r.kind == "Deployment") validate_deployment(obj, out);
  else if (r.kind == "ReplicaSet") validate_replicas_and_template(out, api::object_or_empty(obj, "spec"), "deployment");
  else if (r.kind == "DaemonSet") validate_daemonset(obj, out);
  else if (r.kind == "ControllerRevision") validate_controller_revision(obj, out);
  else return false;
  return true;
}

bool validate_apps_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out) {
  if (r.group != "apps") return false;
  if (r.kind == "ControllerRevision") {
    // The revision number may move (a controller renumbers a revision it returns to);
    // the recorded state never does.
    validate_controller_revision(obj, out);
    const json::value* data = json::find(obj, "data");
    const json::value* old_data = json::find(old, "data");
    if (data != nullptr && old_data != nullptr && *data != *old_data) add_invalid_raw(out, "data", "{...}", "field is immutable");
    return true;
  }
  // apps/v1 made selectors immutable: changing one would orphan the running pods.
  const json::value* sel = json::get_path(obj, "spec") ? json::find(*json::get_path(obj, "spec"), "selector") : nullptr;
  const json::value* old_sel =
      json::get_path(old, "spec") ? json::find(*json::get_path(old, "spec"), "selector") : nullptr;
  bool same = (sel == nullptr && old_sel == nullptr) || (sel != nullptr && old_sel != nullptr && *sel == *old_sel);
  if (!same) add_invalid_raw(out, "spec.selector", go_label_selector(sel), "field is immutable");
  return true;
}

}  // namespace validate_detail
}  // namespace kernlet::apiserver
