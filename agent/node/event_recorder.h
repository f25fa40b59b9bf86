// The agent's Events go through the shared recorder in api/client/event_recorder.h (the
// control plane's controllers use the same one); these names keep agent code unchanged.
#pragma once

#include "agent/node/clock.h"
#include "api/client/event_recorder.h"

namespace kernlet::agent {

using client::container_field_path;
using client::event_aggregation_key;
using client::EventRecorder;
using client::EventRecorderOptions;
using client::object_reference;

}  // namespace kernlet::agent
