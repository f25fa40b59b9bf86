// kernlet-runtime: the runtime's debug CLI (what crictl is to a CRI runtime). Thin: parse
// flags, then call runtime/images, runtime/sandbox + runtime/container, runtime/cgroups and
// runtime/seccomp. Each `run` is a one-container pod. No daemon: every invocation re-adopts
// what earlier ones started from the state directory.
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "api/json.h"
#include "api/quantity.h"
#include "runtime/cgroups/cgroup_fs.h"
#include "runtime/cgroups/cgroup_v2_driver.h"
#include "runtime/container/container_runtime.h"
#include "runtime/images/image_config.h"
#include "runtime/images/image_store.h"
#include "runtime/images/image_user.h"
#include "runtime/seccomp/process_security.h"
#include "runtime/seccomp/seccomp_profile.h"

namespace {

namespace fs = std::filesystem;
using namespace kernlet;

constexpr const char* kUsage = R"(Usage: kernlet-runtime [--root DIR] COMMAND [ARGS]

Debug CLI for kernlet's container runtime (no daemon; state in --root, default
/var/lib/kernlet/runtime). Every `run` is a pod of one container.

Commands:
  images import PATH [--ref REF]   import an OCI layout directory or a docker-save archive
  images pull REF [--plain-http] [--ca-file F] [--username U --password P]
  images ls | images rm REF | images gc
  run [flags] IMAGE [COMMAND [ARG...]]
      --name NAME         container name (default: generated)
      -d, --detach        run in the background; output goes to `logs`
      --rm                remove the container when it exits (foreground only)
      -e, --env K=V       environment variable (repeatable)
      --workdir DIR       working directory
      --user USER[:GROUP] names or ids, resolved in the image (default: its USER, or root)
      --cpu MILLI         cpu limit in millicores (cgroup cpu.max)
      --memory QUANTITY   memory limit, e.g. 64Mi (cgroup memory.max)
      --pids N            pids.max
      --privileged        all capabilities, no masked paths, no seccomp
      --read-only         read-only root filesystem
      --cap-add CAP / --cap-drop CAP   (repeatable; ALL allowed)
      --seccomp PROFILE   runtime-default (default), unconfined, or localhost:/path.json
      --no-new-privileges
      -v, --volume SRC:DST[:ro]        bind mount
      --host-network      use the host's network namespace
  ps                              list containers
  exec [-t] NAME COMMAND [ARG...] run a process in a running container, as its own process
                                  runs (user, groups, capabilities, seccomp, env, cwd)
  logs NAME                       output of a detached container
  stop [--time SECONDS] NAME      SIGTERM, then after the grace period kill the cgroup
  rm NAME                         remove an exited container and its pod
  inspect NAME                    container status as JSON
  -h, --help                      show this help
)";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "kernlet-runtime: %s\n(see kernlet-runtime --help)\n", msg.c_str());
  return 2;
}

