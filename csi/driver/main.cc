// kernlet-csi-local: the bundled CSI driver's thin main. Parses flags, serves the Identity,
// Controller and Node services on --endpoint (and, with --registration-dir, the
// plugin-registration service on <dir>/local.csi.kernlet.io-reg.sock), and stops cleanly on
// SIGTERM/SIGINT, removing its sockets.
//
//   kernlet-csi-local --endpoint unix:///run/kernlet/csi/local.sock --node-id NODE
//                     --data-dir /var/lib/kernlet/csi-local [--registration-dir DIR]
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "csi/driver/local_driver.h"
#include "csi/driver/registration.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: kernlet-csi-local --endpoint unix:///path.sock --node-id NODE --data-dir DIR\n"
               "                         [--registration-dir DIR]\n");
}

// Removes a stale socket left by a previous run (only a socket: never another file).
bool clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  if (!S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "kernlet-csi-local: %s exists and is not a socket\n", path.c_str());
    return false;
  }
  return ::unlink(path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint, node_id, data_dir, registration_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kernlet-csi-local: %s needs a value\n", a.c_str());
        return false;
      }
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--endpoint") ok = value(&endpoint);
    else if (a == "--node-id") ok = value(&node_id);
    else if (a == "--data-dir") ok = value(&data_dir);
    else if (a == "--registration-dir") ok = value(&registration_dir);
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "kernlet-csi-local: unknown argument %s\n", a.c_str());
      ok = false;
    }
    if (!ok) {
      usage();
      return 2;
    }
  }
  std::string socket = endpoint.starts_with("unix://") ? endpoint.substr(7) : endpoint;
  if (socket.empty() || socket.front() != '/') {
    std::fprintf(stderr, "kernlet-csi-local: --endpoint \"%s\": want unix:///absolute/path\n", endpoint.c_str());
    usage();
    return 2;
  }

  kernlet::csi::local::LocalDriver driver({node_id, data_dir});
  if (auto r = driver.init(); !r.ok()) {
    std::fprintf(stderr, "kernlet-csi-local: %s\n", r.error().to_string().c_str());
    return 1;
  }

  // Signals are taken by a thread of ours (sigwait), never by gRPC's threads.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::string reg_socket;
  if (!registration_dir.empty()) reg_socket = registration_dir + "/" + kernlet::csi::local::kDriverName + "-reg.sock";
  if (!clear_stale_socket(socket) || (!reg_socket.empty() && !clear_stale_socket(reg_socket))) return 1;

  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(driver.identity_service());
  builder.RegisterService(driver.controller_service());
  builder.RegisterService(driver.node_service());
  std::unique_ptr<grpc::Service> registration;
  if (!reg_socket.empty()) {
    registration = kernlet::csi::local::make_registration_service(kernlet::csi::local::kDriverName, "unix://" + socket);
    builder.AddListeningPort("unix://" + reg_socket, grpc::InsecureServerCredentials());
    builder.RegisterService(registration.get());
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "kernlet-csi-local: cannot listen on %s%s%s\n", socket.c_str(),
                 reg_socket.empty() ? "" : " and ", reg_socket.c_str());
    return 1;
  }
  std::fprintf(stderr, "kernlet-csi-local: serving %s for node %s on unix://%s\n", kernlet::csi::local::kDriverName,
               node_id.c_str(), socket.c_str());

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    // An idle client connection holds Shutdown until its deadline: keep that short (calls are
    // idempotent, so one cut off is simply retried by the CO).
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  });
  server->Wait();
  waiter.join();
  ::unlink(socket.c_str());
  if (!reg_socket.empty()) ::unlink(reg_socket.c_str());
  return 0;
}
