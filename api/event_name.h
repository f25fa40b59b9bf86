// The name of a core/v1 Event, as client-go's recorder makes it: "<object>.<hex>", the hex
// being the time in nanoseconds plus a random part so that two events of one instant about
// one object do not collide. (A generateName of "<object>." would not do: a prefix ending
// in '.' is not a valid DNS subdomain prefix, and the API server rejects it.)
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace kernlet::api {

std::string event_name(std::string_view object_name);

}  // namespace kernlet::api
