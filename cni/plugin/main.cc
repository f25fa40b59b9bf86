// kernlet-cni: kernlet's CNI plugin binary. Reads the CNI_* environment and the network
// config on stdin, runs one command (plugin.h) and prints the result or error document.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <string>

#include "cni/plugin/plugin.h"

extern char** environ;

int main() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::size_t eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());

  kernlet::cni::PluginHooks hooks;
  // Test seam: die by SIGKILL right after the named step, as a crash would.
  if (const char* at = std::getenv("KERNLET_CNI_TEST_CRASH_AT"); at != nullptr && *at != '\0') {
    std::string point = at;
    hooks.on_step = [point](std::string_view step) {
      if (step == point) ::kill(::getpid(), SIGKILL);
    };
  }
  auto dataplane = kernlet::cni::make_kernel_dataplane();
  kernlet::cni::PluginOutcome out = kernlet::cni::run_plugin(env, input, *dataplane, hooks);
  std::fwrite(out.stdout_text.data(), 1, out.stdout_text.size(), stdout);
  std::fwrite(out.stderr_text.data(), 1, out.stderr_text.size(), stderr);
  std::fflush(stdout);
  return out.exit_code;
}
