#include "cni/client/result.h"

#include <gtest/gtest.h>

namespace kernlet::cni {
namespace {

// What Debian's bridge plugin answers with a 0.4.0 config.
constexpr const char* kBridge040 = R"({"cniVersion":"0.4.0",
  "interfaces":[{"name":"cni0","mac":"aa:bb:cc:00:00:01"},
                {"name":"veth1","mac":"aa:bb:cc:00:00:02"},
                {"name":"eth0","mac":"aa:bb:cc:00:00:03","sandbox":"/run/netns/p"}],
  "ips":[{"version":"4","interface":2,"address":"10.244.7.2/24","gateway":"10.244.7.1"},
         {"version":"6","interface":2,"address":"fd00::2/64","gateway":"fd00::1"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.244.7.1"}],
  "dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]}})";

TEST(CniResult, Converts040To100) {
  auto r = parse_result_text(kBridge040, "plugin bridge");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->cni_version, "0.4.0");
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/netns/p");
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].address, "10.244.7.2/24");
  EXPECT_EQ(r->ips[0].gateway, "10.244.7.1");
  EXPECT_EQ(r->ips[0].interface, 2);
  ASSERT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(r->routes[0].dst, "0.0.0.0/0");
  EXPECT_EQ(r->dns.nameservers, std::vector<std::string>{"10.96.0.10"});

  json::object v1 = to_json_v1(*r);
  EXPECT_EQ(json::get_string(v1, "cniVersion"), "1.0.0");
  const json::array* ips = json::get_array(v1, "ips");
  ASSERT_NE(ips, nullptr);
  EXPECT_EQ(json::find(ips->at(0).get_object(), "version"), nullptr);
  EXPECT_EQ(json::get_string(ips->at(0).get_object(), "address"), "10.244.7.2/24");
  EXPECT_EQ(json::get_int(ips->at(0).get_object(), "interface"), 2);
  // The raw document stays as the plugin sent it: it is the next plugin's prevResult.
  EXPECT_EQ(json::get_string(r->raw, "cniVersion"), "0.4.0");
  // And 1.0.0 output reads back to the same thing.
  auto again = parse_result(v1, "v1");
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(again->ips.size(), 2u);
  EXPECT_EQ(again->interfaces.size(), 3u);
}

TEST(CniResult, ConvertsBetweenVersions) {
  auto r = parse_result_text(kBridge040, "p");
  ASSERT_TRUE(r.ok());
  auto v1 = convert_result(*r, "1.0.0");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(json::find(json::get_array(*v1, "ips")->at(0).get_object(), "version"), nullptr);
  auto v1r = parse_result(*v1, "v1");
  ASSERT_TRUE(v1r.ok());
  auto back = convert_result(*v1r, "0.3.1");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(json::get_string(*back, "cniVersion"), "0.3.1");
  const json::array* ips = json::get_array(*back, "ips");
  EXPECT_EQ(json::get_string(ips->at(0).get_object(), "version"), "4");
  EXPECT_EQ(json::get_string(ips->at(1).get_object(), "version"), "6");
  EXPECT_FALSE(convert_result(*r, "0.2.0").ok());
}

TEST(CniResult, ConvertsLegacy020) {
  auto r = parse_result_text(R"({"cniVersion":"0.2.0",
    "ip4":{"ip":"10.1.0.5/16","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]},
    "ip6":{"ip":"fd01::5/64"},"dns":{"domain":"x"}})", "p");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_EQ(r->ips[0].address, "10.1.0.5/16");
  EXPECT_FALSE(r->ips[0].interface.has_value());
  EXPECT_EQ(r->routes.size(), 1u);
  EXPECT_EQ(r->dns.domain, "x");
  EXPECT_EQ(pod_ips(*r), (std::vector<std::string>{"10.1.0.5", "fd01::5"}));
}

TEST(CniResult, PodIpsAreSandboxAddressesIPv4First) {
  auto r = parse_result_text(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/proc/1/ns/net"}],
    "ips":[{"address":"fd00::7/64","interface":1},
           {"address":"10.244.7.1/24","interface":0},
           {"address":"10.244.7.9/24","interface":1},
           {"address":"10.244.7.9/24","interface":1}]})", "p");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(pod_ips(*r), (std::vector<std::string>{"10.244.7.9", "fd00::7"}));
}

TEST(CniResult, RejectsMalformedResults) {
  const char* bad[] = {
      R"({"ips":[]})",
      R"({"cniVersion":"2.0.0"})",
      R"({"cniVersion":"1.0.0","ips":[{"gateway":"1.2.3.4"}]})",
      R"({"cniVersion":"1.0.0","ips":[{"address":"1.2.3.4/32","interface":3}]})",
      R"({"cniVersion":"1.0.0","interfaces":{}})",
      R"({"cniVersion":"1.0.0","routes":[{"gw":"1.1.1.1"}]})",
      R"({"cniVersion":"1.0.0","dns":{"nameservers":[1]}})",
      R"(not json)",
  };
  for (const char* text : bad) {
    auto r = parse_result_text(text, "plugin x");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(r.error().message().find("plugin x"), std::string::npos) << r.error().message();
  }
}

TEST(CniResult, ErrorDocumentsAndCodes) {
  auto e = parse_plugin_error(R"({"cniVersion":"1.0.0","code":7,"msg":"bad","details":"d"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, 7);
  EXPECT_EQ(e->msg, "bad");
  EXPECT_EQ(e->details, "d");
  EXPECT_FALSE(parse_plugin_error("panic: oops").has_value());
  EXPECT_FALSE(parse_plugin_error(R"({"msg":"no code"})").has_value());
  EXPECT_EQ(error_code_name(1), "incompatible CNI version");
  EXPECT_EQ(error_code_name(11), "try again later");
  EXPECT_EQ(error_code_name(123), "plugin-specific error");
  EXPECT_EQ(to_error_code(11), ErrorCode::kUnavailable);
  EXPECT_EQ(to_error_code(50), ErrorCode::kUnavailable);
  EXPECT_EQ(to_error_code(3), ErrorCode::kNotFound);
  EXPECT_EQ(to_error_code(7), ErrorCode::kInvalidArgument);
  EXPECT_EQ(to_error_code(5), ErrorCode::kUnknown);
  EXPECT_EQ(to_error_code(200), ErrorCode::kUnknown);
}

TEST(CniResult, CompareVersions) {
  EXPECT_LT(compare_versions("0.3.1", "0.4.0"), 0);
  EXPECT_EQ(compare_versions("1.0.0", "1.0.0"), 0);
  EXPECT_GT(compare_versions("1.1.0", "1.0.0"), 0);
  EXPECT_GT(compare_versions("0.10.0", "0.4.0"), 0);
}

}  // namespace
}  // namespace kernlet::cni
