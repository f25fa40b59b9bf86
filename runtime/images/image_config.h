// The image config meets the pod spec: Kubernetes' rules for the process a container runs.
// Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/result.h"
#include "runtime/images/oci.h"

namespace kernlet::images {

struct EnvVar {
  std::string name;
  std::string value;
};

// What the container's process is, before identity and security are applied.
struct ProcessSpec {
  std::vector<std::string> args;  // argv; args[0] is looked up in PATH by the container code
  std::vector<std::string> env;   // "NAME=value", image first then container overrides
  std::string cwd;                // absolute; "/" when neither side sets one
  std::string user;               // the image's USER verbatim ("", "1000", "app:app", "1000:1000")
};

// Builds the process from the image config and the container's command/args/env/workingDir:
//   - command set: argv = command + args (the image's Entrypoint and Cmd are both dropped);
//   - only args set: argv = image Entrypoint + args;
//   - neither: argv = image Entrypoint + image Cmd.
// Env: the image's variables in order, a container variable of the same name replaces the
// value in place, new names are appended in the container's order. Errors: an empty argv
// ("no command specified"), a relative working directory, an env name that is empty or has '='.
Result<ProcessSpec> apply_image_config(const ImageConfig& image, const std::vector<std::string>& command,
                                       const std::vector<std::string>& args, const std::vector<EnvVar>& env,
                                       std::string_view working_dir = {});

// The USER string split at ':' ("app:staff" → {"app", "staff"}); either part may be a name
// or a number, and the group may be empty. The container code resolves names in the rootfs.
struct UserSpec {
  std::string user;
  std::string group;
};
UserSpec split_user(std::string_view user);

}  // namespace kernlet::images
