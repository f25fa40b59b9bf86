// The wall clocks agent/node stamps what it writes with live in api/client/clock.h (the
// control plane's event recorder uses them too); these names keep agent code unchanged.
#pragma once

#include "api/client/clock.h"

namespace kernlet::agent {

using client::FakeWallClock;
using client::SystemWallClock;
using client::WallClock;

}  // namespace kernlet::agent
