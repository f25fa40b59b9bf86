// Validation of the built-in kinds on create and update: the 422 causes Kubernetes'
// apiserver reports (reason, field path, message), so `kubectl apply` prints what it
// prints against a real cluster. Call after apply_defaults and prepare_for_*.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/status.h"
#include "api/validation.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {

// The causes that make a create of obj invalid; empty when it is valid. Pure.
std::vector<api::StatusCause> validate_create(const ResourceInfo& r, const json::object& obj);

// The causes that make an update of `old` into obj invalid (subresource "" for the
// object itself, "status" for /status); empty when it is valid. Pure.
std::vector<api::StatusCause> validate_update(const ResourceInfo& r, const json::object& obj,
                                              const json::object& old, std::string_view subresource);

// Checks a cron schedule as CronJob validation does (robfig/cron's standard parser:
// five fields or an @descriptor). Returns "" when valid, else the parser's message,
// e.g. "expected exactly 5 fields, found 3: [* * *]".
std::string check_cron_schedule(std::string_view schedule);

// Helpers shared by the validate_*.cc files, one per API group; not for other callers.
namespace validate_detail {

using Causes = std::vector<api::StatusCause>;

void add(Causes& out, const api::FieldError& e);
void add_all(Causes& out, const api::FieldErrors& errors);
// An Invalid cause whose bad value is printed as Go's %#v prints it (`map[string]string{...}`).
void add_invalid_raw(Causes& out, std::string field, std::string go_value, std::string_view detail);
void add_not_found(Causes& out, std::string field, json::value bad_value);
void add_duplicate(Causes& out, std::string field, json::value bad_value);

// Go's %#v of a map[string]string (keys sorted); nullptr prints as nil.
std::string go_string_map(const json::object* m);
// Go's %#v of a v1.LabelSelector.
std::string go_label_selector(const json::value* selector);
// Go's %#v of an intstr.IntOrString.
std::string go_int_or_string(const json::value& v);
// Go's %#v of a []string.
std::string go_string_slice(const std::vector<std::string>& v);

// Integer checks with Kubernetes' wording; absent/non-integer fields are skipped.
void nonnegative(Causes& out, const json::object& o, std::string_view key, const std::string& path);
void positive(Causes& out, const json::object& o, std::string_view key, const std::string& path);
// "must be between 1 and 65535, inclusive".
void port_number(Causes& out, int64_t port, const std::string& path);
// IANA_SVC_NAME, as container and service port names are checked.
std::vector<std::string> port_name_problems(std::string_view name);
// An enum: NotSupported when set to something else; Required when required and empty.
void one_of(Causes& out, const json::object& o, std::string_view key, const std::string& path,
            const std::vector<std::string>& allowed, bool required);

// A PodSpec at `path` ("spec", "spec.template.spec").
void validate_pod_spec(Causes& out, const json::object& spec, const std::string& path);
// A pod template of a controller at `path` ("spec.template"), with its selector: the
// selector must be present, valid, non-empty ("empty selector is invalid for <kind_word>")
// and match the template labels.
void validate_template_and_selector(Causes& out, const json::object& spec, const std::string& spec_path,
                                    std::string_view kind_word);

// Per-group entry points: each returns true when it knows the kind.
bool validate_core_create(const ResourceInfo& r, const json::object& obj, Causes& out);
bool validate_core_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out);
bool validate_apps_create(const ResourceInfo& r, const json::object& obj, Causes& out);
bool validate_apps_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out);
bool validate_batch_create(const ResourceInfo& r, const json::object& obj, Causes& out);
bool validate_batch_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out);
bool validate_other_create(const ResourceInfo& r, const json::object& obj, Causes& out);
bool validate_other_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out);

}  // namespace validate_detail
}  // namespace kernlet::apiserver
