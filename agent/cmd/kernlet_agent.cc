// kernlet-agent: the node agent. Thin: parse flags, build the Agent, run until SIGTERM or
// SIGINT. A clean stop leaves every container running, as the kubelet does.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/cmd/agent.h"
#include "agent/cmd/agent_options.h"

namespace {

int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  int saved = errno;
  (void)!::write(g_signal_pipe[1], &b, 1);
  errno = saved;
}

void on_sigpipe(int) {}

}  // namespace

int main(int argc, char** argv) {
  using namespace kernlet::agent;
  // Two malloc arenas instead of glibc's default of eight per CPU: the agent runs ~40
  // threads (informers, pod workers, probes, servers, gRPC's), most of them waiting, and
  // each arena a thread lands in keeps its own partly used heap (~150-300 KB each when
  // idle: ~0.5 MB of the idle RSS, issue 5 in docs/benchmarks.md). Set before any thread.
  ::mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = parse_agent_flags(args);
  if (!opts.ok()) {
    std::fprintf(stderr, "kernlet-agent: %s\n(see kernlet-agent --help)\n", opts.error().message().c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(agent_usage(), stdout);
    return 0;
  }
  // Signals are caught by handlers, never blocked or ignored: containers are cloned from
  // the agent's threads and keep a blocked mask and ignored signals across execve (a
  // container would never see SIGTERM), while caught signals go back to their default
  // there. SIGTERM/SIGINT wake main through a pipe; SIGPIPE is caught and does nothing, so
  // a write to a closed pipe fails with EPIPE instead of killing the agent.
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    std::perror("kernlet-agent: pipe2");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_sigpipe;
  sigaction(SIGPIPE, &sa, nullptr);
  auto agent = Agent::create(*opts);
  if (!agent.ok()) {
    std::fprintf(stderr, "kernlet-agent: %s\n", agent.error().to_string().c_str());
    return 1;
  }
  if (auto r = (*agent)->start(); !r.ok()) {
    std::fprintf(stderr, "kernlet-agent: %s\n", r.error().to_string().c_str());
    return 1;
  }
  unsigned char sig = 0;
  while (::read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
  }
  std::fprintf(stderr, "I agent: signal %d, stopping (containers keep running)\n", static_cast<int>(sig));
  (*agent)->stop();
  return 0;
}
