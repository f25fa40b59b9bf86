// Leader election over a Lease on a real kernlet-control.
#include "api/client/leader_election.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/client/control_plane.h"

namespace kernlet::client {
namespace {

using namespace std::chrono_literals;
using testing::ControlPlane;
using testing::eventually;

LeaderElectionConfig candidate(const std::string& id, bool release) {
  LeaderElectionConfig c;
  c.lease_namespace = "default";
  c.lease_name = "controllers";
  c.identity = id;
  c.lease_duration = 2s;
  c.renew_deadline = 1500ms;
  c.retry_period = 200ms;
  c.release_on_stop = release;
  return c;
}

TEST(LeaderElection, ConfigIsChecked) {
  LeaderElectionConfig c = candidate("a", true);
  c.renew_deadline = 3s;
  auto e = LeaderElector::create(nullptr, c);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(), "leader election: lease duration must be greater than renew deadline");
  c = candidate("", true);
  EXPECT_FALSE(LeaderElector::create(nullptr, c).ok());
}

class LeaderElectionServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ControlPlane::binary().empty()) GTEST_SKIP() << "kernlet-control not built (KERNLET_BIN or this build)";
    ASSERT_TRUE(cp_.start().ok());
    client_ = *cp_.client();
  }
  json::object lease() {
    auto l = client_->get(ResourceRef{"coordination.k8s.io", "v1", "leases", "default", "controllers"});
    EXPECT_TRUE(l.ok()) << l.error().to_string();
    return l.ok() ? *json::get_object(*l, "spec") : json::object{};
  }
  ControlPlane cp_;
  std::shared_ptr<RestClient> client_;
};

// Two candidates: exactly one leads; when it dies without releasing, the other takes
// over once the lease has not been renewed for its duration.
TEST_F(LeaderElectionServer, OneLeaderAndTakeOverAfterTheLeaseExpires) {
  std::atomic<int> a_started{0}, a_stopped{0}, b_started{0};
  auto ca = candidate("a", /*release=*/false);
  ca.on_started_leading = [&] { a_started++; };
  ca.on_stopped_leading = [&] { a_stopped++; };
  auto cb = candidate("b", false);
  cb.on_started_leading = [&] { b_started++; };
  auto a = *LeaderElector::create(client_, ca);
  auto b = *LeaderElector::create(client_, cb);
  std::thread ta([&] { a->run(); });
  ASSERT_TRUE(eventually([&] { return a->is_leader(); }, 10s));
  std::thread tb([&] { b->run(); });
  ASSERT_TRUE(eventually([&] { return b->leader() == "a"; }, 10s));
  std::this_thread::sleep_for(2500ms);  // longer than the lease: a keeps renewing it
  EXPECT_TRUE(a->is_leader());
  EXPECT_FALSE(b->is_leader());
  EXPECT_EQ(b_started.load(), 0);
  auto held = lease();
  EXPECT_EQ(json::get_string(held, "holderIdentity"), "a");
  EXPECT_EQ(json::get_int_or(held, "leaseDurationSeconds", 0), 2);
  EXPECT_EQ(json::get_int_or(held, "leaseTransitions", -1), 0);
  EXPECT_NE(json::get_string(held, "acquireTime"), json::get_string(held, "renewTime")) << "renewed";

  auto t0 = std::chrono::steady_clock::now();
  a->stop();  // gone without releasing, as if killed
  ta.join();
  EXPECT_EQ(a_stopped.load(), 1);
  ASSERT_TRUE(eventually([&] { return b->is_leader(); }, 10s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1500ms) << "b waited for the lease to expire";
  EXPECT_LT(took, 5s);
  auto moved = lease();
  EXPECT_EQ(json::get_string(moved, "holderIdentity"), "b");
  EXPECT_EQ(json::get_int_or(moved, "leaseTransitions", -1), 1);
  EXPECT_EQ(b_started.load(), 1);
  b->stop();
  tb.join();
}

TEST_F(LeaderElectionServer, ReleaseOnStopHandsOverAtOnce) {
  auto a = *LeaderElector::create(client_, candidate("a", true));
  auto b = *LeaderElector::create(client_, candidate("b", true));
  std::thread ta([&] { a->run(); });
  ASSERT_TRUE(eventually([&] { return a->is_leader(); }, 10s));
  std::thread tb([&] { b->run(); });
  ASSERT_TRUE(eventually([&] { return b->leader() == "a"; }, 10s));
  auto t0 = std::chrono::steady_clock::now();
  a->stop();
  ta.join();
  ASSERT_TRUE(eventually([&] { return b->is_leader(); }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms) << "no need to wait out a released lease";
  b->stop();
  tb.join();
  EXPECT_TRUE(json::get_string(lease(), "holderIdentity").empty()) << "b released it too";
}

}  // namespace
}  // namespace kernlet::client
