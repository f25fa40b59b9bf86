// Validation of batch/v1 kinds: Job and CronJob, with the cron schedule parser.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "api/labels.h"
#include "api/object.h"
#include "control/apiserver/validate.h"

namespace kernlet::apiserver {
namespace {

struct Bounds {
  unsigned min;
  unsigned max;
  std::vector<std::string_view> names;  // names[i] is the name of value i ("" = none)
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    parts.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return parts;
    start = p + 1;
  }
}

// robfig/cron's mustParseInt: a non-negative decimal.
std::string parse_uint(std::string_view s, unsigned& out) {
  std::string text(s);
  if (s.empty()) return "failed to parse int from " + text + ": strconv.Atoi: parsing \"\": invalid syntax";
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size() || !std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return "failed to parse int from " + text + ": strconv.Atoi: parsing " + api::go_quote(s) + ": invalid syntax";
  if (s.size() - i > 9) return "failed to parse int from " + text + ": strconv.Atoi: parsing " + api::go_quote(s) + ": value out of range";
  long v = std::stol(text);
  if (v < 0) return "negative number (" + std::to_string(v) + ") not allowed: " + text;
  out = static_cast<unsigned>(v);
  return "";
}

std::string parse_int_or_name(std::string_view s, const Bounds& b, unsigned& out) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::size_t i = 0; i < b.names.size(); ++i) {
    if (!b.names[i].empty() && lower == b.names[i]) {
      out = static_cast<unsigned>(i);
      return "";
    }
  }
  return parse_uint(s, out);
}

std::string check_range(std::string_view expr, const Bounds& b) {
  auto range_and_step = split(expr, '/');
  auto low_high = split(range_and_step[0], '-');
  bool single = low_high.size() == 1;
  unsigned start = 0;
  unsigned end = 0;
  unsigned step = 1;
  std::string e(expr);
  if (low_high[0] == "*" || low_high[0] == "?") {
    start = b.min;
    end = b.max;
  } else {
    if (auto err = parse_int_or_name(low_high[0], b, start); !err.empty()) return err;
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      if (auto err = parse_int_or_name(low_high[1], b, end); !err.empty()) return err;
    } else {
      return "too many hyphens: " + e;
    }
  }
  if (range_and_step.size() == 2) {
    if (auto err = parse_uint(range_and_step[1], step); !err.empty()) return err;
    if (single && low_high[0] != "*" && low_high[0] != "?") end = b.max;  // "N/step" means N-max/step
  } else if (range_and_step.size() > 2) {
    return "too many slashes: " + e;
  }
  if (start < b.min)
    return "beginning of range (" + std::to_string(start) + ") below minimum (" + std::to_string(b.min) + "): " + e;
  if (end > b.max)
    return "end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(b.max) + "): " + e;
  if (start > end)
    return "beginning of range (" + std::to_string(start) + ") beyond end of range (" + std::to_string(end) + "): " + e;
  if (step == 0) return "step of range should be a positive number: " + e;
  return "";
}

bool valid_go_duration(std::string_view s) {
  if (s.empty()) return false;
  if (s == "0") return true;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    std::size_t digits = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i, ++digits;
    if (digits == 0) return false;
    std::size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])) != 0) ++i;
    std::string_view unit = s.substr(u, i - u);
    if (unit != "ns" && unit != "us" && unit != "µs" && unit != "ms" && unit != "s" && unit != "m" && unit != "h")
      return false;
    any = true;
  }
  return any;
}

}  // namespace

