#include "agent/dns/dns_message.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace kernlet::agent::dns {

namespace {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

Pkt parse(std::span<const uint8_t> wire) {
  ldns_pkt* p = nullptr;
  if (wire.size() < LDNS_HEADER_SIZE || ldns_wire2pkt(&p, wire.data(), wire.size()) != LDNS_STATUS_OK) return nullptr;
  return Pkt(p);
}

std::vector<uint8_t> to_wire(const ldns_pkt* p) {
  uint8_t* buf = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK) return {};
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// A header-only reply for a query ldns could not parse: its id and opcode, QR, FORMERR.
std::vector<uint8_t> header_reply(std::span<const uint8_t> query, uint8_t rcode) {
  if (query.size() < LDNS_HEADER_SIZE) return {};
  std::vector<uint8_t> out(LDNS_HEADER_SIZE, 0);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = static_cast<uint8_t>(0x80 | (query[2] & 0x79));  // QR, opcode, RD
  out[3] = static_cast<uint8_t>(0x80 | (rcode & 0x0f));     // RA
  return out;
}

// The reply skeleton: id, opcode, RD copied; QR and RA set; the question copied.
Pkt reply_for(const ldns_pkt* q, uint8_t rcode) {
  Pkt r(ldns_pkt_new());
  ldns_pkt_set_id(r.get(), ldns_pkt_id(q));
  ldns_pkt_set_qr(r.get(), true);
  ldns_pkt_set_opcode(r.get(), ldns_pkt_get_opcode(q));
  ldns_pkt_set_rd(r.get(), ldns_pkt_rd(q));
  ldns_pkt_set_cd(r.get(), ldns_pkt_cd(q));
  ldns_pkt_set_ra(r.get(), true);
  ldns_pkt_set_rcode(r.get(), rcode);
  const ldns_rr_list* qs = ldns_pkt_question(q);
  for (size_t i = 0; qs != nullptr && i < ldns_rr_list_rr_count(qs); ++i)
    ldns_pkt_push_rr(r.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(qs, i)));
  if (ldns_pkt_edns(q)) ldns_pkt_set_edns_udp_size(r.get(), kMaxUdpReply);
  return r;
}

std::string rdata_text(const DnsRecord& rec, const DnsRecords& records) {
  switch (rec.type) {
    case kTypeA:
    case kTypeAaaa:
      return rec.value;
    case kTypeSrv:
      return std::to_string(rec.priority) + " " + std::to_string(rec.weight) + " " + std::to_string(rec.port) + " " +
             rec.value + ".";
    case kTypeSoa:
      return "ns.dns." + records.domain() + ". hostmaster." + records.domain() + ". " +
             std::to_string(records.serial()) + " 7200 1800 86400 " + std::to_string(records.ttl());
    default:  // PTR, CNAME
      return rec.value + ".";
  }
}

const char* type_text(uint16_t t) {
  switch (t) {
    case kTypeA: return "A";
    case kTypeAaaa: return "AAAA";
    case kTypeSrv: return "SRV";
    case kTypeSoa: return "SOA";
    case kTypePtr: return "PTR";
    case kTypeCname: return "CNAME";
    default: return nullptr;
  }
}

// The record as an ldns RR; the owner is `owner` (the question's, so its case is kept)
// when given.
ldns_rr* make_rr(const DnsRecord& rec, const DnsRecords& records, const ldns_rdf* owner) {
  const char* type = type_text(rec.type);
  if (type == nullptr) return nullptr;
  std::string text = rec.name + ". " + std::to_string(records.ttl()) + " IN " + type + " " + rdata_text(rec, records);
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) return nullptr;
  if (owner != nullptr) {
    ldns_rdf_deep_free(ldns_rr_owner(rr));
    ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
  }
  return rr;
}

void push(ldns_pkt* p, ldns_pkt_section s, ldns_rr* rr) {
  if (rr != nullptr) ldns_pkt_push_rr(p, s, rr);
}

