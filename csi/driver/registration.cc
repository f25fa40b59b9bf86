// pluginregistration.Registration for kernlet-csi-local (see registration.h).
#include "csi/driver/registration.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "csi/proto/pluginregistration.grpc.pb.h"

namespace kernlet::csi::local {
namespace {

namespace reg = ::pluginregistration;

class RegistrationImpl final : public reg::Registration::Service {
 public:
  RegistrationImpl(std::string name, std::string endpoint) : name_(std::move(name)), endpoint_(std::move(endpoint)) {}

  grpc::Status GetInfo(grpc::ServerContext*, const reg::InfoRequest*, reg::PluginInfo* info) override {
    info->set_type("CSIPlugin");
    info->set_name(name_);
    info->set_endpoint(endpoint_);
    info->add_supported_versions("1.0.0");
    return grpc::Status::OK;
  }

  grpc::Status NotifyRegistrationStatus(grpc::ServerContext*, const reg::RegistrationStatus* status,
                                        reg::RegistrationStatusResponse*) override {
    if (status->plugin_registered())
      std::fprintf(stderr, "kernlet-csi-local: registered with the node agent\n");
    else
      std::fprintf(stderr, "kernlet-csi-local: registration refused: %s\n", status->error().c_str());
    return grpc::Status::OK;
  }

 private:
  std::string name_;
  std::string endpoint_;
};

}  // namespace

std::unique_ptr<grpc::Service> make_registration_service(std::string driver_name, std::string csi_endpoint) {
  return std::make_unique<RegistrationImpl>(std::move(driver_name), std::move(csi_endpoint));
}

}  // namespace kernlet::csi::local
