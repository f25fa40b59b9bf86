#include "api/event_name.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace kernlet::api {

std::string event_name(std::string_view object_name) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  const auto ns = std::chrono::system_clock::now().time_since_epoch().count();
  std::snprintf(buf, sizeof buf, ".%llx%04x", static_cast<unsigned long long>(ns),
                static_cast<unsigned>(rng() & 0xffff));
  return std::string(object_name) + buf;
}

}  // namespace kernlet::api
