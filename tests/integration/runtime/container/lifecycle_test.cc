#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class LifecycleTest : public RuntimeTest {};

TEST_F(LifecycleTest, RunsACommandAndReportsItsExitCode) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  auto spec = spec_for(sb->id(), {"sh", "-c", "echo hello from $(hostname); exit 3"});
  ContainerStatus st = run(spec);
  EXPECT_EQ(st.state, ContainerState::kExited);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.reason, "Error");
  EXPECT_EQ(output(), "hello from web\n");
}

TEST_F(LifecycleTest, ZeroExitIsCompleted) {
  Sandbox* sb = make_sandbox();
  ASSERT_NE(sb, nullptr);
  ContainerStatus st = run(spec_for(sb->id(), {"true"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(st.reason, "Completed");
}

}  // namespace
}  // namespace kernlet::runtime::testing
