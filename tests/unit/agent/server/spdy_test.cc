// SPDY/3.1 framing and the header codec (agent/server/spdy.h): every frame type round-trips
// and has the draft's byte layout, partial input asks for more, malformed frames and
// header blocks are errors that say what is wrong, the zlib context carries across blocks
// as SPDY requires, the dictionary is the draft's, and random garbage never crashes the
// decoders. Also the X-Stream-Protocol-Version negotiation (spdy_exec.h).
#include "agent/server/spdy.h"

#include <zlib.h>

#include <gtest/gtest.h>

#include <random>

#include "agent/server/spdy_exec.h"

namespace kernlet::agent::spdy {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

Frame round_trip(const Frame& f) {
  auto wire = encode_frame(f);
  EXPECT_TRUE(wire.ok()) << wire.error().message();
  std::size_t used = 0;
  auto back = decode_frame(*wire, &used);
  EXPECT_TRUE(back.ok()) << back.error().message();
  EXPECT_TRUE(back->has_value());
  EXPECT_EQ(used, wire->size());
  return **back;
}

TEST(SpdyFrame, DataFrameLayout) {
  Frame f;
  f.type = FrameType::kData;
  f.stream_id = 5;
  f.flags = kFlagFin;
  f.payload = "hi";
  auto wire = encode_frame(f);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire, bytes({0, 0, 0, 5, 1, 0, 0, 2, 'h', 'i'}));
  Frame back = round_trip(f);
  EXPECT_EQ(back.type, FrameType::kData);
  EXPECT_EQ(back.stream_id, 5u);
  EXPECT_TRUE(back.fin());
  EXPECT_EQ(back.payload, "hi");
}

TEST(SpdyFrame, ControlFramesRoundTrip) {
  Frame syn;
  syn.type = FrameType::kSynStream;
  syn.stream_id = 3;
  syn.associated_id = 1;
  syn.priority = 7;
  syn.flags = kFlagUnidirectional;
  syn.payload = "block";
  auto wire = encode_frame(syn);
  ASSERT_TRUE(wire.ok());
  // Control bit + version 3, type 1, flags, length 15; ids; priority in the top 3 bits.
  EXPECT_EQ(wire->substr(0, 18), bytes({0x80, 3, 0, 1, 2, 0, 0, 15, 0, 0, 0, 3, 0, 0, 0, 1, 0xe0, 0}));
  Frame s = round_trip(syn);
  EXPECT_EQ(s.type, FrameType::kSynStream);
  EXPECT_EQ(s.stream_id, 3u);
  EXPECT_EQ(s.associated_id, 1u);
  EXPECT_EQ(s.priority, 7);
  EXPECT_EQ(s.payload, "block");

  Frame reply;
  reply.type = FrameType::kSynReply;
  reply.stream_id = 7;
  reply.payload = "x";
  EXPECT_EQ(round_trip(reply).stream_id, 7u);

  Frame rst;
  rst.type = FrameType::kRstStream;
  rst.stream_id = 9;
  rst.status = kCancel;
  Frame r = round_trip(rst);
  EXPECT_EQ(r.stream_id, 9u);
  EXPECT_EQ(r.status, kCancel);

  Frame settings;
  settings.type = FrameType::kSettings;
  settings.settings = {{0, 7, 65536}, {1, 4, 100}};
  Frame st = round_trip(settings);
  ASSERT_EQ(st.settings.size(), 2u);
  EXPECT_EQ(st.settings[0].id, 7u);
  EXPECT_EQ(st.settings[0].value, 65536u);
  EXPECT_EQ(st.settings[1].flags, 1);

  Frame ping;
  ping.type = FrameType::kPing;
  ping.ping_id = 0xdeadbeef;
  EXPECT_EQ(round_trip(ping).ping_id, 0xdeadbeefu);

  Frame away;
  away.type = FrameType::kGoAway;
  away.stream_id = 11;
  away.status = kGoAwayProtocolError;
  Frame g = round_trip(away);
  EXPECT_EQ(g.stream_id, 11u);
  EXPECT_EQ(g.status, kGoAwayProtocolError);

  Frame win;
  win.type = FrameType::kWindowUpdate;
  win.stream_id = 1;
  win.delta = 1000;
  EXPECT_EQ(round_trip(win).delta, 1000u);

  Frame headers;
  headers.type = FrameType::kHeaders;
  headers.stream_id = 1;
  headers.payload = "y";
  EXPECT_EQ(round_trip(headers).payload, "y");
}

TEST(SpdyFrame, PartialInputAsksForMore) {
  Frame f;
  f.type = FrameType::kPing;
  f.ping_id = 1;
  std::string wire = *encode_frame(f);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    std::size_t used = 99;
    auto r = decode_frame(std::string_view(wire).substr(0, n), &used);
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_FALSE(r->has_value()) << n;
    EXPECT_EQ(used, 0u);
  }
  // Two frames back to back: the first is decoded, its length reported.
  std::string two = wire + wire;
  std::size_t used = 0;
  auto r = decode_frame(two, &used);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(used, wire.size());
}

