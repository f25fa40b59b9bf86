// Timestamps as Kubernetes writes them in JSON.
//
// metav1.Time is RFC 3339 in UTC with whole seconds ("2026-11-20T08:14:03Z"); metav1.
// MicroTime (events, leases) has exactly six fractional digits ("...T08:14:03.123456Z").
// Readers accept any RFC 3339 time: fractional seconds of any length and numeric offsets.
// All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "api/result.h"

namespace kernlet::api {

using TimePoint = std::chrono::system_clock::time_point;

// metav1.Time form: UTC, whole seconds (the fraction is dropped, as Go's Format does).
std::string format_rfc3339(TimePoint t);
// metav1.MicroTime form: UTC, six fractional digits (finer digits are dropped).
std::string format_rfc3339_micro(TimePoint t);

// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". Like Go's time.Parse with
// time.RFC3339: 'T' and 'Z' are upper case, the second is 00-59, the offset hour 00-23.
// Digits beyond nanoseconds are dropped. Errors name the input:
// `invalid RFC 3339 time "2026-13-01T00:00:00Z": month out of range`; times outside what
// system_clock can hold (about 1678-2262) are errors too.
Result<TimePoint> parse_rfc3339(std::string_view text);

// The current time in metav1.Time / metav1.MicroTime form.
std::string now_rfc3339();
std::string now_rfc3339_micro();

}  // namespace kernlet::api