int fail(const Error& e) {
  std::fprintf(stderr, "kernlet-runtime: %s\n", e.to_string().c_str());
  return 1;
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

// The cgroup2 tree to use: /sys/fs/cgroup on a pure v2 host, the unified mount on a hybrid one.
std::string default_cgroup_root() {
  struct statfs st {};
  if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup/kernlet";
  return "/sys/fs/cgroup/unified/kernlet";
}

struct Ctx {
  fs::path root = "/var/lib/kernlet/runtime";
  std::unique_ptr<images::ImageStore> store;
  std::unique_ptr<runtime::ContainerRuntime> rt;
  std::unique_ptr<cgroups::RealCgroupFs> cgfs;
  std::optional<cgroups::CgroupV2Driver> cg;

  Result<void> open_images() {
    KL_ASSIGN_OR_RETURN(store, images::ImageStore::open((root / "images").string()));
    return Ok();
  }
  Result<void> open_runtime() {
    KL_ASSIGN_OR_RETURN(rt, runtime::ContainerRuntime::open((root / "state").string()));
    KL_TRY(rt->recover());
    cgfs = std::make_unique<cgroups::RealCgroupFs>();
    cgroups::CgroupV2Options o;
    o.root = default_cgroup_root();
    KL_ASSIGN_OR_RETURN(auto d, cgroups::CgroupV2Driver::open(*cgfs, o));
    cg.emplace(std::move(d));
    return Ok();
  }
  fs::path log_path(const std::string& name) const { return root / "logs" / (name + ".log"); }
};

std::string pod_id(const std::string& name) { return "p-" + name; }

int cmd_images(Ctx& ctx, std::vector<std::string> a) {
  if (a.empty()) return usage_error("images: want import, pull, ls, rm or gc");
  if (auto r = ctx.open_images(); !r.ok()) return fail(r.error());
  const std::string sub = a[0];
  if (sub == "ls") {
    auto l = ctx.store->list();
    if (!l.ok()) return fail(l.error());
    std::printf("%-50s %-20s %12s\n", "IMAGE", "ID", "SIZE");
    for (const auto& rec : *l) {
      std::printf("%-50s %-20s %12lld\n", rec.ref.c_str(), std::string(rec.id.hex().substr(0, 12)).c_str(),
                  static_cast<long long>(rec.size));
    }
    return 0;
  }
  if (sub == "gc") {
    auto g = ctx.store->gc();
    if (!g.ok()) return fail(g.error());
    std::printf("removed %d blobs, %d layers\n", g->blobs_removed, g->layers_removed);
    return 0;
  }
  if (a.size() < 2) return usage_error("images " + sub + ": missing argument");
  if (sub == "rm") {
    if (auto r = ctx.store->remove(a[1]); !r.ok()) return fail(r.error());
    return 0;
  }
  if (sub == "import") {
    std::string ref;
    for (std::size_t i = 2; i < a.size(); ++i) {
      if (a[i] == "--ref" && i + 1 < a.size()) {
        ref = a[++i];
      } else {
        return usage_error("images import: unknown flag " + a[i]);
      }
    }
    if (fs::is_directory(a[1])) {
      if (ref.empty()) return usage_error("images import: an OCI layout needs --ref");
      auto img = ctx.store->import_oci_layout(a[1], ref);
      if (!img.ok()) return fail(img.error());
      std::printf("%s %s\n", img->ref.c_str(), img->id.str().c_str());
    } else {
      auto imgs = ctx.store->import_docker_archive(a[1], ref);
      if (!imgs.ok()) return fail(imgs.error());
      for (const auto& img : *imgs) std::printf("%s %s\n", img.ref.c_str(), img.id.str().c_str());
    }
    return 0;
  }
  if (sub == "pull") {
    images::PullOptions o;
    std::string user, pass;
    for (std::size_t i = 2; i < a.size(); ++i) {
      if (a[i] == "--plain-http") {
        o.registry.plain_http = true;
      } else if (a[i] == "--ca-file" && i + 1 < a.size()) {
        o.registry.ca_file = a[++i];
      } else if (a[i] == "--username" && i + 1 < a.size()) {
        user = a[++i];
      } else if (a[i] == "--password" && i + 1 < a.size()) {
        pass = a[++i];
      } else {
        return usage_error("images pull: unknown flag " + a[i]);
      }
    }
    if (!user.empty()) o.registry.credentials = images::Credentials{user, pass};
    auto img = ctx.store->pull(a[1], o);
    if (!img.ok()) return fail(img.error());
    std::printf("%s %s\n", img->ref.c_str(), img->id.str().c_str());
    return 0;
  }
  return usage_error("images: unknown command " + sub);
}

struct RunFlags {
  std::string name;
  bool detach = false, rm = false, privileged = false, read_only = false, nnp = false, host_network = false;
  std::vector<images::EnvVar> env;
  std::string workdir, user, seccomp = "runtime-default";
  std::optional<int64_t> cpu, memory, pids;
  std::vector<std::string> cap_add, cap_drop;
  std::vector<runtime::BindMount> mounts;
  std::string image;
  std::vector<std::string> command;
};

int cmd_run(Ctx& ctx, const std::vector<std::string>& a) {
  RunFlags f;
  std::size_t i = 0;
  auto value = [&](const std::string& flag) -> std::optional<std::string> {
    if (i + 1 >= a.size()) return std::nullopt;
    (void)flag;
    return a[++i];
  };
  for (; i < a.size(); ++i) {
    const std::string& x = a[i];
    if (x.empty() || x[0] != '-') break;
    std::optional<std::string> v;
    if (x == "-d" || x == "--detach") {
      f.detach = true;
    } else if (x == "--rm") {
      f.rm = true;
    } else if (x == "--privileged") {
      f.privileged = true;
    } else if (x == "--read-only") {
      f.read_only = true;
    } else if (x == "--no-new-privileges") {
      f.nnp = true;
    } else if (x == "--host-network") {
      f.host_network = true;
    } else if (!(v = value(x))) {
      return usage_error("run: " + x + " needs a value (or is unknown)");
    } else if (x == "--name") {
      f.name = *v;
    } else if (x == "-e" || x == "--env") {
      const auto eq = v->find('=');
      if (eq == std::string::npos) return usage_error("run: --env " + *v + ": want KEY=VALUE");
      f.env.push_back({v->substr(0, eq), v->substr(eq + 1)});
    } else if (x == "--workdir") {
      f.workdir = *v;
    } else if (x == "--user") {
      f.user = *v;
    } else if (x == "--cpu") {
      f.cpu = std::atoll(v->c_str());
    } else if (x == "--memory") {
      auto q = Quantity::parse(*v);
      if (!q.ok()) return usage_error("run: --memory " + *v + ": " + q.error().message());
      auto b = q->value();
      if (!b.ok()) return usage_error("run: --memory " + *v + ": " + b.error().message());
      f.memory = *b;
    } else if (x == "--pids") {
      f.pids = std::atoll(v->c_str());
    } else if (x == "--cap-add") {
      f.cap_add.push_back(*v);
    } else if (x == "--cap-drop") {
      f.cap_drop.push_back(*v);
    } else if (x == "--seccomp") {
      f.seccomp = *v;
    } else if (x == "-v" || x == "--volume") {
      std::vector<std::string> parts;
      std::size_t start = 0;
      for (std::size_t p; (p = v->find(':', start)) != std::string::npos; start = p + 1) parts.push_back(v->substr(start, p - start));
      parts.push_back(v->substr(start));
      if (parts.size() < 2 || parts.size() > 3 || (parts.size() == 3 && parts[2] != "ro" && parts[2] != "rw")) {
        return usage_error("run: --volume " + *v + ": want SRC:DST[:ro|rw]");
      }
      f.mounts.push_back({parts[0], parts[1], parts.size() == 3 && parts[2] == "ro", runtime::Propagation::kPrivate, true});
    } else {
      return usage_error("run: unknown flag " + x);
    }
  }
  if (i >= a.size()) return usage_error("run: missing IMAGE");
  f.image = a[i++];
  f.command.assign(a.begin() + static_cast<std::ptrdiff_t>(i), a.end());
  if (f.name.empty()) {
    std::mt19937 rng(std::random_device{}());
    char buf[16];
    std::snprintf(buf, sizeof buf, "c%08x", static_cast<unsigned>(rng()));
    f.name = buf;
  }
  if (!valid_name(f.name)) return usage_error("run: --name " + f.name + ": use lower-case letters, digits, '-', '.', '_'");
  if (f.rm && f.detach) return usage_error("run: --rm and --detach together are not supported");

  if (auto r = ctx.open_images(); !r.ok()) return fail(r.error());
  auto img = ctx.store->resolve(f.image);
  if (!img.ok()) return fail(img.error());
  // Kubernetes' rules: the given command replaces the image's entrypoint and cmd.
  auto proc = images::apply_image_config(img->config, f.command, {}, f.env, f.workdir);
  if (!proc.ok()) return fail(proc.error());
  if (auto r = ctx.open_runtime(); !r.ok()) return fail(r.error());

  runtime::ContainerSpec spec;
  spec.id = f.name;
  spec.sandbox_id = pod_id(f.name);
  for (auto it = img->layer_dirs.rbegin(); it != img->layer_dirs.rend(); ++it) spec.lower_dirs.push_back(*it);
  spec.process.args = proc->args;
  spec.process.env = proc->env;
  spec.process.cwd = proc->cwd;
  spec.read_only_rootfs = f.read_only;
  spec.privileged = f.privileged;
  spec.mounts = f.mounts;
  // USER names resolve against the image's own /etc/passwd and /etc/group.
  const std::string user = f.user.empty() ? proc->user : f.user;
  auto ident = images::resolve_user(img->layer_dirs, user);
  if (!ident.ok()) return fail(std::move(ident).error().context("run " + f.name));
  spec.process.uid = ident->uid;
  spec.process.gid = ident->gid;
  spec.process.supplemental_gids = ident->additional_gids;

  // Capabilities and seccomp are computed here, in the parent; the child only installs them.
  seccomp::ProcessSecurityRequest req;
  req.capabilities.privileged = f.privileged;
  req.capabilities.add = f.cap_add;
  req.capabilities.drop = f.cap_drop;
  req.capabilities.uid = spec.process.uid;
  req.no_new_privs = f.nnp && !f.privileged;
  if (f.seccomp == "unconfined") {
    req.seccomp = seccomp::SeccompProfileType::kUnconfined;
  } else if (f.seccomp.rfind("localhost:", 0) == 0) {
    std::ifstream in(f.seccomp.substr(10));
    if (!in) return usage_error("run: --seccomp: cannot read " + f.seccomp.substr(10));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto prof = seccomp::parse_seccomp_profile(text);
    if (!prof.ok()) return fail(std::move(prof).error().context(f.seccomp.substr(10)));
    req.seccomp = seccomp::SeccompProfileType::kLocalhost;
    req.localhost_profile = std::move(*prof);
  } else if (f.seccomp != "runtime-default") {
    return usage_error("run: --seccomp " + f.seccomp + ": want runtime-default, unconfined or localhost:/path");
  }
  auto sec = seccomp::prepare_process_security(req);
  if (!sec.ok()) return fail(sec.error());
  spec.process.capabilities = runtime::CapabilitySets{sec->caps.bounding.bits(), sec->caps.effective.bits(),
                                                      sec->caps.permitted.bits(), sec->caps.inheritable.bits(),
                                                      sec->caps.ambient.bits()};
  spec.process.seccomp = sec->seccomp.instructions;
  spec.process.no_new_privileges = sec->no_new_privs;

  // The pod's cgroup and the container's leaf, with what this host can enforce.
  cgroups::Resources res;
  res.cpu_limit_milli = f.cpu;
  res.memory_limit_bytes = f.memory;
  res.pids_limit = f.pids;
  auto pod_cg = ctx.cg->ensure_pod(spec.sandbox_id, res);
  if (!pod_cg.ok()) return fail(pod_cg.error());
  auto leaf = ctx.cg->ensure_container(spec.sandbox_id, f.name, res);
  if (!leaf.ok()) return fail(leaf.error());
  if (!leaf->fully_enforced()) std::fprintf(stderr, "kernlet-runtime: warning: %s\n", leaf->summary().c_str());
  spec.cgroup_path = leaf->path;

  runtime::SandboxSpec sb;
  sb.id = spec.sandbox_id;
  sb.name = f.name;
  sb.pod_namespace = "default";
  sb.host_network = f.host_network;
  if (auto s = ctx.rt->sandboxes().create(sb); !s.ok()) return fail(s.error());

  if (f.detach) {
    fs::create_directories(ctx.root / "logs");
    spec.process.stdout_path = ctx.log_path(f.name).string();
    spec.process.stderr_path = spec.process.stdout_path;
  } else {
    spec.process.stdin_fd = 0;
    spec.process.stdout_fd = 1;
    spec.process.stderr_fd = 2;
  }
  if (auto c = ctx.rt->create(spec); !c.ok()) {
    (void)ctx.rt->sandboxes().remove(spec.sandbox_id);
    (void)ctx.cg->remove(*ctx.cg->pod_path(spec.sandbox_id), std::chrono::seconds(10));
    return fail(c.error());
  }
  if (auto s = ctx.rt->start(f.name); !s.ok()) return fail(s.error());
  if (f.detach) {
    std::printf("%s\n", f.name.c_str());
    return 0;
  }
  auto st = ctx.rt->wait(f.name);
  if (!st.ok()) return fail(st.error());
  int code = st->exit_code;
  if (f.rm) {
    (void)ctx.rt->remove(f.name);
    (void)ctx.rt->sandboxes().remove(spec.sandbox_id);
    (void)ctx.cg->remove(*ctx.cg->pod_path(spec.sandbox_id), std::chrono::seconds(10));
  }
  return code < 0 ? 1 : code;
}

std::string state_name(runtime::ContainerState s) {
  switch (s) {
    case runtime::ContainerState::kCreated: return "Created";
    case runtime::ContainerState::kRunning: return "Running";
    case runtime::ContainerState::kExited: return "Exited";
    case runtime::ContainerState::kUnknown: return "Unknown";
  }
  return "Unknown";
}

Result<runtime::ContainerStatus> status_of(Ctx& ctx, const std::string& name) {
  std::optional<bool> oom;
  if (auto p = ctx.cg->container_path(pod_id(name), name); p.ok()) {
    if (auto o = ctx.cg->oom_killed(*p); o.ok()) oom = *o;
  }
  return ctx.rt->status(name, oom.value_or(false));
}

int cmd_containers(Ctx& ctx, const std::string& cmd, const std::vector<std::string>& a) {
  if (auto r = ctx.open_runtime(); !r.ok()) return fail(r.error());
  if (cmd == "ps") {
    std::printf("%-24s %-10s %8s %-12s\n", "NAME", "STATE", "PID", "REASON");
    for (const auto& id : ctx.rt->list()) {
      auto st = status_of(ctx, id);
      if (!st.ok()) continue;
      std::printf("%-24s %-10s %8d %-12s\n", id.c_str(), state_name(st->state).c_str(), st->pid, st->reason.c_str());
    }
    return 0;
  }
  std::size_t i = 0;
  bool tty = false;
  int grace = 10;
  for (; i < a.size() && !a[i].empty() && a[i][0] == '-'; ++i) {
    if (cmd == "exec" && (a[i] == "-t" || a[i] == "--tty")) {
      tty = true;
    } else if (cmd == "stop" && a[i] == "--time" && i + 1 < a.size()) {
      grace = std::atoi(a[++i].c_str());
    } else {
      return usage_error(cmd + ": unknown flag " + a[i]);
    }
  }
  if (i >= a.size()) return usage_error(cmd + ": missing NAME");
  const std::string name = a[i++];
  if (cmd == "inspect") {
    auto st = status_of(ctx, name);
    if (!st.ok()) return fail(st.error());
    json::object o{{"name", name},         {"state", state_name(st->state)}, {"pid", st->pid},
                   {"exitCode", st->exit_code}, {"signal", st->signal},          {"reason", st->reason},
                   {"message", st->message}, {"createdNs", st->created_ns},    {"startedNs", st->started_ns},
                   {"finishedNs", st->finished_ns}};
    if (auto p = ctx.cg->container_path(pod_id(name), name); p.ok()) o["cgroup"] = *p;
    std::printf("%s\n", json::dump(o).c_str());
    return 0;
  }
  if (cmd == "logs") {
    std::ifstream in(ctx.log_path(name));
    if (!in) return fail(Error(ErrorCode::kNotFound, "no logs for " + name + " (only detached containers have them)"));
    std::cout << in.rdbuf();
    return 0;
  }
  if (cmd == "stop") {
    auto st = ctx.rt->stop(name, grace * 1000);
    if (!st.ok()) return fail(st.error());
    return 0;
  }
  if (cmd == "rm") {
    if (auto r = ctx.rt->remove(name); !r.ok()) return fail(r.error());
    (void)ctx.rt->sandboxes().remove(pod_id(name));
    if (auto p = ctx.cg->pod_path(pod_id(name)); p.ok()) (void)ctx.cg->remove(*p, std::chrono::seconds(10));
    std::error_code ec;
    fs::remove(ctx.log_path(name), ec);
    return 0;
  }
  if (cmd == "exec") {
    if (i >= a.size()) return usage_error("exec: missing COMMAND");
    runtime::ExecSpec e;
    e.as_container = true;  // as crictl exec: the container's identity, not root
    e.process.args.assign(a.begin() + static_cast<std::ptrdiff_t>(i), a.end());
    e.process.tty = tty;
    e.process.stdin_fd = 0;
    e.process.stdout_fd = 1;
    e.process.stderr_fd = 2;
    auto s = ctx.rt->exec(name, e);
    if (!s.ok()) return fail(s.error());
    auto code = (*s)->wait();
    if (!code.ok()) return fail(code.error());
    return *code;
  }
  return usage_error("unknown command " + cmd);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Ctx ctx;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args[i] == "--root" && i + 1 < args.size()) {
      ctx.root = args[++i];
      continue;
    }
    break;
  }
  if (i >= args.size()) return usage_error("missing COMMAND");
  const std::string cmd = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  // `kernlet-runtime run --help`, `images pull --help`: every command documents itself in
  // the one usage text. Only in the command's own position, so `exec c ls --help` still
  // reaches ls.
  auto is_help = [](const std::string& a) { return a == "-h" || a == "--help"; };
  if ((!rest.empty() && is_help(rest[0])) || (cmd == "images" && rest.size() > 1 && is_help(rest[1]))) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "images") return cmd_images(ctx, rest);
  if (cmd == "run") return cmd_run(ctx, rest);
  if (cmd == "ps" || cmd == "exec" || cmd == "logs" || cmd == "stop" || cmd == "rm" || cmd == "inspect") {
    return cmd_containers(ctx, cmd, rest);
  }
  return usage_error("unknown command " + cmd);
}