TEST(SpdyFrame, MalformedFramesAreNamed) {
  std::size_t used = 0;
  auto v2 = decode_frame(bytes({0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1}), &used);
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().message(), "spdy: control frame of version 2, not 3");
  auto ping = decode_frame(bytes({0x80, 3, 0, 6, 0, 0, 0, 2, 0, 0}), &used);
  ASSERT_FALSE(ping.ok());
  EXPECT_EQ(ping.error().message(), "spdy: PING frame of length 2, must be 4");
  auto rst0 = decode_frame(bytes({0x80, 3, 0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}), &used);
  ASSERT_FALSE(rst0.ok());
  EXPECT_EQ(rst0.error().message(), "spdy: RST_STREAM frame on stream 0");
  auto data0 = decode_frame(bytes({0, 0, 0, 0, 0, 0, 0, 0}), &used);
  ASSERT_FALSE(data0.ok());
  EXPECT_EQ(data0.error().message(), "spdy: DATA frame on stream 0");
  auto syn = decode_frame(bytes({0x80, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1}), &used);
  ASSERT_FALSE(syn.ok());
  EXPECT_EQ(syn.error().message(), "spdy: SYN_STREAM frame of length 4, at least 10");
  auto settings = decode_frame(bytes({0x80, 3, 0, 4, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 1}), &used);
  ASSERT_FALSE(settings.ok());
  EXPECT_EQ(settings.error().message(), "spdy: SETTINGS frame of length 8 cannot hold 2 entries");
  auto window = decode_frame(bytes({0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0}), &used);
  ASSERT_FALSE(window.ok());
  EXPECT_EQ(window.error().message(), "spdy: WINDOW_UPDATE with a delta of 0");
  // An unknown control type is skipped, not an error (SPDY: ignore it).
  auto unknown = decode_frame(bytes({0x80, 3, 0, 42, 0, 0, 0, 1, 'z'}), &used);
  ASSERT_TRUE(unknown.ok());
  ASSERT_TRUE(unknown->has_value());
  EXPECT_EQ(static_cast<int>((*unknown)->type), 42);
  EXPECT_EQ(used, 9u);
}

TEST(SpdyFrame, EncodeRefusesWhatDoesNotFit) {
  Frame big;
  big.type = FrameType::kData;
  big.stream_id = 1;
  big.payload.assign(kMaxLength + 1, 'x');
  auto r = encode_frame(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("over the 24-bit length"), std::string::npos);
  Frame id;
  id.type = FrameType::kData;
  id.stream_id = 0x80000000u;
  EXPECT_FALSE(encode_frame(id).ok());
  Frame prio;
  prio.type = FrameType::kSynStream;
  prio.stream_id = 1;
  prio.priority = 8;
  EXPECT_EQ(encode_frame(prio).error().message(), "spdy: priority 8 is over 7");
}

TEST(SpdyHeaders, BlockRoundTripAndLayout) {
  Headers h = {{"streamtype", "error"}, {"x-multi", std::string("a\0b", 3)}};
  auto block = encode_header_block(h);
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(block->substr(0, 8), bytes({0, 0, 0, 2, 0, 0, 0, 10}));
  auto back = decode_header_block(*block);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(header_value(*back, "StreamType"), "error");
  EXPECT_EQ(header_value(*back, "x-multi"), "a");  // the first of several values
  EXPECT_EQ(header_value(*back, "missing"), "");
}

TEST(SpdyHeaders, BadBlocksAreNamed) {
  EXPECT_EQ(encode_header_block({{"Upper", "x"}}).error().message(),
            "spdy: header block: name \"Upper\" is not lower case");
  EXPECT_EQ(encode_header_block({{"a", "1"}, {"a", "2"}}).error().message(),
            "spdy: header block: duplicate header \"a\"");
  EXPECT_EQ(decode_header_block(bytes({0, 0})).error().message(), "spdy: header block truncated in the pair count");
  EXPECT_EQ(decode_header_block(bytes({0, 0, 0, 1, 0, 0, 0, 5, 'a', 0, 0, 0})).error().message(),
            "spdy: header block truncated in name of pair 0");
  EXPECT_EQ(decode_header_block(bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})).error().message(),
            "spdy: header block: an empty header name");
  EXPECT_EQ(decode_header_block(bytes({0x7f, 0, 0, 0, 0, 0, 0, 0})).error().message(),
            "spdy: header block claims 2130706432 pairs in 8 bytes");
  EXPECT_EQ(decode_header_block(bytes({0, 0, 0, 0, 'x'})).error().message(),
            "spdy: header block has 1 bytes after its last pair");
}

TEST(SpdyHeaders, DictionaryIsTheDraftsOne) {
  const std::string& d = header_dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), bytes({0, 0, 0, 7, 'o', 'p', 't', 'i', 'o', 'n', 's'}));
  EXPECT_EQ(d.substr(d.size() - 7), ",enq=0.");
}

