// dns_message: one DNS query in wire format -> what the server does with it: a reply built
// from DnsRecords (authoritative), a forward upstream (names outside the cluster), or
// nothing (garbage that is not even a DNS header). Wire parsing and building by libldns.
// No sockets: unit-tested with packets built by ldns.
//
// Rules: QUERY opcode only (others: NOTIMP); exactly one question (else FORMERR); class IN
// for cluster names (others: REFUSED); RD is copied, RA set (names outside are recursed
// upstream). EDNS0: a query with OPT gets OPT back (UDP size 1232); a UDP reply is at most
// the client's EDNS size (at most 1232) or 512 bytes, or it is truncated (TC, no records)
// so the client retries over TCP.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent/dns/dns_records.h"

namespace kernlet::agent::dns {

// RCODEs (RFC 1035 4.1.1).
enum Rcode : uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomainRcode = 3, kNotImp = 4, kRefused = 5 };

inline constexpr uint16_t kMaxUdpReply = 1232;  // the DNS flag day 2020 size, no fragments

enum class QueryAction { kReply, kForward, kDrop };

struct QueryOutcome {
  QueryAction action = QueryAction::kDrop;
  std::vector<uint8_t> reply;  // kReply
  std::string qname;           // as asked, for logs
  uint16_t qtype = 0;
  uint8_t rcode = 0;  // of the reply
};

// Handles one query. `records` may be null (the caches have not synced yet): cluster names
// then get SERVFAIL, so a client retries instead of caching a wrong NXDOMAIN. `domain` is
// the cluster domain (what is ours even before the first snapshot).
QueryOutcome answer_query(std::span<const uint8_t> query, const DnsRecords* records, const std::string& domain,
                          bool tcp);

// A reply to `query` with only its header and question and `rcode` (SERVFAIL when the
// upstreams failed); empty when `query` has no DNS header.
std::vector<uint8_t> error_reply(std::span<const uint8_t> query, uint8_t rcode);

// The largest UDP reply the sender of `query` accepts: its EDNS size (512..1232), or 512.
size_t udp_reply_limit(std::span<const uint8_t> query);

}  // namespace kernlet::agent::dns
