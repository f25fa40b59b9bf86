// The plugin-registration side of kernlet-csi-local: a pluginregistration.Registration
// service that tells the node agent (or a kubelet) the driver's name and CSI endpoint,
// served on <registration-dir>/local.csi.kernlet.io-reg.sock. The driver then needs no
// node-driver-registrar sidecar.
//
// Thread-safety: the service may be called concurrently.
#pragma once

#include <memory>
#include <string>

namespace grpc {
class Service;
}

namespace kernlet::csi::local {

// A Registration service announcing `driver_name` at `csi_endpoint` (unix:///...), CSI 1.0.0.
std::unique_ptr<grpc::Service> make_registration_service(std::string driver_name, std::string csi_endpoint);

}  // namespace kernlet::csi::local
