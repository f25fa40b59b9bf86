// Unit tests of query handling (agent/dns/dns_message.h) on wire packets built and read
// with libldns: answers, NXDOMAIN with SOA, forward decisions, EDNS, truncation, errors.
#include "agent/dns/dns_message.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstdlib>
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

std::vector<uint8_t> query(const std::string& name, ldns_rr_type type, uint16_t id = 0x1234, bool edns = false,
                           ldns_rr_class cls = LDNS_RR_CLASS_IN) {
  ldns_pkt* p = ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, cls, LDNS_RD);
  ldns_pkt_set_id(p, id);
  if (edns) ldns_pkt_set_edns_udp_size(p, 4096);
  uint8_t* buf = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&buf, p, &size), LDNS_STATUS_OK);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(p);
  return out;
}

struct Reply {
  uint16_t id = 0;
  int rcode = -1;
  bool aa = false, tc = false, ra = false, edns = false;
  std::vector<std::string> answer, authority, additional;  // "NAME TYPE RDATA"
};

std::vector<std::string> section(const ldns_rr_list* l) {
  std::vector<std::string> out;
  for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(l, i);
    char* owner = ldns_rdf2str(ldns_rr_owner(rr));
    char* type = ldns_rr_type2str(ldns_rr_get_type(rr));
    std::string s = std::string(owner) + " " + type;
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      char* rd = ldns_rdf2str(ldns_rr_rdf(rr, j));
      s += " " + std::string(rd);
      std::free(rd);
    }
    std::free(owner);
    std::free(type);
    out.push_back(s);
  }
  return out;
}

Reply read(const std::vector<uint8_t>& wire) {
  Reply r;
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&p, wire.data(), wire.size()), LDNS_STATUS_OK);
  if (!p) return r;
  r.id = ldns_pkt_id(p);
  r.rcode = ldns_pkt_get_rcode(p);
  r.aa = ldns_pkt_aa(p);
  r.tc = ldns_pkt_tc(p);
  r.ra = ldns_pkt_ra(p);
  r.edns = ldns_pkt_edns(p);
  r.answer = section(ldns_pkt_answer(p));
  r.authority = section(ldns_pkt_authority(p));
  r.additional = section(ldns_pkt_additional(p));
  ldns_pkt_free(p);
  return r;
}

class DnsMessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<client::ObjectPtr> services = {
        obj(R"({"metadata":{"namespace":"default","name":"web"},"spec":{"clusterIP":"10.96.0.10",
             "ports":[{"name":"http","port":80}]}})")};
    std::string many;
    for (int i = 1; i <= 60; ++i) many += std::string(i > 1 ? "," : "") + R"({"addresses":["10.244.0.)" + std::to_string(i) + R"("]})";
    services.push_back(obj(R"({"metadata":{"namespace":"default","name":"big"},"spec":{"clusterIP":"None"}})"));
    std::vector<client::ObjectPtr> slices = {obj(
        R"({"metadata":{"namespace":"default","name":"big-1","labels":{"kubernetes.io/service-name":"big"}},
            "addressType":"IPv4","endpoints":[)" + many + "]}")};
    records_ = DnsRecords::build(services, slices, DnsRecordsOptions{}, 7);
  }
  QueryOutcome ask(const std::vector<uint8_t>& q, bool tcp = false) {
    return answer_query(q, records_.get(), "cluster.local", tcp);
  }
  std::shared_ptr<const DnsRecords> records_;
};

