// Views of the two kinds that list a Service's backends: discovery.k8s.io/v1 EndpointSlice
// (what kube-proxy reads) and the legacy core/v1 Endpoints (pattern: api/objects/pod.h).
// Thread-safety: safe to use concurrently as long as nobody writes the document.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/object.h"
#include "api/objects/common.h"

namespace kernlet::api {

// The label naming the Service an EndpointSlice belongs to.
inline constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
// The label naming the controller that manages an EndpointSlice.
inline constexpr std::string_view kEndpointSliceManagedByLabel =
    "endpointslice.kubernetes.io/managed-by";

// endpoints[i].conditions. Each condition is a *bool in the API; the plain accessors read
// an unset one as Kubernetes tells consumers to: ready and serving as true, terminating
// as false. The *_value() accessors keep unset apart.
class EndpointConditionsView {
 public:
  explicit EndpointConditionsView(const json::object& c) : c_(&c) {}
  bool ready() const;
  bool serving() const;
  bool terminating() const;
  std::optional<bool> ready_value() const;
  std::optional<bool> serving_value() const;
  std::optional<bool> terminating_value() const;
  const json::object& raw() const { return *c_; }

 private:
  const json::object* c_;
};

// endpoints[i] of an EndpointSlice.
class EndpointSliceEndpointView {
 public:
  explicit EndpointSliceEndpointView(const json::object& e) : e_(&e) {}
  std::vector<std::string_view> addresses() const;
  EndpointConditionsView conditions() const;
  std::optional<std::string_view> hostname() const;
  std::optional<std::string_view> node_name() const;
  std::optional<std::string_view> zone() const;
  std::optional<ObjectReferenceView> target_ref() const;
  const json::object* hints() const;
  const json::object& raw() const { return *e_; }

 private:
  const json::object* e_;
};

// ports[i] of an EndpointSlice.
class EndpointSlicePortView {
 public:
  explicit EndpointSlicePortView(const json::object& p) : p_(&p) {}
  std::string_view name() const;      // default ""
  std::string_view protocol() const;  // default "TCP"
  // nullopt when unset: the slice then stands for all ports of its endpoints.
  std::optional<int64_t> port() const;
  std::optional<std::string_view> app_protocol() const;
  const json::object& raw() const { return *p_; }

 private:
  const json::object* p_;
};

// A whole EndpointSlice.
class EndpointSliceView {
 public:
  explicit EndpointSliceView(const json::object& s) : s_(&s) {}
  Meta meta() const { return Meta(*s_); }
  std::string_view address_type() const;  // "IPv4", "IPv6" or "FQDN"
  std::vector<EndpointSliceEndpointView> endpoints() const;
  std::vector<EndpointSlicePortView> ports() const;
  // The kubernetes.io/service-name label; nullopt for slices not tied to a Service.
  std::optional<std::string_view> service_name() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// subsets[i].addresses[j] / notReadyAddresses[j] of an Endpoints object.
class EndpointAddressView {
 public:
  explicit EndpointAddressView(const json::object& a) : a_(&a) {}
  std::string_view ip() const;
  std::string_view hostname() const;
  std::optional<std::string_view> node_name() const;
  std::optional<ObjectReferenceView> target_ref() const;
  const json::object& raw() const { return *a_; }

 private:
  const json::object* a_;
};

// subsets[i].ports[j] of an Endpoints object.
class EndpointPortView {
 public:
  explicit EndpointPortView(const json::object& p) : p_(&p) {}
  std::string_view name() const;
  int64_t port() const;               // 0 when unset
  std::string_view protocol() const;  // default "TCP"
  std::optional<std::string_view> app_protocol() const;
  const json::object& raw() const { return *p_; }

 private:
  const json::object* p_;
};

// subsets[i]: every address in it serves every port in it.
class EndpointSubsetView {
 public:
  explicit EndpointSubsetView(const json::object& s) : s_(&s) {}
  std::vector<EndpointAddressView> addresses() const;
  std::vector<EndpointAddressView> not_ready_addresses() const;
  std::vector<EndpointPortView> ports() const;
  const json::object& raw() const { return *s_; }

 private:
  const json::object* s_;
};

// A whole core/v1 Endpoints (named after its Service).
class EndpointsView {
 public:
  explicit EndpointsView(const json::object& e) : e_(&e) {}
  Meta meta() const { return Meta(*e_); }
  std::vector<EndpointSubsetView> subsets() const;
  const json::object& raw() const { return *e_; }

 private:
  const json::object* e_;
};

}  // namespace kernlet::api
