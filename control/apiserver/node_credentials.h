// Node credentials: what a node agent needs to join the cluster, issued from the control
// plane's CA (`kernlet-control node-credentials`): a kubeconfig with the node's client
// certificate (CN=system:node:<name>, O=system:nodes), the kubelet API's serving
// certificate for the node's addresses, and the CA that both sides trust.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "api/result.h"

namespace kernlet::apiserver {

struct NodeCredentialsOptions {
  std::filesystem::path pki_dir;       // the control plane's <data-dir>/pki (ca.crt, ca.key)
  std::string node_name;
  std::string server;                  // https://ADDR:PORT written into the kubeconfig
  std::filesystem::path out_dir;       // receives kubeconfig, kubelet.crt, kubelet.key, ca.crt
  std::vector<std::string> node_ips;   // IP SANs of the serving certificate
  std::string hostname;                // DNS SAN besides the node name; empty = node name only
  int days = 365;
};

// Writes OUT/kubeconfig (0600), OUT/kubelet.crt (0644), OUT/kubelet.key (0600) and
// OUT/ca.crt (0644), creating OUT. Idempotent: files that are already right (signed by
// this CA, same identity, same server, covering the addresses, valid for 30 more days)
// are kept; others are rewritten atomically. Errors name the file: a missing CA, an
// unwritable OUT. Not thread-safe against another run on the same OUT.
Result<void> write_node_credentials(const NodeCredentialsOptions& options);

}  // namespace kernlet::apiserver