TEST_F(DnsMessageTest, AnswersAServiceAuthoritatively) {
  auto out = ask(query("Web.Default.svc.cluster.local.", LDNS_RR_TYPE_A, 0xbeef));
  ASSERT_EQ(out.action, QueryAction::kReply);
  Reply r = read(out.reply);
  EXPECT_EQ(r.id, 0xbeef);
  EXPECT_EQ(r.rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(r.aa);
  EXPECT_TRUE(r.ra);
  // The owner keeps the question's case.
  EXPECT_EQ(r.answer, std::vector<std::string>{"Web.Default.svc.cluster.local. A 10.96.0.10"});
}

TEST_F(DnsMessageTest, SrvCarriesTargetsInAdditional) {
  Reply r = read(ask(query("_http._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV)).reply);
  EXPECT_EQ(r.answer, std::vector<std::string>{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."});
  EXPECT_EQ(r.additional, std::vector<std::string>{"web.default.svc.cluster.local. A 10.96.0.10"});
}

TEST_F(DnsMessageTest, PtrOfAClusterIp) {
  Reply r = read(ask(query("10.0.96.10.in-addr.arpa.", LDNS_RR_TYPE_PTR)).reply);
  EXPECT_EQ(r.answer, std::vector<std::string>{"10.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."});
}

TEST_F(DnsMessageTest, UnknownNameIsNxDomainWithSoa) {
  auto out = ask(query("nope.default.svc.cluster.local.", LDNS_RR_TYPE_A));
  EXPECT_EQ(out.rcode, kNxDomainRcode);
  Reply r = read(out.reply);
  EXPECT_EQ(r.rcode, LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(r.answer.empty());
  EXPECT_EQ(r.authority, std::vector<std::string>{
                             "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 7 7200 1800 86400 5"});
  // NODATA: NOERROR, no answer, the SOA.
  Reply nodata = read(ask(query("web.default.svc.cluster.local.", LDNS_RR_TYPE_AAAA)).reply);
  EXPECT_EQ(nodata.rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(nodata.answer.empty());
  EXPECT_EQ(nodata.authority.size(), 1u);
}

TEST_F(DnsMessageTest, OutsideNamesAreForwarded) {
  EXPECT_EQ(ask(query("example.com.", LDNS_RR_TYPE_A)).action, QueryAction::kForward);
  EXPECT_EQ(ask(query("4.3.2.1.in-addr.arpa.", LDNS_RR_TYPE_PTR)).action, QueryAction::kForward);
}

TEST_F(DnsMessageTest, BeforeTheFirstSnapshotClusterNamesGetServfail) {
  auto out = answer_query(query("web.default.svc.cluster.local.", LDNS_RR_TYPE_A), nullptr, "cluster.local", false);
  ASSERT_EQ(out.action, QueryAction::kReply);
  EXPECT_EQ(read(out.reply).rcode, LDNS_RCODE_SERVFAIL);
  EXPECT_EQ(answer_query(query("example.com.", LDNS_RR_TYPE_A), nullptr, "cluster.local", false).action,
            QueryAction::kForward);
}

TEST_F(DnsMessageTest, LargeUdpAnswersAreTruncatedUnlessEdnsOrTcp) {
  auto q = query("big.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  Reply udp = read(ask(q).reply);  // 60 A records: over 512 bytes
  EXPECT_TRUE(udp.tc);
  EXPECT_TRUE(udp.answer.empty());
  Reply tcp = read(ask(q, true).reply);
  EXPECT_FALSE(tcp.tc);
  EXPECT_EQ(tcp.answer.size(), 60u);
  Reply edns = read(ask(query("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, true)).reply);
  EXPECT_FALSE(edns.tc);
  EXPECT_TRUE(edns.edns);
  EXPECT_EQ(edns.answer.size(), 60u);
  EXPECT_EQ(udp_reply_limit(query("x.", LDNS_RR_TYPE_A, 1, true)), kMaxUdpReply);
  EXPECT_EQ(udp_reply_limit(query("x.", LDNS_RR_TYPE_A)), 512u);
}

TEST_F(DnsMessageTest, MalformedAndUnsupported) {
  // Not a DNS header: nothing.
  EXPECT_EQ(ask({1, 2, 3}).action, QueryAction::kDrop);
  // A header with garbage after it: FORMERR with the id.
  std::vector<uint8_t> junk = {0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40};
  auto bad = ask(junk);
  ASSERT_EQ(bad.action, QueryAction::kReply);
  EXPECT_EQ(bad.reply.size(), 12u);
  EXPECT_EQ(bad.reply[0], 0xab);
  EXPECT_EQ(bad.reply[3] & 0x0f, kFormErr);
  // A response is never answered (no loops between servers).
  auto resp = query("web.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  resp[2] |= 0x80;
  EXPECT_EQ(ask(resp).action, QueryAction::kDrop);
  // Another opcode: NOTIMP. Another class for a cluster name: REFUSED.
  auto notify = query("web.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  notify[2] = static_cast<uint8_t>((notify[2] & 0x87) | (4 << 3));
  EXPECT_EQ(read(ask(notify).reply).rcode, LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(read(ask(query("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, false, LDNS_RR_CLASS_CH)).reply).rcode,
            LDNS_RCODE_REFUSED);
  // SERVFAIL for a forward that failed keeps id and question.
  Reply sf = read(error_reply(query("example.com.", LDNS_RR_TYPE_A, 0x4242), kServFail));
  EXPECT_EQ(sf.id, 0x4242);
  EXPECT_EQ(sf.rcode, LDNS_RCODE_SERVFAIL);
}

}  // namespace
}  // namespace kernlet::agent::dns
