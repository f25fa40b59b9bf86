// A PluginExec for unit tests: plugins are functions of (command, stdin config), every call
// is recorded.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/json.h"
#include "cni/client/plugin_exec.h"

namespace kernlet::cni::testing {

struct RecordedCall {
  std::string type;
  std::string command;
  std::map<std::string, std::string> env;  // CNI_* only
  json::object config;                     // stdin
};

class FakePluginExec : public PluginExec {
 public:
  using Plugin = std::function<Result<ExecOutput>(const RecordedCall&)>;

  void set(const std::string& type, Plugin plugin) { plugins_[type] = std::move(plugin); }

  Result<std::string> find(std::string_view type, const std::vector<std::string>&) override {
    if (plugins_.count(std::string(type)) == 0) {
      return Error(ErrorCode::kNotFound, "cni plugin \"" + std::string(type) + "\" not found");
    }
    return "/fake/" + std::string(type);
  }

  Result<ExecOutput> run(const ExecRequest& req) override {
    RecordedCall call;
    call.type = req.path.substr(req.path.rfind('/') + 1);
    for (const auto& e : req.env) {
      if (e.rfind("CNI_", 0) != 0) continue;
      auto eq = e.find('=');
      call.env[e.substr(0, eq)] = e.substr(eq + 1);
    }
    call.command = call.env["CNI_COMMAND"];
    auto doc = json::parse_object(req.stdin_data);
    if (doc.ok()) call.config = *doc;
    calls.push_back(call);
    return plugins_.at(call.type)(call);
  }

  std::vector<RecordedCall> calls;

 private:
  std::map<std::string, Plugin> plugins_;
};

// A plugin answering ADD with `result` (and everything else with success, no output).
inline FakePluginExec::Plugin answering(std::string result) {
  return [result](const RecordedCall& c) -> Result<ExecOutput> {
    ExecOutput o;
    if (c.command == "ADD") o.out = result;
    return o;
  };
}

// A plugin failing every `command` call with the spec's error document.
inline FakePluginExec::Plugin failing(std::string command, int code, std::string msg,
                                      FakePluginExec::Plugin otherwise) {
  return [=](const RecordedCall& c) -> Result<ExecOutput> {
    if (c.command != command) return otherwise(c);
    ExecOutput o;
    o.exit_code = 1;
    o.out = R"({"cniVersion":"1.0.0","code":)" + std::to_string(code) + R"(,"msg":")" + msg +
            R"(","details":"more words"})";
    return o;
  };
}

}  // namespace kernlet::cni::testing
