// CronJobController (batch/v1): creates each CronJob's Jobs on schedule, carrying out
// cronjob::plan_sync (cronjob_sync.h) over the CronJob and Job informers, and requeues
// each CronJob at its next schedule time. Warnings (too many missed start times, an
// unknown time zone) go to the log.
#pragma once

#include <functional>

#include "control/controllers/controller.h"
#include "control/controllers/cronjob_sync.h"

namespace kernlet::controllers {

class CronJobController final : public Controller {
 public:
  // `now` is the clock (injectable for tests).
  explicit CronJobController(SharedInformers& informers, int workers = 1,
                             std::function<std::chrono::system_clock::time_point()> now = nullptr);

 protected:
  Result<void> reconcile(const std::string& key) override;

 private:
  std::shared_ptr<client::RestClient> client_;
  std::shared_ptr<client::EventSink> events_;
  client::Informer& cronjobs_;
  client::Informer& jobs_;
  std::function<std::chrono::system_clock::time_point()> now_;
};

}  // namespace kernlet::controllers
