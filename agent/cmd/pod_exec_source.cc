#include "agent/cmd/pod_exec_source.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace kernlet::agent {
namespace {

class RuntimeExecProcess final : public ExecProcess {
 public:
  RuntimeExecProcess(std::unique_ptr<runtime::ExecSession> s, UniqueFd in, UniqueFd out, UniqueFd err)
      : s_(std::move(s)), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}
  int stdin_fd() const override { return in_.get(); }
  int stdout_fd() const override { return out_.get(); }
  int stderr_fd() const override { return err_.get(); }
  int tty_fd() const override { return s_->tty_master(); }
  void close_stdin() override { in_.reset(); }
  int pidfd() const override { return s_->pidfd(); }
  // The pidfd is readable when this is called; the bound only guards against misuse.
  Result<int> reap() override { return s_->wait(5000); }
  void kill() override { (void)s_->kill(SIGKILL); }

 private:
  std::unique_ptr<runtime::ExecSession> s_;  // its destructor kills and reaps a live process
  UniqueFd in_, out_, err_;
};

// A pipe whose `ours` end is non-blocking (the server polls it); both close-on-exec (the
// runtime dups the child's end onto 0/1/2).
Result<void> make_pipe(UniqueFd& read_end, UniqueFd& write_end, bool ours_is_read, const std::string& what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno("exec: " + what + " pipe");
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  int ours = ours_is_read ? p[0] : p[1];
  if (::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK) != 0)
    return Error::from_errno("exec: " + what + " pipe: O_NONBLOCK");
  return Ok();
}

}  // namespace

Result<std::string> running_container_id(PodWorkers& workers, RealPodRuntime& rt, std::string_view ns,
                                         std::string_view pod, std::string_view container) {
  client::ObjectPtr p = workers.find(ns, pod);
  if (!p)
    return Error(ErrorCode::kNotFound,
                 "pod \"" + std::string(pod) + "\" not found in namespace \"" + std::string(ns) + "\" on this node");
  api::PodView view(*p);
  bool known = false;
  for (const auto& c : view.spec().containers()) known = known || c.name() == container;
  for (const auto& c : view.spec().init_containers()) known = known || c.name() == container;
  if (!known)
    return Error(ErrorCode::kNotFound,
                 "container " + std::string(container) + " is not valid for pod " + std::string(pod));
  const std::string uid(view.meta().uid());
  std::string id;
  int attempt = -1;
  for (const auto& ci : rt.list_containers(uid)) {
    if (ci.name == container && ci.status.state == runtime::ContainerState::kRunning && ci.attempt > attempt) {
      attempt = ci.attempt;
      id = ci.id;
    }
  }
  if (id.empty())
    return Error(ErrorCode::kConflict, "container \"" + std::string(container) + "\" in pod \"" + std::string(ns) +
                                           "/" + std::string(pod) + "\" is not running");
  return id;
}

Result<std::unique_ptr<ExecProcess>> PodExecSource::exec(std::string_view ns, std::string_view pod,
                                                         std::string_view container, const ExecOptions& options) {
  KL_ASSIGN_OR_RETURN(const std::string id, running_container_id(*workers_, *rt_, ns, pod, container));
  runtime::ExecSpec spec;
  spec.as_container = true;
  spec.process.args = options.command;
  spec.process.tty = options.tty;
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  if (!options.tty) {
    if (options.input) {
      KL_TRY(make_pipe(in_r, in_w, false, "stdin"));
      spec.process.stdin_fd = in_r.get();
    }
    if (options.output) {
      KL_TRY(make_pipe(out_r, out_w, true, "stdout"));
      spec.process.stdout_fd = out_w.get();
    }
    if (options.error) {
      KL_TRY(make_pipe(err_r, err_w, true, "stderr"));
      spec.process.stderr_fd = err_w.get();
    }
  }
  auto session = rt_->start_exec(id, spec);
  if (!session.ok()) return std::move(session).error();
  if (options.tty) {
    int m = (*session)->tty_master();
    if (m >= 0) (void)::fcntl(m, F_SETFL, ::fcntl(m, F_GETFL) | O_NONBLOCK);
  }
  // The child has its copies; ours would keep the pipes open after it exits.
  return std::unique_ptr<ExecProcess>(
      new RuntimeExecProcess(std::move(*session), std::move(in_w), std::move(out_r), std::move(err_r)));
}

}  // namespace kernlet::agent
