// The control plane's PKI: on first start a CA, a serving certificate for the API
// server's addresses and an admin client certificate are created in the data directory;
// later starts reuse them. Keys are ECDSA P-256, certificates X.509 v3 signed with SHA-256.
// Identities follow Kubernetes' x509 convention: CN = user name, O = groups.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::apiserver {

struct CertKey {
  std::string cert_pem;
  std::string key_pem;
};

struct Pki {
  CertKey ca;
  CertKey serving;
  CertKey admin;
  // The API server's client identity towards kubelets (logs, exec, port-forward):
  // CN=kube-apiserver-kubelet-client, O=system:masters, as kubeadm issues it.
  CertKey kubelet_client;
};

struct PkiOptions {
  std::vector<std::string> dns_names = {"localhost", "kubernetes", "kubernetes.default",
                                        "kubernetes.default.svc"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  int ca_days = 3650;
  int leaf_days = 365;
};

// Loads the PKI from `dir` (ca.crt/ca.key, apiserver.crt/.key, admin.crt/.key,
// apiserver-kubelet-client.crt/.key), creating
// what is missing. A serving certificate that does not cover every requested name and
// address, or that expires within 30 days, is reissued. Files are written atomically
// (temp file, fsync, rename); keys are mode 0600. Errors name the file.
// Not thread-safe: call once at start-up.
Result<Pki> ensure_pki(const std::filesystem::path& dir, const PkiOptions& options);

// Issues a client certificate signed by `ca` for user `cn` in `groups` (the agent's
// node identity: CN=system:node:<name>, O=system:nodes).
Result<CertKey> issue_client_certificate(const CertKey& ca, const std::string& cn,
                                         const std::vector<std::string>& groups, int days);

// Issues a serving certificate signed by `ca` for `cn` in `groups`, valid for the DNS
// names and IP addresses given (a kubelet's: CN=system:node:<name>, O=system:nodes).
Result<CertKey> issue_serving_certificate(const CertKey& ca, const std::string& cn,
                                          const std::vector<std::string>& groups,
                                          const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses, int days);

// True when `cert` is signed by `ca`, has subject CN `cn`, covers every DNS name and IP
// address given, and stays valid for 30 more days.
bool certificate_fits(const CertKey& cert, const CertKey& ca, const std::string& cn,
                      const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses);

// Loads the CA (ca.crt, ca.key) of an existing PKI directory without creating anything.
// Errors name the missing or unreadable file.
Result<CertKey> load_ca(const std::filesystem::path& dir);

// A kubeconfig for `server` (https://host:port) authenticating with `client`, trusting `ca_pem`.
std::string make_kubeconfig(const std::string& server, const std::string& ca_pem, const CertKey& client,
                            const std::string& user_name);

// Writes `content` to `path` atomically with the given mode. Errors name the path.
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& content, int mode);

}  // namespace kernlet::apiserver
