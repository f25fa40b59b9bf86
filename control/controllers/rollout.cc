#include "control/controllers/rollout.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace kernlet::controllers::rollout {
namespace {

Result<int32_t> scaled(const std::optional<api::IntOrString>& v, std::string_view default_percent, int32_t total,
                       bool round_up, std::string_view field) {
  api::IntOrString value = v.value_or(api::IntOrString{false, 0, default_percent});
  if (value.is_int) return static_cast<int32_t>(value.int_value);
  std::string_view s = value.str_value;
  int percent = -1;
  if (!s.empty() && s.back() == '%') {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, percent);
    if (ec != std::errc() || p != s.data() + s.size() - 1) percent = -1;
  }
  if (percent < 0) {
    return Error(ErrorCode::kInvalidArgument, std::string(field) + ": invalid value \"" + std::string(s) +
                                                  "\": must be an integer or a percentage");
  }
  const double x = static_cast<double>(percent) * total / 100.0;
  return static_cast<int32_t>(round_up ? std::ceil(x) : std::floor(x));
}

int32_t sum_replicas(const ReplicaSetState& new_rs, const std::vector<ReplicaSetState>& old_rss) {
  int32_t n = new_rs.replicas;
  for (const auto& rs : old_rss) n += rs.replicas;
  return n;
}

// Indices of old_rss, oldest first (creation time, then name, as upstream's sort).
std::vector<std::size_t> oldest_first(const std::vector<ReplicaSetState>& old_rss) {
  std::vector<std::size_t> order(old_rss.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (old_rss[a].created != old_rss[b].created) return old_rss[a].created < old_rss[b].created;
    return old_rss[a].name < old_rss[b].name;
  });
  return order;
}

// Members whose value is null are absent: clients written in Go send a template's empty
// fields as null (`kubectl rollout undo` copies a ReplicaSet's template with
// "creationTimestamp": null), and a template must equal itself however it was spelled.
void drop_nulls(json::value& v) {
  if (v.is_object()) {
    json::object& o = v.as_object();
    for (auto it = o.begin(); it != o.end();) {
      if (it->value().is_null()) {
        it = o.erase(it);
      } else {
        drop_nulls(it->value());
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (auto& e : v.as_array()) drop_nulls(e);
  }
}

void strip_hash(json::object& t) {
  for (auto it = t.begin(); it != t.end();) {
    if (it->value().is_null()) {
      it = t.erase(it);
    } else {
      drop_nulls(it->value());
      ++it;
    }
  }
  if (json::object* meta = json::get_object(t, "metadata")) {
    if (json::object* labels = json::get_object(*meta, "labels")) {
      labels->erase("pod-template-hash");
      if (labels->empty()) meta->erase("labels");
    }
    if (meta->empty()) t.erase("metadata");
  }
}

// Canonical JSON: object members sorted by key, so equal templates hash equally whatever
// order a client sent them in.
void canonical(const json::value& v, std::string& out) {
  if (v.is_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> members;
    for (const auto& [k, m] : v.as_object()) members.emplace_back(k, &m);
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out += ',';
      out += json::dump(json::value(members[i].first));
      out += ':';
      canonical(*members[i].second, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const json::value& e : v.as_array()) {
      if (!first) out += ',';
      first = false;
      canonical(e, out);
    }
    out += ']';
  } else {
    out += json::dump(v);
  }
}

}  // namespace

Result<Fenceposts> resolve_fenceposts(const std::optional<api::IntOrString>& max_surge,
                                      const std::optional<api::IntOrString>& max_unavailable, int32_t replicas) {
  Fenceposts f;
  KL_ASSIGN_OR_RETURN(f.max_surge, scaled(max_surge, "25%", replicas, true, "spec.strategy.rollingUpdate.maxSurge"));
  KL_ASSIGN_OR_RETURN(f.max_unavailable,
                      scaled(max_unavailable, "25%", replicas, false, "spec.strategy.rollingUpdate.maxUnavailable"));
  if (f.max_surge == 0 && f.max_unavailable == 0) f.max_unavailable = 1;  // a rollout must be able to move
  return f;
}

int32_t new_replicas(int32_t replicas, const Fenceposts& f, const ReplicaSetState& new_rs,
                     const std::vector<ReplicaSetState>& old_rss) {
  const int32_t current = sum_replicas(new_rs, old_rss);
  const int32_t max_total = replicas + f.max_surge;
  if (current >= max_total) return new_rs.replicas;
  const int32_t up = std::min(max_total - current, replicas - new_rs.replicas);
  return new_rs.replicas + std::max(0, up);
}

std::vector<int32_t> scale_down_old(int32_t replicas, const Fenceposts& f, const ReplicaSetState& new_rs,
                                    const std::vector<ReplicaSetState>& old_rss) {
  std::vector<int32_t> out;
  for (const auto& rs : old_rss) out.push_back(rs.replicas);
  int32_t old_count = 0;
  for (const auto& rs : old_rss) old_count += rs.replicas;
  if (old_count == 0) return out;

  int32_t all = sum_replicas(new_rs, old_rss);
  const int32_t min_available = replicas - f.max_unavailable;
  const int32_t new_unavailable = new_rs.replicas - new_rs.available;
  const int32_t max_scaled_down = all - min_available - new_unavailable;
  if (max_scaled_down <= 0) return out;

  const auto order = oldest_first(old_rss);
  // 1. Replicas that are not available cost nothing to remove.
  int32_t cleaned = 0;
  for (std::size_t i : order) {
    if (cleaned >= max_scaled_down) break;
    const auto& rs = old_rss[i];
    if (out[i] == 0 || out[i] <= rs.available) continue;
    const int32_t n = std::min(max_scaled_down - cleaned, out[i] - rs.available);
    out[i] -= n;
    cleaned += n;
  }
  all -= cleaned;
  (void)all;
  // 2. Then available ones, as long as min_available stays available.
  int32_t available = new_rs.available;
  for (std::size_t i = 0; i < old_rss.size(); ++i) available += std::min(old_rss[i].available, out[i]);
  if (available <= min_available) return out;
  const int32_t total = available - min_available;
  int32_t done = 0;
  for (std::size_t i : order) {
    if (done >= total) break;
    if (out[i] == 0) continue;
    const int32_t n = std::min(out[i], total - done);
    out[i] -= n;
    done += n;
  }
  return out;
}

std::string pod_template_hash(const json::object& pod_template, int32_t collision_count) {
  json::object t = pod_template;
  strip_hash(t);
  std::string text;
  canonical(json::value(std::move(t)), text);
  if (collision_count != 0) text += "#" + std::to_string(collision_count);
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  // Kubernetes' SafeEncodeString alphabet, applied to the decimal digits of the hash.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string digits = std::to_string(h);
  std::string out;
  for (char d : digits) out += kAlphabet[static_cast<std::size_t>(d) % kAlphabet.size()];
  return out;
}

bool same_template(const json::object& a, const json::object& b) {
  json::object x = a, y = b;
  strip_hash(x);
  strip_hash(y);
  return x == y;
}

int64_t next_revision(const std::vector<std::string_view>& old_revisions) {
  int64_t max = 0;
  for (std::string_view r : old_revisions) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(r.data(), r.data() + r.size(), v);
    if (ec == std::errc() && p == r.data() + r.size()) max = std::max(max, v);
  }
  return max + 1;
}

}  // namespace kernlet::controllers::rollout