bool in_domain(const std::string& name, const std::string& domain) {
  if (domain.empty()) return false;
  return name == domain ||
         (name.size() > domain.size() && name.ends_with(domain) && name[name.size() - domain.size() - 1] == '.');
}

size_t limit_of(const ldns_pkt* q) {
  if (!ldns_pkt_edns(q)) return 512;
  return std::clamp<size_t>(ldns_pkt_edns_udp_size(q), 512, kMaxUdpReply);
}

}  // namespace

size_t udp_reply_limit(std::span<const uint8_t> query) {
  Pkt q = parse(query);
  return q ? limit_of(q.get()) : 512;
}

std::vector<uint8_t> error_reply(std::span<const uint8_t> query, uint8_t rcode) {
  Pkt q = parse(query);
  if (!q) return header_reply(query, rcode);
  return to_wire(reply_for(q.get(), rcode).get());
}

QueryOutcome answer_query(std::span<const uint8_t> query, const DnsRecords* records, const std::string& domain,
                          bool tcp) {
  QueryOutcome out;
  auto reply = [&](std::vector<uint8_t> wire, uint8_t rcode) {
    out.action = wire.empty() ? QueryAction::kDrop : QueryAction::kReply;
    out.reply = std::move(wire);
    out.rcode = rcode;
    return out;
  };
  if (query.size() < LDNS_HEADER_SIZE || (query[2] & 0x80) != 0) return out;  // no header, or a response
  Pkt q = parse(query);
  if (!q) return reply(header_reply(query, kFormErr), kFormErr);
  if (ldns_pkt_get_opcode(q.get()) != LDNS_PACKET_QUERY) return reply(error_reply(query, kNotImp), kNotImp);
  if (ldns_pkt_qdcount(q.get()) != 1) return reply(to_wire(reply_for(q.get(), kFormErr).get()), kFormErr);
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(q.get()), 0);
  const ldns_rdf* owner = ldns_rr_owner(question);
  char* owner_text = ldns_rdf2str(owner);
  out.qname = owner_text ? owner_text : "";
  std::free(owner_text);
  out.qtype = static_cast<uint16_t>(ldns_rr_get_type(question));
  const std::string name = normalize_name(out.qname);

  LookupResult found;
  if (records != nullptr) found = records->lookup(name, out.qtype);
  const bool ours = in_domain(name, normalize_name(domain)) || found.status != LookupStatus::kNotOurs;
  if (!ours) {
    out.action = QueryAction::kForward;
    return out;
  }
  if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN) return reply(to_wire(reply_for(q.get(), kRefused).get()), kRefused);
  if (records == nullptr) return reply(to_wire(reply_for(q.get(), kServFail).get()), kServFail);

  const uint8_t rcode = found.status == LookupStatus::kNxDomain ? kNxDomainRcode : kNoError;
  Pkt r = reply_for(q.get(), rcode);
  ldns_pkt_set_aa(r.get(), true);
  if (found.status == LookupStatus::kAnswer) {
    for (const auto& rec : found.answers)
      push(r.get(), LDNS_SECTION_ANSWER, make_rr(rec, *records, rec.name == name ? owner : nullptr));
    for (const auto& rec : found.additional) push(r.get(), LDNS_SECTION_ADDITIONAL, make_rr(rec, *records, nullptr));
  } else {
    // NXDOMAIN and NODATA carry the zone's SOA: its last field is the negative TTL.
    push(r.get(), LDNS_SECTION_AUTHORITY, make_rr({records->domain(), kTypeSoa, ""}, *records, nullptr));
  }
  std::vector<uint8_t> wire = to_wire(r.get());
  if (!tcp && wire.size() > limit_of(q.get())) {
    Pkt t = reply_for(q.get(), rcode);
    ldns_pkt_set_aa(t.get(), true);
    ldns_pkt_set_tc(t.get(), true);
    wire = to_wire(t.get());
  }
  return reply(std::move(wire), rcode);
}

}  // namespace kernlet::agent::dns
