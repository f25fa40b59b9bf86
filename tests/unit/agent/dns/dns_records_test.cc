// Unit tests of the cluster DNS record index (agent/dns/dns_records.h): ClusterIP and
// headless services, endpoint host names, SRV, PTR, NXDOMAIN vs NODATA, what is not ours.
#include "agent/dns/dns_records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/json.h"

namespace kernlet::agent::dns {
namespace {

client::ObjectPtr obj(const std::string& text) {
  auto o = json::parse_object(text);
  EXPECT_TRUE(o.ok()) << text;
  return std::make_shared<const json::object>(o.ok() ? *o : json::object{});
}

client::ObjectPtr svc(const std::string& ns, const std::string& name, const std::string& spec) {
  return obj(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name + R"("},"spec":)" + spec + "}");
}

client::ObjectPtr slice(const std::string& ns, const std::string& service, const std::string& type,
                        const std::string& ports, const std::string& endpoints) {
  return obj(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + service + R"(-x","labels":{"kubernetes.io/service-name":")" +
             service + R"("}},"addressType":")" + type + R"(","ports":)" + ports + R"(,"endpoints":)" + endpoints + "}");
}

// "type value[ port]" per answer, in order.
std::vector<std::string> show(const std::vector<DnsRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) {
    std::string s = std::to_string(r.type) + " " + r.value;
    if (r.type == kTypeSrv) s += " " + std::to_string(r.port);
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class DnsRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<client::ObjectPtr> services = {
        svc("default", "web", R"({"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00::a"],
             "ports":[{"name":"http","port":80,"protocol":"TCP"},{"port":8443}]})"),
        svc("db", "pg", R"({"clusterIP":"None","ports":[{"name":"sql","port":5432}]})"),
        svc("db", "empty", R"({"clusterIP":"None"})"),
        svc("default", "ext", R"({"type":"ExternalName","externalName":"example.org."})"),
        svc("default", "bad", R"({"clusterIP":"10.96.0.300"})"),
    };
    std::vector<client::ObjectPtr> slices = {
        slice("db", "pg", "IPv4", R"([{"name":"sql","port":5433,"protocol":"TCP"}])",
              R"([{"addresses":["10.244.1.5"],"hostname":"pg-0","conditions":{"ready":true}},
                  {"addresses":["10.244.2.7"],"conditions":{}},
                  {"addresses":["10.244.3.9"],"conditions":{"ready":false}}])"),
        slice("default", "web", "IPv4", R"([{"name":"http","port":8080}])",
              R"([{"addresses":["10.244.1.20"],"conditions":{"ready":true}}])"),
    };
    records_ = DnsRecords::build(services, slices, DnsRecordsOptions{}, 42, &warnings_);
  }
  std::shared_ptr<const DnsRecords> records_;
  std::vector<std::string> warnings_;
};

TEST_F(DnsRecordsTest, ClusterIpServiceAnswersItsAddresses) {
  auto a = records_->lookup("web.default.svc.cluster.local.", kTypeA);
  EXPECT_EQ(a.status, LookupStatus::kAnswer);
  EXPECT_EQ(show(a.answers), std::vector<std::string>{"1 10.96.0.10"});
  auto aaaa = records_->lookup("WEB.Default.svc.cluster.local", kTypeAaaa);  // any case
  EXPECT_EQ(show(aaaa.answers), std::vector<std::string>{"28 fd00::a"});
  // The name exists: a type it lacks is NODATA, not NXDOMAIN.
  EXPECT_EQ(records_->lookup("web.default.svc.cluster.local", kTypeSrv).status, LookupStatus::kNoData);
}

TEST_F(DnsRecordsTest, HeadlessServiceAnswersReadyEndpoints) {
  auto a = records_->lookup("pg.db.svc.cluster.local", kTypeA);
  EXPECT_EQ(a.status, LookupStatus::kAnswer);
  // Unset ready reads true; ready=false is left out.
  EXPECT_EQ(show(a.answers), (std::vector<std::string>{"1 10.244.1.5", "1 10.244.2.7"}));
  // Endpoint host names: the hostname, else the dashed address.
  EXPECT_EQ(show(records_->lookup("pg-0.pg.db.svc.cluster.local", kTypeA).answers),
            std::vector<std::string>{"1 10.244.1.5"});
  EXPECT_EQ(show(records_->lookup("10-244-2-7.pg.db.svc.cluster.local", kTypeA).answers),
            std::vector<std::string>{"1 10.244.2.7"});
  EXPECT_EQ(records_->lookup("10-244-3-9.pg.db.svc.cluster.local", kTypeA).status, LookupStatus::kNxDomain);
  // A headless service without endpoints exists, with no addresses.
  EXPECT_EQ(records_->lookup("empty.db.svc.cluster.local", kTypeA).status, LookupStatus::kNoData);
}

