#include "api/objects/workloads.h"

#include <charconv>
#include <string>

namespace kernlet::api {
namespace {

__extension__ typedef __int128 int128;  // __extension__: no -Wpedantic noise

Error invalid_int_or_string(const std::string& why) {
  return Error(ErrorCode::kInvalidArgument, "invalid value for IntOrString: " + why);
}

// Go's strconv.Atoi: an optional sign, then decimal digits, within int64.
std::optional<int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int128 floor_div(int128 a, int128 b) {
  int128 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int128 ceil_div(int128 a, int128 b) {
  int128 q = a / b;
  if ((a % b != 0) && ((a < 0) == (b < 0))) ++q;
  return q;
}

// rollingUpdate.<field>, defaulted, when the strategy type is RollingUpdate.
std::optional<IntOrString> rolling_update_field(const json::object& strategy,
                                                std::string_view type, std::string_view field,
                                                IntOrString fallback) {
  if (type != "RollingUpdate") return std::nullopt;
  const json::object& ru = object_or_empty(strategy, "rollingUpdate");
  return get_int_or_string(ru, field).value_or(fallback);
}

constexpr IntOrString kQuarter{false, 0, "25%"};

}  // namespace

Result<int64_t> scaled_value_from_int_or_percent(const IntOrString& v, int64_t total,
                                                 bool round_up) {
  if (v.is_int) return v.int_value;
  std::string_view s = v.str_value;
  if (s.empty() || s.back() != '%') {
    return invalid_int_or_string("invalid type: string is not a percentage");
  }
  std::optional<int64_t> percent = parse_int(s.substr(0, s.size() - 1));
  if (!percent) {
    return invalid_int_or_string("invalid value \"" + std::string(s) +
                                 "\": not an integer percentage");
  }
  const int128 scaled = static_cast<int128>(*percent) * total;
  const int128 r = round_up ? ceil_div(scaled, 100) : floor_div(scaled, 100);
  if (r > INT64_MAX || r < INT64_MIN) {
    return invalid_int_or_string("\"" + std::string(s) + "\" of " + std::to_string(total) +
                                 " overflows");
  }
  return static_cast<int64_t>(r);
}

// ---- Deployment

int64_t DeploymentSpecView::replicas() const { return json::get_int_or(*s_, "replicas", 1); }
const json::object* DeploymentSpecView::selector() const {
  return json::get_object(*s_, "selector");
}
PodTemplateView DeploymentSpecView::template_() const {
  return PodTemplateView(object_or_empty(*s_, "template"));
}
std::string_view DeploymentSpecView::strategy_type() const {
  return string_or_default(object_or_empty(*s_, "strategy"), "type", "RollingUpdate");
}
std::optional<IntOrString> DeploymentSpecView::max_surge() const {
  return rolling_update_field(object_or_empty(*s_, "strategy"), strategy_type(), "maxSurge",
                              kQuarter);
}
std::optional<IntOrString> DeploymentSpecView::max_unavailable() const {
  return rolling_update_field(object_or_empty(*s_, "strategy"), strategy_type(),
                              "maxUnavailable", kQuarter);
}
int64_t DeploymentSpecView::min_ready_seconds() const {
  return json::get_int_or(*s_, "minReadySeconds", 0);
}
int64_t DeploymentSpecView::revision_history_limit() const {
  return json::get_int_or(*s_, "revisionHistoryLimit", 10);
}
int64_t DeploymentSpecView::progress_deadline_seconds() const {
  return json::get_int_or(*s_, "progressDeadlineSeconds", 600);
}
bool DeploymentSpecView::paused() const { return json::get_bool_or(*s_, "paused", false); }

int64_t DeploymentStatusView::observed_generation() const {
  return json::get_int_or(*s_, "observedGeneration", 0);
}
int64_t DeploymentStatusView::replicas() const { return json::get_int_or(*s_, "replicas", 0); }
int64_t DeploymentStatusView::updated_replicas() const {
  return json::get_int_or(*s_, "updatedReplicas", 0);
}
int64_t DeploymentStatusView::ready_replicas() const {
  return json::get_int_or(*s_, "readyReplicas", 0);
}
int64_t DeploymentStatusView::available_replicas() const {
  return json::get_int_or(*s_, "availableReplicas", 0);
}
int64_t DeploymentStatusView::unavailable_replicas() const {
  return json::get_int_or(*s_, "unavailableReplicas", 0);
}
std::optional<int64_t> DeploymentStatusView::terminating_replicas() const {
  return json::get_int(*s_, "terminatingReplicas");
}
std::optional<int64_t> DeploymentStatusView::collision_count() const {
  return json::get_int(*s_, "collisionCount");
}
std::vector<ConditionView> DeploymentStatusView::conditions() const { return get_conditions(*s_); }
std::optional<ConditionView> DeploymentStatusView::condition(std::string_view type) const {
  return find_condition(*s_, type);
}

// ---- ReplicaSet

int64_t ReplicaSetSpecView::replicas() const { return json::get_int_or(*s_, "replicas", 1); }
const json::object* ReplicaSetSpecView::selector() const {
  return json::get_object(*s_, "selector");
}
PodTemplateView ReplicaSetSpecView::template_() const {
  return PodTemplateView(object_or_empty(*s_, "template"));
}
int64_t ReplicaSetSpecView::min_ready_seconds() const {
  return json::get_int_or(*s_, "minReadySeconds", 0);
}

int64_t ReplicaSetStatusView::observed_generation() const {
  return json::get_int_or(*s_, "observedGeneration", 0);
}
int64_t ReplicaSetStatusView::replicas() const { return json::get_int_or(*s_, "replicas", 0); }
int64_t ReplicaSetStatusView::fully_labeled_replicas() const {
  return json::get_int_or(*s_, "fullyLabeledReplicas", 0);
}
int64_t ReplicaSetStatusView::ready_replicas() const {
  return json::get_int_or(*s_, "readyReplicas", 0);
}
int64_t ReplicaSetStatusView::available_replicas() const {
  return json::get_int_or(*s_, "availableReplicas", 0);
}
std::optional<int64_t> ReplicaSetStatusView::terminating_replicas() const {
  return json::get_int(*s_, "terminatingReplicas");
}
std::vector<ConditionView> ReplicaSetStatusView::conditions() const { return get_conditions(*s_); }

// ---- DaemonSet

const json::object* DaemonSetSpecView::selector() const { return json::get_object(*s_, "selector"); }
PodTemplateView DaemonSetSpecView::template_() const {
  return PodTemplateView(object_or_empty(*s_, "template"));
}
std::string_view DaemonSetSpecView::update_strategy_type() const {
  return string_or_default(object_or_empty(*s_, "updateStrategy"), "type", "RollingUpdate");
}
std::optional<IntOrString> DaemonSetSpecView::max_unavailable() const {
  return rolling_update_field(object_or_empty(*s_, "updateStrategy"), update_strategy_type(),
                              "maxUnavailable", IntOrString{true, 1, {}});
}
std::optional<IntOrString> DaemonSetSpecView::max_surge() const {
  return rolling_update_field(object_or_empty(*s_, "updateStrategy"), update_strategy_type(),
                              "maxSurge", IntOrString{true, 0, {}});
}
int64_t DaemonSetSpecView::min_ready_seconds() const {
  return json::get_int_or(*s_, "minReadySeconds", 0);
}
int64_t DaemonSetSpecView::revision_history_limit() const {
  return json::get_int_or(*s_, "revisionHistoryLimit", 10);
}

int64_t DaemonSetStatusView::observed_generation() const {
  return json::get_int_or(*s_, "observedGeneration", 0);
}
int64_t DaemonSetStatusView::desired_number_scheduled() const {
  return json::get_int_or(*s_, "desiredNumberScheduled", 0);
}
int64_t DaemonSetStatusView::current_number_scheduled() const {
  return json::get_int_or(*s_, "currentNumberScheduled", 0);
}
int64_t DaemonSetStatusView::number_misscheduled() const {
  return json::get_int_or(*s_, "numberMisscheduled", 0);
}
int64_t DaemonSetStatusView::number_ready() const { return json::get_int_or(*s_, "numberReady", 0); }
int64_t DaemonSetStatusView::updated_number_scheduled() const {
  return json::get_int_or(*s_, "updatedNumberScheduled", 0);
}
int64_t DaemonSetStatusView::number_available() const {
  return json::get_int_or(*s_, "numberAvailable", 0);
}
int64_t DaemonSetStatusView::number_unavailable() const {
  return json::get_int_or(*s_, "numberUnavailable", 0);
}
std::optional<int64_t> DaemonSetStatusView::collision_count() const {
  return json::get_int(*s_, "collisionCount");
}
std::vector<ConditionView> DaemonSetStatusView::conditions() const { return get_conditions(*s_); }

}  // namespace kernlet::api
