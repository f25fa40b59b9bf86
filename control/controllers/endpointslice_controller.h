// EndpointSliceController: keeps each selector Service's EndpointSlices (and its legacy
// Endpoints object) equal to what endpoints.h computes from its pods, creating, updating
// and deleting only what differs. Slices are owned by their Service, so the garbage
// collector removes them with it.
#pragma once

#include "control/controllers/controller.h"

namespace kernlet::controllers {

class EndpointSliceController final : public Controller {
 public:
  explicit EndpointSliceController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  // The slices (and Endpoints) of one Service; reconcile records a failure as an Event.
  Result<void> sync_service(const json::object& svc);
  void enqueue_services_selecting(const json::object& pod);
  Result<void> sync_endpoints(const json::object& desired);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& services_;
  client::Informer& pods_;
  client::Informer& slices_;
  client::Informer& endpoints_;
};

}  // namespace kernlet::controllers
