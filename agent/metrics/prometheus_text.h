// prometheus_text: writes a /metrics body in the Prometheus text exposition format,
// version 0.0.4 (what Prometheus scrapes and what the kubelet's /metrics serves):
//   # HELP <name> <help, \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value, \ " and newline escaped>",...} <value>
// Families are written one after the other, each with its samples right after its TYPE
// line. Integer values are written exactly (a uint64 counter never loses digits to a
// double); other values as the shortest text that reads back to the same double, with
// +Inf, -Inf and NaN spelled as Prometheus spells them.
//
// A metric or label name outside [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'), a sample of a
// family that is not the current one, or a family written twice is a programmer error:
// std::logic_error. PrometheusText is thread-compatible; Histogram is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernlet::agent::metrics {

// The Content-Type of a body this writer produced.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// A cumulative histogram with fixed upper bounds (seconds, bytes, ...). Thread-safe.
class Histogram {
 public:
  // `bounds` ascending, finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound: observations <= bound
    std::uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative; guarded by mu_
  std::uint64_t count_ = 0;            // guarded by mu_
  double sum_ = 0;                     // guarded by mu_
};

class PrometheusText {
 public:
  // Starts a family: its HELP and TYPE lines.
  void family(std::string_view name, std::string_view help, MetricType type);
  // One sample of the current family (counter or gauge).
  void sample(const Labels& labels, std::uint64_t value);
  void sample(const Labels& labels, double value);
  // The current family's histogram series for `labels`: _bucket{...,le=...}, _sum, _count.
  void histogram(const Labels& labels, const Histogram::Snapshot& h);

  const std::string& text() const { return out_; }

 private:
  void line(std::string_view suffix, const Labels& labels, const std::pair<std::string, std::string>* extra,
            std::string_view value);
  void require(MetricType type) const;

  std::string out_;
  std::string current_;
  MetricType type_ = MetricType::kGauge;
  std::set<std::string, std::less<>> written_;
};

// Value formatting of the exposition format (exposed for tests).
std::string format_value(double v);
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace kernlet::agent::metrics
