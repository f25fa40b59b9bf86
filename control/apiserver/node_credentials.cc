#include "control/apiserver/node_credentials.h"

#include <fstream>
#include <sstream>

#include "api/client/config.h"
#include "control/apiserver/pki.h"

namespace kernlet::apiserver {
namespace {

namespace fs = std::filesystem;

std::string read_or_empty(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<void> write_node_credentials(const NodeCredentialsOptions& o) {
  if (o.node_name.empty()) return Error(ErrorCode::kInvalidArgument, "node credentials: the node name is empty");
  if (o.server.rfind("https://", 0) != 0) {
    return Error(ErrorCode::kInvalidArgument, "node credentials: server " + o.server + " is not an https:// URL");
  }
  KL_ASSIGN_OR_RETURN(CertKey ca, load_ca(o.pki_dir));
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return Error("create " + o.out_dir.string(), ec.value());

  const std::string user = "system:node:" + o.node_name;
  const std::vector<std::string> groups = {"system:nodes"};

  if (read_or_empty(o.out_dir / "ca.crt") != ca.cert_pem) {
    KL_TRY(write_file_atomic(o.out_dir / "ca.crt", ca.cert_pem, 0644));
  }

  std::vector<std::string> dns = {o.node_name};
  if (!o.hostname.empty() && o.hostname != o.node_name) dns.push_back(o.hostname);
  CertKey serving{read_or_empty(o.out_dir / "kubelet.crt"), read_or_empty(o.out_dir / "kubelet.key")};
  if (!certificate_fits(serving, ca, user, dns, o.node_ips)) {
    KL_ASSIGN_OR_RETURN(serving, issue_serving_certificate(ca, user, groups, dns, o.node_ips, o.days));
    // Key first: a crash between the two leaves a pair that does not fit, reissued next run.
    KL_TRY(write_file_atomic(o.out_dir / "kubelet.key", serving.key_pem, 0600));
    KL_TRY(write_file_atomic(o.out_dir / "kubelet.crt", serving.cert_pem, 0644));
  }

  const fs::path kubeconfig = o.out_dir / "kubeconfig";
  bool keep = false;
  if (fs::exists(kubeconfig, ec)) {
    auto cfg = client::load_kubeconfig(kubeconfig);
    keep = cfg.ok() && cfg->server == o.server && cfg->ca_pem == ca.cert_pem &&
           certificate_fits({cfg->client_cert_pem, cfg->client_key_pem}, ca, user, {}, {});
  }
  if (!keep) {
    KL_ASSIGN_OR_RETURN(CertKey client, issue_client_certificate(ca, user, groups, o.days));
    KL_TRY(write_file_atomic(kubeconfig, make_kubeconfig(o.server, ca.cert_pem, client, user), 0600));
  }
  return Ok();
}

}  // namespace kernlet::apiserver
