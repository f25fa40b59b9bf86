#include "runtime/images/image_config.h"

namespace kernlet::images {

Result<ProcessSpec> apply_image_config(const ImageConfig& image, const std::vector<std::string>& command,
                                       const std::vector<std::string>& args, const std::vector<EnvVar>& env,
                                       std::string_view working_dir) {
  ProcessSpec p;
  if (!command.empty()) {
    p.args = command;
    p.args.insert(p.args.end(), args.begin(), args.end());
  } else {
    p.args = image.entrypoint;
    const auto& tail = args.empty() ? image.cmd : args;
    p.args.insert(p.args.end(), tail.begin(), tail.end());
  }
  if (p.args.empty())
    return Error(ErrorCode::kInvalidArgument,
                 "no command specified: the container sets no command or args and the image has no Entrypoint or Cmd");

  p.env = image.env;
  for (const auto& v : env) {
    if (v.name.empty() || v.name.find('=') != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "invalid environment variable name \"" + v.name + "\"");
    std::string prefix = v.name + "=";
    bool replaced = false;
    for (auto& e : p.env) {
      if (e.starts_with(prefix) || e == v.name) {
        e = prefix + v.value;
        replaced = true;
      }
    }
    if (!replaced) p.env.push_back(prefix + v.value);
  }

  p.cwd = !working_dir.empty() ? std::string(working_dir) : image.working_dir.empty() ? "/" : image.working_dir;
  if (p.cwd.front() != '/')
    return Error(ErrorCode::kInvalidArgument, "working directory \"" + p.cwd + "\" is not absolute");
  p.user = image.user;
  return p;
}

UserSpec split_user(std::string_view user) {
  auto colon = user.find(':');
  if (colon == std::string_view::npos) return {std::string(user), {}};
  return {std::string(user.substr(0, colon)), std::string(user.substr(colon + 1))};
}

}  // namespace kernlet::images
