// Claiming pods for a controller, as Kubernetes' ControllerRefManager does: pods whose
// controller reference is the owner and whose labels still match are its; matching
// orphans are adopted (PATCH adding the controller reference, preconditioned on the pod's
// uid); owned pods whose labels no longer match are released.
#pragma once

#include <string_view>
#include <vector>

#include "api/client/rest_client.h"
#include "api/labels.h"
#include "control/controllers/controller.h"

namespace kernlet::controllers {

// The pods of `in_namespace` that `owner` controls after adoption and release. A pod
// that vanished meanwhile (404) is skipped; other API errors are returned. Terminal and
// deleting orphans are not adopted. Thread-safety: as the client's.
Result<std::vector<client::ObjectPtr>> claim_pods(client::RestClient& client, const json::object& owner,
                                                  std::string_view api_version, std::string_view kind,
                                                  const api::Selector& selector,
                                                  const std::vector<client::ObjectPtr>& in_namespace);

}  // namespace kernlet::controllers
