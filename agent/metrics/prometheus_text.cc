#include "agent/metrics/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace kernlet::agent::metrics {

namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }
// Names starting with "__" are reserved for Prometheus itself.
bool valid_label_name(std::string_view name) { return valid_name(name, false) && name.substr(0, 2) != "__"; }

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  (void)ec;
  return std::string(buf, end);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size()) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); }))
    throw std::logic_error("histogram bounds must be finite and strictly ascending");
}

void Histogram::observe(double value) {
  std::lock_guard lock(mu_);
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound >= value
  if (it != bounds_.end()) ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(counts_.size());
  std::uint64_t run = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) s.cumulative[i] = run += counts_[i];
  s.count = count_;
  s.sum = sum_;
  return s;
}

void PrometheusText::family(std::string_view name, std::string_view help, MetricType type) {
  if (!valid_metric_name(name)) throw std::logic_error("invalid metric name \"" + std::string(name) + "\"");
  if (!written_.emplace(name).second) throw std::logic_error("metric family \"" + std::string(name) + "\" written twice");
  current_ = name;
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void PrometheusText::require(MetricType type) const {
  if (current_.empty()) throw std::logic_error("metric sample before any family");
  const bool hist = type == MetricType::kHistogram;
  if (hist != (type_ == MetricType::kHistogram))
    throw std::logic_error("metric family \"" + current_ + "\" is " + type_name(type_) + ", sample is not");
}

void PrometheusText::line(std::string_view suffix, const Labels& labels,
                          const std::pair<std::string, std::string>* extra, std::string_view value) {
  out_ += current_;
  out_ += suffix;
  if (!labels.empty() || extra) {
    out_ += '{';
    bool first = true;
    auto put = [&](const std::pair<std::string, std::string>& l) {
      if (!valid_label_name(l.first)) throw std::logic_error("invalid label name \"" + l.first + "\"");
      if (!first) out_ += ',';
      first = false;
      out_ += l.first;
      out_ += "=\"";
      out_ += escape_label_value(l.second);
      out_ += '"';
    };
    for (const auto& l : labels) put(l);
    if (extra) put(*extra);
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void PrometheusText::sample(const Labels& labels, std::uint64_t value) {
  require(MetricType::kCounter);
  line("", labels, nullptr, std::to_string(value));
}

void PrometheusText::sample(const Labels& labels, double value) {
  require(MetricType::kCounter);
  line("", labels, nullptr, format_value(value));
}

void PrometheusText::histogram(const Labels& labels, const Histogram::Snapshot& h) {
  require(MetricType::kHistogram);
  for (const auto& l : labels)
    if (l.first == "le") throw std::logic_error("histogram label \"le\" is reserved");
  for (std::size_t i = 0; i < h.bounds.size(); ++i) {
    std::pair<std::string, std::string> le{"le", format_value(h.bounds[i])};
    line("_bucket", labels, &le, std::to_string(h.cumulative[i]));
  }
  std::pair<std::string, std::string> inf{"le", "+Inf"};
  line("_bucket", labels, &inf, std::to_string(h.count));
  line("_sum", labels, nullptr, format_value(h.sum));
  line("_count", labels, nullptr, std::to_string(h.count));
}

}  // namespace kernlet::agent::metrics
