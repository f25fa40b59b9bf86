// The grpc probe: grpc.health.v1.Health/Check with libgrpc++ over a socket we connect
// ourselves inside the pod's network namespace (grpc's own dialer would connect from its
// threads, in the agent's namespace). The two tiny protobuf messages are encoded by hand,
// so no generated code or protobuf runtime is needed.
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <thread>

#include "agent/prober/net_probe.h"
#include "api/grpc_code.h"

namespace kernlet::agent {

namespace {

// HealthCheckRequest{string service = 1}.
std::string encode_request(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);  // field 1, length-delimited
  size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + service;
}

bool read_varint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// HealthCheckResponse{ServingStatus status = 1}; unknown fields skipped. -1 if malformed.
int64_t decode_status(std::string_view in) {
  int64_t status = 0;
  while (!in.empty()) {
    uint64_t key = 0, v = 0;
    if (!read_varint(in, &key)) return -1;
    switch (key & 7) {
      case 0:
        if (!read_varint(in, &v)) return -1;
        if ((key >> 3) == 1) status = static_cast<int64_t>(v);
        break;
      case 1:
        if (in.size() < 8) return -1;
        in.remove_prefix(8);
        break;
      case 2:
        if (!read_varint(in, &v) || v > in.size()) return -1;
        in.remove_prefix(v);
        break;
      case 5:
        if (in.size() < 4) return -1;
        in.remove_prefix(4);
        break;
      default:
        return -1;
    }
  }
  return status;
}

const char* status_name(int64_t s) {
  switch (s) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    default: return "?";
  }
}

// Go's time.Duration.String() for whole milliseconds ("1s", "500ms", "1m30s").
std::string go_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms % 1000 != 0 && ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  int64_t s = ms / 1000;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s >= 60) out += std::to_string((s / 60) % 60) + "m";
  out += std::to_string(s % 60);
  if (ms % 1000 != 0) {
    char frac[8];
    std::snprintf(frac, sizeof(frac), ".%03d", static_cast<int>(ms % 1000));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

}  // namespace

ProbeResult grpc_probe(const std::string& netns_path, const std::string& host, int port,
                       const std::string& service, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string addr = host.find(':') != std::string::npos
                               ? "[" + host + "]:" + std::to_string(port)
                               : host + ":" + std::to_string(port);
  // The kubelet dials with WithBlock: a refused connection is retried until the timeout,
  // so a server that comes up within it still passes.
  Result<UniqueFd> fd = Error("not dialed");
  for (;;) {
    fd = dial_tcp(netns_path, host, port, deadline);
    if (fd.ok()) break;
    if (fd.error().code() == ErrorCode::kDeadlineExceeded ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline)
      return {ProbeOutcome::kFailure, "timeout: failed to connect service " + go_quote(addr) +
                                          " within " + go_duration(timeout) +
                                          ": context deadline exceeded"};
    if (fd.error().message().find("connect:") == std::string::npos)
      return {ProbeOutcome::kFailure, "error: failed to connect service at " + go_quote(addr) +
                                          ": " + fd.error().message()};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  grpc::ChannelArguments args;
  args.SetUserAgentPrefix(kProbeUserAgent);
  auto channel = grpc::CreateCustomInsecureChannelFromFd(addr, fd->release(), args);
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   (deadline - std::chrono::steady_clock::now()));
  std::string req = encode_request(service);
  grpc::Slice slice(req);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  // The call carries the deadline, so Next returns by then (with DEADLINE_EXCEEDED).
  if (!cq.Next(&tag, &ok) || !ok) status = grpc::Status(grpc::StatusCode::UNKNOWN, "completion queue failed");
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }

  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::UNIMPLEMENTED:
        return {ProbeOutcome::kFailure,
                "error: this server does not implement the grpc health protocol "
                "(grpc.health.v1.Health): " + status.error_message()};
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return {ProbeOutcome::kFailure,
                "timeout: health rpc did not complete within " + go_duration(timeout)};
      default:
        return {ProbeOutcome::kFailure, std::string("error: health rpc probe failed: rpc error: code = ") +
                                            std::string(grpc_code_name(static_cast<int>(status.error_code()))) +
                                            " desc = " + status.error_message()};
    }
  }
  std::vector<grpc::Slice> slices;
  std::string body;
  if (response.Dump(&slices).ok())
    for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  int64_t serving = decode_status(body);
  if (serving < 0)
    return {ProbeOutcome::kFailure, "error: health rpc probe failed: malformed HealthCheckResponse"};
  if (serving != 1)
    return {ProbeOutcome::kFailure,
            "service unhealthy (responded with " + go_quote(status_name(serving)) + ")"};
  return {ProbeOutcome::kSuccess, "service is serving"};
}

}  // namespace kernlet::agent