std::string check_cron_schedule(std::string_view schedule) {
  std::string s(schedule);
  // Trim as strings.Fields would.
  std::vector<std::string_view> fields;
  std::string_view rest = schedule;
  while (!rest.empty()) {
    std::size_t b = 0;
    while (b < rest.size() && std::isspace(static_cast<unsigned char>(rest[b]))) ++b;
    std::size_t e = b;
    while (e < rest.size() && !std::isspace(static_cast<unsigned char>(rest[e]))) ++e;
    if (e > b) fields.push_back(rest.substr(b, e - b));
    rest.remove_prefix(e);
  }
  if (fields.empty()) return "empty spec string";
  if (fields[0].starts_with("TZ=") || fields[0].starts_with("CRON_TZ=")) fields.erase(fields.begin());
  if (!fields.empty() && fields[0].starts_with("@")) {
    std::string_view d = fields[0];
    static constexpr std::array<std::string_view, 7> kDescriptors = {"@yearly", "@annually", "@monthly", "@weekly",
                                                                     "@daily",  "@midnight", "@hourly"};
    if (fields.size() == 1 && std::find(kDescriptors.begin(), kDescriptors.end(), d) != kDescriptors.end()) return "";
    std::string_view whole = schedule;
    while (!whole.empty() && std::isspace(static_cast<unsigned char>(whole.front()))) whole.remove_prefix(1);
    if (whole.starts_with("@every ")) {
      std::string_view dur = whole.substr(7);
      if (valid_go_duration(dur)) return "";
      return "failed to parse duration " + std::string(whole) + ": time: invalid duration " + api::go_quote(dur);
    }
    return "unrecognized descriptor: " + std::string(whole);
  }
  if (fields.size() != 5) {
    std::string list = "[";
    for (std::size_t i = 0; i < fields.size(); ++i) list += (i ? " " : "") + std::string(fields[i]);
    return "expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " + list + "]";
  }
  const std::array<Bounds, 5> bounds = {
      Bounds{0, 59, {}},
      Bounds{0, 23, {}},
      Bounds{1, 31, {}},
      Bounds{1, 12, {"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
      Bounds{0, 6, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
  };
  for (std::size_t f = 0; f < 5; ++f)
    for (auto expr : split(fields[f], ','))
      if (auto err = check_range(expr, bounds[f]); !err.empty()) return err;
  return "";
}

namespace validate_detail {
namespace {

void validate_job_template(Causes& out, const json::object& spec, const std::string& path) {
  const json::object* tspec = json::get_path(spec, "template.spec");
  if (tspec == nullptr) {
    add(out, api::field_required(path + ".template", ""));
    return;
  }
  validate_pod_spec(out, *tspec, path + ".template.spec");
  std::string_view rp = json::get_string(*tspec, "restartPolicy");
  if (rp != "OnFailure" && rp != "Never")
    add(out, api::field_not_supported(path + ".template.spec.restartPolicy", json::value(rp), {"OnFailure", "Never"}));
}

void validate_job_spec(Causes& out, const json::object& spec, const std::string& path) {
  for (std::string_view k : {"parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"})
    nonnegative(out, spec, k, path + "." + std::string(k));
  positive(out, spec, "activeDeadlineSeconds", path + ".activeDeadlineSeconds");
  one_of(out, spec, "completionMode", path + ".completionMode", {"NonIndexed", "Indexed"}, false);
  if (json::get_string(spec, "completionMode") == "Indexed" && !json::get_int(spec, "completions"))
    add(out, api::field_required(path + ".completions", "when completion mode is Indexed"));
  validate_job_template(out, spec, path);
}

void validate_job(const json::object& obj, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  validate_job_spec(out, spec, "spec");
  const json::value* sel = json::find(spec, "selector");
  const json::object* tmeta = json::get_path(spec, "template.metadata");
  const json::object* labels = tmeta != nullptr ? json::get_object(*tmeta, "labels") : nullptr;
  if (sel == nullptr || sel->is_null()) {
    add(out, api::field_required("spec.selector", ""));
    return;
  }
  api::FieldErrors errs = api::validate_label_selector(sel, "spec.selector");
  add_all(out, errs);
  if (!errs.empty()) return;
  auto selector = api::Selector::from_json(sel, api::Selector::NullMeans::kNothing, "spec.selector");
  if (selector.ok() && !selector->matches(labels))
    add_invalid_raw(out, "spec.template.metadata.labels", go_string_map(labels),
                    "`selector` does not match template `labels`");
  if (!json::get_bool_or(spec, "manualSelector", false)) {
    // Generated selectors pin the Job's own uid; any other value was written by hand.
    std::string_view uid = api::Meta(obj).uid();
    const json::object* ml = json::get_object(sel->as_object(), "matchLabels");
    std::string_view got = ml != nullptr ? json::get_string(*ml, "batch.kubernetes.io/controller-uid") : "";
    if (!uid.empty() && got != uid)
      add_invalid_raw(out, "spec.selector", go_label_selector(sel), "`selector` not auto-generated");
  }
}

void validate_cronjob(const json::object& obj, Causes& out) {
  std::string_view name = api::Meta(obj).name();
  // Job names get an 11-character suffix and must stay DNS labels.
  if (name.size() > 52) add(out, api::field_invalid("metadata.name", json::value(name), "must be no more than 52 characters"));
  const json::object& spec = api::object_or_empty(obj, "spec");
  std::string_view schedule = json::get_string(spec, "schedule");
  if (schedule.empty()) {
    add(out, api::field_required("spec.schedule", ""));
  } else {
    std::string err = check_cron_schedule(schedule);
    if (!err.empty()) {
      add(out, api::field_invalid("spec.schedule", json::value(schedule), err));
    } else if (schedule.find("TZ") != std::string_view::npos) {
      add(out, api::field_invalid("spec.schedule", json::value(schedule),
                                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
    }
  }
  one_of(out, spec, "concurrencyPolicy", "spec.concurrencyPolicy", {"Allow", "Forbid", "Replace"}, true);
  nonnegative(out, spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds");
  nonnegative(out, spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit");
  nonnegative(out, spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit");
  const json::object* jspec = json::get_path(spec, "jobTemplate.spec");
  if (jspec == nullptr) {
    add(out, api::field_required("spec.jobTemplate", ""));
  } else {
    validate_job_spec(out, *jspec, "spec.jobTemplate.spec");
  }
}

void immutable_member(Causes& out, const json::object& spec, const json::object& old_spec, std::string_view key,
                      const std::string& path) {
  const json::value* a = json::find(spec, key);
  const json::value* b = json::find(old_spec, key);
  if ((a == nullptr) == (b == nullptr) && (a == nullptr || *a == *b)) return;
  if (key == "selector") {
    add_invalid_raw(out, path, go_label_selector(a), "field is immutable");
  } else if (a == nullptr || a->is_null()) {
    add_invalid_raw(out, path, "null", "field is immutable");
  } else {
    add(out, api::field_invalid(path, *a, "field is immutable"));
  }
}

void validate_job_update(const json::object& obj, const json::object& old, Causes& out) {
  const json::object& spec = api::object_or_empty(obj, "spec");
  const json::object& old_spec = api::object_or_empty(old, "spec");
  immutable_member(out, spec, old_spec, "selector", "spec.selector");
  immutable_member(out, spec, old_spec, "completionMode", "spec.completionMode");
  // Indexed Jobs may scale completions together with parallelism (elastic Indexed Jobs).
  bool elastic = json::get_string(spec, "completionMode") == "Indexed" &&
                 json::get_int(spec, "completions") == json::get_int(spec, "parallelism");
  if (!elastic) immutable_member(out, spec, old_spec, "completions", "spec.completions");
  // A suspended Job that never started may change its template's scheduling directives;
  // this keeps to the common rule: the template is frozen.
  const json::value* t = json::find(spec, "template");
  const json::value* ot = json::find(old_spec, "template");
  bool suspended = json::get_bool_or(old_spec, "suspend", false);
  if (!suspended && ((t == nullptr) != (ot == nullptr) || (t != nullptr && *t != *ot)))
    add(out, api::field_invalid("spec.template", t != nullptr ? *t : json::value(nullptr), "field is immutable"));
}

}  // namespace

bool validate_batch_create(const ResourceInfo& r, const json::object& obj, Causes& out) {
  if (r.group != "batch") return false;
  if (r.kind == "Job") validate_job(obj, out);
  else if (r.kind == "CronJob") validate_cronjob(obj, out);
  else return false;
  return true;
}

bool validate_batch_update(const ResourceInfo& r, const json::object& obj, const json::object& old, Causes& out) {
  if (r.group != "batch") return false;
  if (r.kind == "Job") validate_job_update(obj, old, out);
  return true;
}

}  // namespace validate_detail
}  // namespace kernlet::apiserver
