#include "control/controllers/controller.h"

#include <cstdio>

#include "api/object.h"
#include "api/objects/pod.h"
#include "api/time.h"

namespace kernlet::controllers {

using namespace std::chrono_literals;

client::Informer& SharedInformers::get(const client::ResourceRef& collection) {
  const std::string id = collection.group + "/" + collection.version + "/" + collection.resource;
  auto it = informers_.find(id);
  if (it != informers_.end()) return *it->second;
  auto inf = std::make_unique<client::Informer>(std::make_shared<client::RestListerWatcher>(client_, collection),
                                                client::InformerOptions{.name = collection.resource});
  (void)inf->add_index("namespace", client::index_by_namespace());
  return *informers_.emplace(id, std::move(inf)).first->second;
}

namespace {
class DroppingSink final : public client::EventSink {
 public:
  void event(const json::object&, std::string_view, std::string_view, std::string) override {}
};
}  // namespace

std::shared_ptr<client::EventSink> SharedInformers::events(std::string component) const {
  if (!recorder_) return std::make_shared<DroppingSink>();
  return recorder_->sink(std::move(component));
}

void SharedInformers::start() {
  for (auto& [id, inf] : informers_) inf->start();
}

bool SharedInformers::wait_for_sync(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& [id, inf] : informers_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !inf->wait_for_sync(left)) return false;
  }
  return true;
}

void SharedInformers::stop() {
  for (auto& [id, inf] : informers_) inf->stop();
}

void Expectations::expect(const std::string& key, int adds, int dels) {
  std::lock_guard lk(mu_);
  pending_[key] = {adds, dels, std::chrono::steady_clock::now()};
}

void Expectations::creation_observed(const std::string& key) {
  std::lock_guard lk(mu_);
  if (auto it = pending_.find(key); it != pending_.end()) --it->second.adds;
}

void Expectations::deletion_observed(const std::string& key) {
  std::lock_guard lk(mu_);
  if (auto it = pending_.find(key); it != pending_.end()) --it->second.dels;
}

bool Expectations::satisfied(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = pending_.find(key);
  if (it == pending_.end()) return true;
  if (it->second.adds <= 0 && it->second.dels <= 0) return true;
  return std::chrono::steady_clock::now() - it->second.at > 5min;  // a lost event must not wedge us
}

void Expectations::forget(const std::string& key) {
  std::lock_guard lk(mu_);
  pending_.erase(key);
}

Controller::Controller(std::string name, int workers) : name_(std::move(name)), workers_(workers) {}

Controller::~Controller() { stop(); }

void Controller::run() {
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { work(); });
}

void Controller::stop() {
  queue_.shut_down();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Controller::work() {
  while (auto key = queue_.get()) {
    auto r = reconcile(*key);
    if (r.ok()) {
      queue_.forget(*key);
    } else {
      std::fprintf(stderr, "warning %s: %s: %s\n", name_.c_str(), key->c_str(), r.error().to_string().c_str());
      queue_.add_rate_limited(*key);
    }
    queue_.done(*key);
  }
}

namespace util {

std::optional<ControllerRef> controller_of(const json::object& obj) {
  auto ref = api::Meta(obj).controller_ref();
  if (!ref) return std::nullopt;
  return ControllerRef{ref->api_version, ref->kind, ref->name, ref->uid};
}

json::object controller_ref_json(const json::object& owner, std::string_view api_version, std::string_view kind) {
  api::Meta m(owner);
  return {{"apiVersion", api_version}, {"kind", kind},         {"name", m.name()},
          {"uid", m.uid()},            {"controller", true}, {"blockOwnerDeletion", true}};
}

bool pod_ready(const json::object& pod) {
  auto c = api::pod_condition(api::PodView(pod).status(), "Ready");
  return c && c->is_true();
}

bool pod_available(const json::object& pod, int64_t min_ready_seconds, std::chrono::system_clock::time_point now) {
  auto c = api::pod_condition(api::PodView(pod).status(), "Ready");
  if (!c || !c->is_true()) return false;
  if (min_ready_seconds <= 0) return true;
  auto since = api::parse_rfc3339(c->last_transition_time());
  return since.ok() && *since + std::chrono::seconds(min_ready_seconds) <= now;
}

bool pod_active(const json::object& pod) {
  api::PodView p(pod);
  return !api::pod_is_terminal(p) && !p.meta().being_deleted();
}

json::object event_target(const json::object& obj, std::string_view api_version, std::string_view kind) {
  api::Meta m(obj);
  json::object meta{{"name", m.name()}, {"uid", m.uid()}, {"resourceVersion", m.resource_version()}};
  if (!m.namespace_().empty()) meta["namespace"] = m.namespace_();
  return json::object{{"apiVersion", api_version}, {"kind", kind}, {"metadata", std::move(meta)}};
}

}  // namespace util

}  // namespace kernlet::controllers
