// kernlet-agent: the node agent. Thin: parse flags, build the Agent, run until SIGTERM or
// SIGINT. A clean stop leaves every container running, as the kubelet does.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/cmd/agent.h"
#include "agent/cmd/agent_options.h"

int main(int argc, char** argv) {
  using namespace kernlet::agent;
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
  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto agent = Agent::create(*opts);
  if (!agent.ok()) {
    std::fprintf(stderr, "kernlet-agent: %s\n", agent.error().to_string().c_str());
    return 1;
  }
  if (auto r = (*agent)->start(); !r.ok()) {
    std::fprintf(stderr, "kernlet-agent: %s\n", r.error().to_string().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "I agent: signal %d, stopping (containers keep running)\n", sig);
  (*agent)->stop();
  return 0;
}
