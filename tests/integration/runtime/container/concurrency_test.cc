// ContainerRuntime from several threads at once, one pod per thread (the agent's pattern:
// a lock per pod, pods in parallel): every pod's sandbox, container, exec, stop and removal
// must come out as if it ran alone — right hostname, right output, right exit code, nothing
// left in the maps. Meant to run under ThreadSanitizer too (cmake -DKERNLET_TSAN=ON).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/integration/runtime/container/runtime_fixture.h"

namespace kernlet::runtime::testing {
namespace {

class ConcurrencyTest : public RuntimeTest {};

TEST_F(ConcurrencyTest, PodsCreatedStartedExecedAndRemovedAtOnceStayApart) {
  constexpr int kPods = 8;
  constexpr int kRounds = 2;
  const std::string prefix = unique_name("cc");
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kPods);
  auto fail = [&](int i, const std::string& what) {
    if (errors[static_cast<size_t>(i)].empty()) errors[static_cast<size_t>(i)] = what;
    failures++;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        const std::string pod = prefix + "-p" + std::to_string(i) + "-r" + std::to_string(round);
        SandboxSpec ss;
        ss.id = pod;
        ss.name = "host" + std::to_string(i);
        auto sb = rt_->sandboxes().create(ss);
        if (!sb.ok()) return fail(i, "sandbox: " + sb.error().to_string());
        ContainerSpec cs;
        cs.id = pod + "-c";
        cs.sandbox_id = pod;
        cs.lower_dirs = {lower_};
        cs.process.args = {"sh", "-c",
                           "trap 'exit " + std::to_string(10 + i) + "' TERM; hostname; while :; do sleep 0.05; done"};
        cs.process.stdout_path = root_ + "/" + cs.id + ".out";
        if (auto r = rt_->create(cs); !r.ok()) return fail(i, "create: " + r.error().to_string());
        if (auto r = rt_->start(cs.id); !r.ok()) return fail(i, "start: " + r.error().to_string());
        // An exec into this pod's container while the other pods are being made.
        ExecSpec ex;
        ex.process.args = {"sh", "-c", "echo exec-" + std::to_string(i) + " > /tmp/mark; hostname"};
        ex.process.stdout_path = root_ + "/" + cs.id + ".exec";
        auto s = rt_->exec(cs.id, ex);
        if (!s.ok()) return fail(i, "exec: " + s.error().to_string());
        auto code = (*s)->wait(20000);
        if (!code.ok() || *code != 0) return fail(i, "exec exit");
        if (read_all(ex.process.stdout_path) != ss.name + "\n") return fail(i, "exec saw another pod's hostname");
        auto st = rt_->status(cs.id);
        if (!st.ok() || st->state != ContainerState::kRunning) return fail(i, "not running after start");
        // SIGTERM: the trap exits with the pod's own code. The shell is PID 1 of its
        // namespace, which drops a SIGTERM it has no handler for yet: wait for the line it
        // prints after setting the trap.
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (read_all(cs.process.stdout_path) != ss.name + "\n" && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        auto w = rt_->stop(cs.id, 20000);
        if (!w.ok()) return fail(i, "stop: " + w.error().to_string());
        if (w->exit_code != 10 + i) return fail(i, "exit code " + std::to_string(w->exit_code));
        if (read_all(cs.process.stdout_path) != ss.name + "\n") return fail(i, "output of another pod");
        if (auto r = rt_->remove(cs.id); !r.ok()) return fail(i, "remove: " + r.error().to_string());
        if (auto r = rt_->sandboxes().remove(pod); !r.ok()) return fail(i, "remove sandbox: " + r.error().to_string());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kPods; ++i) EXPECT_EQ(errors[static_cast<size_t>(i)], "") << "pod " << i;
  EXPECT_EQ(failures.load(), 0);
  for (const auto& id : rt_->list()) EXPECT_NE(id.rfind(prefix, 0), 0u) << "left behind: " << id;
  for (int i = 0; i < kPods; ++i)
    for (int round = 0; round < kRounds; ++round)
      EXPECT_EQ(rt_->sandboxes().find(prefix + "-p" + std::to_string(i) + "-r" + std::to_string(round)), nullptr);
}

}  // namespace
}  // namespace kernlet::runtime::testing
