#include "control/apiserver/deletion.h"

#include <charconv>

#include "api/object.h"

namespace kernlet::apiserver {
namespace {

using api::Status;

Status invalid_options(std::string_view field, std::string detail) {
  return Status::invalid("meta.k8s.io", "DeleteOptions", "", {{"FieldValueInvalid", std::move(detail), std::string(field)}});
}

std::optional<Propagation> parse_policy(std::string_view s) {
  if (s == "Background") return Propagation::kBackground;
  if (s == "Foreground") return Propagation::kForeground;
  if (s == "Orphan") return Propagation::kOrphan;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Propagation p) {
  switch (p) {
    case Propagation::kUnset: return "";
    case Propagation::kBackground: return "Background";
    case Propagation::kForeground: return "Foreground";
    case Propagation::kOrphan: return "Orphan";
  }
  return "";
}

std::variant<DeleteOptions, api::Status> parse_delete_options(const RequestInfo& info, const json::value* body) {
  DeleteOptions o;
  std::optional<std::string> policy;
  std::optional<bool> orphan;
  std::optional<std::string> dry_run;
  if (body != nullptr && !body->is_null()) {
    if (!body->is_object()) return Status::bad_request("DeleteOptions: expected an object");
    const json::object& b = body->as_object();
    if (const json::value* k = json::find(b, "kind"); k != nullptr && !k->is_null()) {
      if (!k->is_string() || k->get_string() != "DeleteOptions") {
        return Status::bad_request("the body of a DELETE must be a DeleteOptions object, got kind " +
                                   json::dump(*k));
      }
    }
    if (const json::value* g = json::find(b, "gracePeriodSeconds"); g != nullptr && !g->is_null()) {
      if (!g->is_int64()) return Status::bad_request("DeleteOptions.gracePeriodSeconds: expected an integer");
      o.grace_period_seconds = g->as_int64();
    }
    if (const json::value* p = json::find(b, "propagationPolicy"); p != nullptr && !p->is_null()) {
      if (!p->is_string()) return Status::bad_request("DeleteOptions.propagationPolicy: expected a string");
      policy = std::string(p->get_string());
    }
    if (const json::value* od = json::find(b, "orphanDependents"); od != nullptr && !od->is_null()) {
      if (!od->is_bool()) return Status::bad_request("DeleteOptions.orphanDependents: expected a boolean");
      orphan = od->as_bool();
    }
    if (const json::value* pre = json::find(b, "preconditions"); pre != nullptr && !pre->is_null()) {
      if (!pre->is_object()) return Status::bad_request("DeleteOptions.preconditions: expected an object");
      if (const json::value* u = json::find(pre->as_object(), "uid"); u != nullptr && !u->is_null()) {
        if (!u->is_string()) return Status::bad_request("DeleteOptions.preconditions.uid: expected a string");
        o.precondition_uid = std::string(u->get_string());
      }
      if (const json::value* rv = json::find(pre->as_object(), "resourceVersion"); rv != nullptr && !rv->is_null()) {
        if (!rv->is_string()) {
          return Status::bad_request("DeleteOptions.preconditions.resourceVersion: expected a string");
        }
        o.precondition_resource_version = std::string(rv->get_string());
      }
    }
    if (const json::value* d = json::find(b, "dryRun"); d != nullptr && !d->is_null()) {
      if (!d->is_array()) return Status::bad_request("DeleteOptions.dryRun: expected a list of strings");
      for (const json::value& e : d->as_array()) {
        if (!e.is_string()) return Status::bad_request("DeleteOptions.dryRun: expected a list of strings");
        dry_run = std::string(e.get_string());
      }
    }
  }
  // Query parameters (what `kubectl delete` and curl users send) override the body.
  auto grace = info.int_param("gracePeriodSeconds");
  if (!grace.ok()) return Status::bad_request(grace.error().message());
  if (*grace) o.grace_period_seconds = **grace;
  if (auto p = info.param("propagationPolicy")) policy = std::string(*p);
  if (info.param("orphanDependents")) {
    auto b = info.bool_param("orphanDependents");
    if (!b.ok()) return Status::bad_request(b.error().message());
    orphan = *b;
  }
  if (auto d = info.param("dryRun")) dry_run = std::string(*d);

  if (o.grace_period_seconds && *o.grace_period_seconds < 0) {
    return invalid_options("gracePeriodSeconds", "must be greater than or equal to 0");
  }
  if (policy && orphan) {
    return invalid_options("propagationPolicy", "orphanDependents and propagationPolicy cannot both be set");
  }
  if (policy) {
    auto p = parse_policy(*policy);
    if (!p) {
      return invalid_options("propagationPolicy", "Unsupported value: \"" + *policy +
                                                      "\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
    }
    o.propagation = *p;
  } else if (orphan) {
    o.propagation = *orphan ? Propagation::kOrphan : Propagation::kBackground;
  }
  if (dry_run) {
    if (*dry_run != "All") {
      return invalid_options("dryRun", "Unsupported value: \"" + *dry_run + "\": supported values: \"All\"");
    }
    o.dry_run = true;
  }
  return o;
}

Propagation effective_propagation(const ResourceInfo& r, const json::object& obj, Propagation requested) {
  if (requested != Propagation::kUnset) return requested;
  api::Meta meta(obj);
  if (meta.has_finalizer(kOrphanFinalizer)) return Propagation::kOrphan;
  if (meta.has_finalizer(kForegroundFinalizer)) return Propagation::kForeground;
  if (r.group == "batch" && r.version == "v1" && r.resource == "jobs") return Propagation::kOrphan;
  return Propagation::kBackground;
}

std::optional<std::string> delete_warning(const ResourceInfo& r, Propagation requested) {
  if (requested == Propagation::kUnset && r.group == "batch" && r.version == "v1" && r.resource == "jobs") {
    return "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to "
           "remove them or set propagationPolicy=Orphan to suppress this warning";
  }
  return std::nullopt;
}

int64_t pod_grace_period(const json::object& pod, std::optional<int64_t> requested, bool node_exists) {
  const json::object& spec = api::object_or_empty(pod, "spec");
  const json::object& status = api::object_or_empty(pod, "status");
  std::string_view node = json::get_string(spec, "nodeName");
  std::string_view phase = json::get_string(status, "phase");
  if (node.empty() || !node_exists || phase == "Succeeded" || phase == "Failed") return 0;
  if (requested) return *requested;
  return json::get_int_or(spec, "terminationGracePeriodSeconds", 30);
}

}  // namespace kernlet::apiserver
