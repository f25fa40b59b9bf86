// PersistentVolumeController: binds PersistentVolumeClaims to PersistentVolumes and keeps
// both phases true, hands claims of provisioning StorageClasses to their (external)
// provisioner by annotation, releases and reclaims volumes whose claim is gone, and holds
// the pvc-protection / pv-protection finalizers. The decisions are pv_binder.h's; this is
// the loop: informers on claims, volumes, classes, pods and nodes, one queue of keys
// ("claim:<ns>/<name>", "volume:<name>"), and writes through the API (volume first, then
// claim, as upstream, so that a crash half way is finished by the next sync).
//
// The provisioning protocol it speaks is upstream's (docs/architecture.md, "Persistent
// volumes"): it never creates or deletes a volume itself.
// Thread-safety: as Controller.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "control/controllers/controller.h"
#include "control/controllers/pv_binder.h"

namespace kernlet::controllers {

class PersistentVolumeController final : public Controller {
 public:
  explicit PersistentVolumeController(SharedInformers& informers, int workers = 2);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  Result<void> sync_claim(const std::string& key);
  Result<void> sync_volume(const std::string& name);
  Result<void> bind(const json::object& claim, const json::object& volume);
  void enqueue_claim(std::string_view ns, std::string_view name);
  void enqueue_volume(std::string_view name);
  void enqueue_unbound_claims();
  // Writes an Event about `obj` unless the last one for it said the same.
  void event(const json::object& obj, std::string_view kind, const pv::Event& e);
  void forget_event(const std::string& key);

  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& claims_;
  client::Informer& volumes_;
  client::Informer& classes_;
  client::Informer& pods_;
  client::Informer& nodes_;

  std::mutex events_mu_;
  std::unordered_map<std::string, std::string> last_event_;  // object key → reason + message
};

}  // namespace kernlet::controllers