TEST_F(DnsRecordsTest, SrvForNamedPorts) {
  auto s = records_->lookup("_http._tcp.web.default.svc.cluster.local", kTypeSrv);
  EXPECT_EQ(s.status, LookupStatus::kAnswer);
  EXPECT_EQ(show(s.answers), std::vector<std::string>{"33 web.default.svc.cluster.local 80"});
  EXPECT_EQ(show(s.additional), (std::vector<std::string>{"1 10.96.0.10", "28 fd00::a"}));
  // Headless: one per endpoint, the endpoint's port, the endpoint's name, its address added.
  auto h = records_->lookup("_sql._tcp.pg.db.svc.cluster.local", kTypeSrv);
  EXPECT_EQ(show(h.answers), (std::vector<std::string>{"33 10-244-2-7.pg.db.svc.cluster.local 5433",
                                                        "33 pg-0.pg.db.svc.cluster.local 5433"}));
  EXPECT_EQ(show(h.additional), (std::vector<std::string>{"1 10.244.1.5", "1 10.244.2.7"}));
  // An unnamed port has no SRV; the wrong protocol is no name.
  EXPECT_EQ(records_->lookup("_http._udp.web.default.svc.cluster.local", kTypeSrv).status, LookupStatus::kNxDomain);
  // _tcp.web... is an empty non-terminal.
  EXPECT_EQ(records_->lookup("_tcp.web.default.svc.cluster.local", kTypeSrv).status, LookupStatus::kNoData);
}

TEST_F(DnsRecordsTest, PtrForClusterIpsAndEndpoints) {
  EXPECT_EQ(show(records_->lookup("10.0.96.10.in-addr.arpa.", kTypePtr).answers),
            std::vector<std::string>{"12 web.default.svc.cluster.local"});
  EXPECT_EQ(show(records_->lookup("5.1.244.10.in-addr.arpa", kTypePtr).answers),
            std::vector<std::string>{"12 pg-0.pg.db.svc.cluster.local"});
  // An endpoint of a ClusterIP service too, under its dashed name (which resolves back).
  EXPECT_EQ(show(records_->lookup("20.1.244.10.in-addr.arpa", kTypePtr).answers),
            std::vector<std::string>{"12 10-244-1-20.web.default.svc.cluster.local"});
  EXPECT_EQ(show(records_->lookup("10-244-1-20.web.default.svc.cluster.local", kTypeA).answers),
            std::vector<std::string>{"1 10.244.1.20"});
  EXPECT_EQ(reverse_name("fd00::a"), "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa");
  EXPECT_EQ(show(records_->lookup(reverse_name("fd00::a"), kTypePtr).answers),
            std::vector<std::string>{"12 web.default.svc.cluster.local"});
  // Any other reverse name is not ours: it goes upstream.
  EXPECT_EQ(records_->lookup("1.1.168.192.in-addr.arpa", kTypePtr).status, LookupStatus::kNotOurs);
}

TEST_F(DnsRecordsTest, UnknownClusterNamesAreNxDomainAndOthersAreNotOurs) {
  EXPECT_EQ(records_->lookup("nope.default.svc.cluster.local", kTypeA).status, LookupStatus::kNxDomain);
  // What a search path makes of an outside name: still ours, still NXDOMAIN.
  EXPECT_EQ(records_->lookup("example.com.default.svc.cluster.local", kTypeA).status, LookupStatus::kNxDomain);
  EXPECT_EQ(records_->lookup("web.nons.svc.cluster.local", kTypeA).status, LookupStatus::kNxDomain);
  // Namespaces with services, svc.<domain> and the domain exist.
  EXPECT_EQ(records_->lookup("default.svc.cluster.local", kTypeA).status, LookupStatus::kNoData);
  EXPECT_EQ(records_->lookup("svc.cluster.local", kTypeA).status, LookupStatus::kNoData);
  EXPECT_EQ(records_->lookup("cluster.local", kTypeA).status, LookupStatus::kNoData);
  auto soa = records_->lookup("cluster.local", kTypeSoa);
  EXPECT_EQ(soa.status, LookupStatus::kAnswer);
  ASSERT_EQ(soa.answers.size(), 1u);
  EXPECT_EQ(soa.answers[0].type, kTypeSoa);
  EXPECT_EQ(records_->lookup("example.com", kTypeA).status, LookupStatus::kNotOurs);
  EXPECT_EQ(records_->lookup("notcluster.local", kTypeA).status, LookupStatus::kNotOurs);
  EXPECT_EQ(records_->serial(), 42u);
}

TEST_F(DnsRecordsTest, ExternalNameIsACname) {
  auto c = records_->lookup("ext.default.svc.cluster.local", kTypeA);
  EXPECT_EQ(c.status, LookupStatus::kAnswer);
  EXPECT_EQ(show(c.answers), std::vector<std::string>{"5 example.org"});
}

TEST_F(DnsRecordsTest, BadAddressesAreWarnedAndSkipped) {
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("default/bad"), std::string::npos) << warnings_[0];
  EXPECT_NE(warnings_[0].find("10.96.0.300"), std::string::npos) << warnings_[0];
  EXPECT_EQ(records_->lookup("bad.default.svc.cluster.local", kTypeA).status, LookupStatus::kNoData);
}

TEST(DnsRecordsDomainTest, OtherDomainAndPublishNotReady) {
  DnsRecordsOptions o;
  o.cluster_domain = "Corp.Example.";
  auto r = DnsRecords::build(
      {svc("a", "s", R"({"clusterIP":"None","publishNotReadyAddresses":true})")},
      {slice("a", "s", "IPv4", "[]", R"([{"addresses":["10.1.0.1"],"conditions":{"ready":false}}])")}, o, 1);
  EXPECT_EQ(r->domain(), "corp.example");
  EXPECT_EQ(show(r->lookup("s.a.svc.corp.example", kTypeA).answers), std::vector<std::string>{"1 10.1.0.1"});
  EXPECT_EQ(r->lookup("s.a.svc.cluster.local", kTypeA).status, LookupStatus::kNotOurs);
}

}  // namespace
}  // namespace kernlet::agent::dns
