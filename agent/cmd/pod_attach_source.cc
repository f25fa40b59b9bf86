#include "agent/cmd/pod_attach_source.h"

#include <fcntl.h>

#include "agent/cmd/pod_exec_source.h"
#include "api/objects/pod.h"

namespace kernlet::agent {
namespace {

// One attach session as the server's ExecProcess (attach_source.h has the meanings).
class Attached final : public ExecProcess {
 public:
  Attached(RealPodRuntime* rt, std::string id, RealPodRuntime::Attachment a, const AttachOptions& options)
      : rt_(rt), id_(std::move(id)), a_(std::move(a)) {
    if (!options.output) a_.output.stdout_fd.reset();
    if (!options.error) a_.output.stderr_fd.reset();
    if (a_.input.valid()) (void)::fcntl(a_.input.get(), F_SETFL, ::fcntl(a_.input.get(), F_GETFL) | O_NONBLOCK);
  }
  ~Attached() override {
    ending_ = true;
    close_stdin();
    rt_->detach(a_.output.id);
  }
  int stdin_fd() const override { return a_.tty ? -1 : a_.input.get(); }
  int stdout_fd() const override { return a_.output.stdout_fd.get(); }
  int stderr_fd() const override { return a_.output.stderr_fd.get(); }
  int tty_fd() const override { return a_.tty ? a_.input.get() : -1; }
  void close_stdin() override {
    // A terminal's input stays open for the session (EOF there is ^D); the server calls
    // this at the end of the session too.
    if (!a_.input.valid() || (a_.tty && !ending_)) return;
    a_.input.reset();
    if (a_.stdin_once) rt_->close_stdin_once(id_);
  }
  int pidfd() const override { return a_.output.finished.get(); }
  Result<int> reap() override { return 0; }
  // The client left: detach, nothing to kill. Unsubscribing closes the pump's ends, so
  // pidfd() (the `finished` socket) turns readable and the session ends.
  void kill() override {
    ending_ = true;
    rt_->detach(a_.output.id);
  }

 private:
  RealPodRuntime* rt_;
  std::string id_;
  RealPodRuntime::Attachment a_;
  bool ending_ = false;
};

}  // namespace

Result<std::unique_ptr<ExecProcess>> PodAttachSource::attach(std::string_view ns, std::string_view pod,
                                                             std::string_view container, const AttachOptions& options) {
  KL_ASSIGN_OR_RETURN(std::string id, running_container_id(*workers_, *rt_, ns, pod, container));
  // Input only for a container whose spec has stdin, as the spec says, not the runtime's
  // state: a tty container re-adopted after an agent restart has its terminal, but
  // whether the spec opened stdin is not recorded there.
  bool spec_stdin = false;
  if (client::ObjectPtr p = workers_->find(ns, pod)) {
    api::PodView view(*p);
    for (const auto& c : view.spec().containers()) spec_stdin = spec_stdin || (c.name() == container && c.stdin_());
    for (const auto& c : view.spec().init_containers())
      spec_stdin = spec_stdin || (c.name() == container && c.stdin_());
  }
  KL_ASSIGN_OR_RETURN(RealPodRuntime::Attachment a, rt_->attach(id, options.input && spec_stdin));
  return std::unique_ptr<ExecProcess>(new Attached(rt_, std::move(id), std::move(a), options));
}

}  // namespace kernlet::agent