TEST(SpdyHeaders, CompressionCarriesStateAcrossBlocks) {
  HeaderCompressor out;
  HeaderDecompressor in;
  Headers a = {{"streamtype", "stdout"}, {"port", "8080"}, {"requestid", "0"}};
  Headers b = {{"streamtype", "stdout"}, {"port", "8080"}, {"requestid", "1"}};
  auto ca = out.compress(a);
  auto cb = out.compress(b);
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_LT(cb->size(), ca->size());  // the second block refers back to the first
  // The first block asks for the SPDY dictionary (FDICT set, DICTID its adler32).
  ASSERT_GE(ca->size(), 6u);
  EXPECT_NE(static_cast<unsigned char>((*ca)[1]) & 0x20, 0);
  const std::string& d = header_dictionary();
  uLong id = adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
  EXPECT_EQ(ca->substr(2, 4), bytes({static_cast<int>(id >> 24 & 0xff), static_cast<int>(id >> 16 & 0xff),
                                     static_cast<int>(id >> 8 & 0xff), static_cast<int>(id & 0xff)}));
  auto da = in.decompress(*ca);
  ASSERT_TRUE(da.ok()) << da.error().message();
  EXPECT_EQ(*da, a);
  auto db = in.decompress(*cb);
  ASSERT_TRUE(db.ok()) << db.error().message();
  EXPECT_EQ(*db, b);
  // The empty block of a SYN_REPLY.
  auto empty = out.compress({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(in.decompress(*empty)->empty());
  // A second block decoded by a fresh decompressor lacks the first one's context.
  HeaderDecompressor fresh;
  EXPECT_FALSE(fresh.decompress(*cb).ok());
}

TEST(SpdyHeaders, ForeignDictionaryAndGarbageAreRefused) {
  // zlib data made with another dictionary.
  z_stream z{};
  ASSERT_EQ(deflateInit(&z, Z_DEFAULT_COMPRESSION), Z_OK);
  const char other[] = "not the spdy dictionary";
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(other), sizeof other - 1);
  std::string raw = *encode_header_block({{"a", "b"}});
  char out[256];
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = sizeof out;
  deflate(&z, Z_SYNC_FLUSH);
  std::string block(out, sizeof out - z.avail_out);
  deflateEnd(&z);
  HeaderDecompressor in;
  auto r = in.decompress(block);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "spdy: header block: compressed with a dictionary other than SPDY/3's");
  // Once broken, the connection's state is gone: every later block fails and says why.
  EXPECT_NE(in.decompress("x").error().message().find("earlier block failed"), std::string::npos);
  HeaderDecompressor in2;
  auto g = in2.decompress("\xff\xfe garbage");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find("not zlib data"), std::string::npos) << g.error().message();
}

TEST(SpdyHeaders, AHeaderBombIsCutOff) {
  HeaderCompressor out;
  Headers h = {{"x", std::string(kMaxHeaderBlockBytes + 10, 'a')}};
  auto c = out.compress(h);
  ASSERT_TRUE(c.ok());
  EXPECT_LT(c->size(), 10000u);
  HeaderDecompressor in;
  auto r = in.decompress(*c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("inflates past"), std::string::npos);
}

// Fuzz-ish: random bytes and mutated valid frames never crash, never read out of bounds
// (run under ASan in the sanitizer build), and either ask for more, decode, or fail.
TEST(SpdyFrame, RandomAndMutatedInputNeverCrashes) {
  std::mt19937 rng(12345);
  HeaderCompressor out;
  Frame syn;
  syn.type = FrameType::kSynStream;
  syn.stream_id = 1;
  syn.payload = *out.compress({{"streamtype", "data"}, {"port", "80"}});
  const std::string valid = *encode_frame(syn);
  for (int i = 0; i < 20000; ++i) {
    std::string buf;
    if (i % 2 == 0) {
      buf.resize(rng() % 64);
      for (char& c : buf) c = static_cast<char>(rng());
    } else {
      buf = valid;
      for (int k = 0; k < 3; ++k) buf[rng() % buf.size()] = static_cast<char>(rng());
    }
    std::size_t used = 0;
    auto f = decode_frame(buf, &used);
    if (f.ok() && f->has_value()) {
      EXPECT_LE(used, buf.size());
      HeaderDecompressor in;
      (void)in.decompress((*f)->payload);
      (void)decode_header_block((*f)->payload);
    }
  }
}

TEST(StreamProtocol, NegotiatesInTheClientsOrder) {
  std::vector<std::string> supported = {"v4.channel.k8s.io"};
  EXPECT_EQ(negotiate_stream_protocol({"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"},
                                      supported),
            "v4.channel.k8s.io");
  EXPECT_EQ(negotiate_stream_protocol({"v5.channel.k8s.io, v4.channel.k8s.io"}, supported), "v4.channel.k8s.io");
  EXPECT_EQ(negotiate_stream_protocol({"v3.channel.k8s.io"}, supported), std::nullopt);
  EXPECT_EQ(negotiate_stream_protocol({}, supported), std::nullopt);
}

}  // namespace
}  // namespace kernlet::agent::spdy
