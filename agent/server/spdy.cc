#include "agent/server/spdy.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace kernlet::agent::spdy {
namespace {

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view b, std::size_t at) {
  auto u = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
}

uint32_t get24(std::string_view b, std::size_t at) {
  auto u = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return u(0) << 16 | u(1) << 8 | u(2);
}

Error bad(const std::string& what) { return Error(ErrorCode::kInvalidArgument, "spdy: " + what); }

// The fixed payload length of a control type, 0 when it varies.
uint32_t fixed_length(FrameType t) {
  switch (t) {
    case FrameType::kRstStream:
    case FrameType::kGoAway:
    case FrameType::kWindowUpdate:
      return 8;
    case FrameType::kPing:
      return 4;
    default:
      return 0;
  }
}

bool known_control(uint16_t t) {
  return t == 1 || t == 2 || t == 3 || t == 4 || t == 6 || t == 7 || t == 8 || t == 9;
}

}  // namespace

std::string frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::kData:
      return "DATA";
    case FrameType::kSynStream:
      return "SYN_STREAM";
    case FrameType::kSynReply:
      return "SYN_REPLY";
    case FrameType::kRstStream:
      return "RST_STREAM";
    case FrameType::kSettings:
      return "SETTINGS";
    case FrameType::kPing:
      return "PING";
    case FrameType::kGoAway:
      return "GOAWAY";
    case FrameType::kHeaders:
      return "HEADERS";
    case FrameType::kWindowUpdate:
      return "WINDOW_UPDATE";
  }
  return "type " + std::to_string(static_cast<unsigned>(t));
}

Result<std::string> encode_frame(const Frame& f) {
  if (f.stream_id > kMaxStreamId) return bad("stream id " + std::to_string(f.stream_id) + " does not fit 31 bits");
  std::string body;
  switch (f.type) {
    case FrameType::kData:
      body = f.payload;
      break;
    case FrameType::kSynStream:
      if (f.associated_id > kMaxStreamId) return bad("associated stream id does not fit 31 bits");
      if (f.priority > 7) return bad("priority " + std::to_string(f.priority) + " is over 7");
      put32(body, f.stream_id);
      put32(body, f.associated_id);
      body.push_back(static_cast<char>(f.priority << 5));
      body.push_back(static_cast<char>(f.slot));
      body += f.payload;
      break;
    case FrameType::kSynReply:
    case FrameType::kHeaders:
      put32(body, f.stream_id);
      body += f.payload;
      break;
    case FrameType::kRstStream:
      put32(body, f.stream_id);
      put32(body, f.status);
      break;
    case FrameType::kSettings:
      put32(body, static_cast<uint32_t>(f.settings.size()));
      for (const Setting& s : f.settings) {
        if (s.id > 0xffffff) return bad("setting id " + std::to_string(s.id) + " does not fit 24 bits");
        put32(body, static_cast<uint32_t>(s.flags) << 24 | s.id);
        put32(body, s.value);
      }
      break;
    case FrameType::kPing:
      put32(body, f.ping_id);
      break;
    case FrameType::kGoAway:
      put32(body, f.stream_id);
      put32(body, f.status);
      break;
    case FrameType::kWindowUpdate:
      if (f.delta == 0 || f.delta > 0x7fffffff) return bad("window delta must be 1..2^31-1");
      put32(body, f.stream_id);
      put32(body, f.delta);
      break;
    default:
      return bad("cannot encode a frame of " + frame_type_name(f.type));
  }
  if (body.size() > kMaxLength) return bad(frame_type_name(f.type) + " payload of " + std::to_string(body.size()) +
                                           " bytes is over the 24-bit length");
  std::string out;
  out.reserve(kHeaderBytes + body.size());
  if (f.type == FrameType::kData) {
    put32(out, f.stream_id);
  } else {
    out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
    out.push_back(static_cast<char>(kVersion & 0xff));
    out.push_back(static_cast<char>(static_cast<uint16_t>(f.type) >> 8));
    out.push_back(static_cast<char>(static_cast<uint16_t>(f.type) & 0xff));
  }
  put32(out, static_cast<uint32_t>(f.flags) << 24 | static_cast<uint32_t>(body.size()));
  out += body;
  return out;
}

Result<std::optional<Frame>> decode_frame(std::string_view buf, std::size_t* consumed) {
  *consumed = 0;
  if (buf.size() < kHeaderBytes) return std::optional<Frame>();
  const bool control = (static_cast<unsigned char>(buf[0]) & 0x80) != 0;
  const uint8_t flags = static_cast<uint8_t>(buf[4]);
  const uint32_t length = get24(buf, 5);
  if (buf.size() < kHeaderBytes + length) return std::optional<Frame>();
  std::string_view p = buf.substr(kHeaderBytes, length);
  Frame f;
  f.flags = flags;
  if (!control) {
    f.type = FrameType::kData;
    f.stream_id = get32(buf, 0) & kMaxStreamId;
    if (f.stream_id == 0) return bad("DATA frame on stream 0");
    f.payload = std::string(p);
    *consumed = kHeaderBytes + length;
    return std::optional<Frame>(std::move(f));
  }
  const uint16_t version = static_cast<uint16_t>((static_cast<unsigned char>(buf[0]) & 0x7f) << 8 |
                                                 static_cast<unsigned char>(buf[1]));
  const uint16_t type = static_cast<uint16_t>(static_cast<unsigned char>(buf[2]) << 8 | static_cast<unsigned char>(buf[3]));
  if (version != kVersion) return bad("control frame of version " + std::to_string(version) + ", not 3");
  f.type = static_cast<FrameType>(type);
  *consumed = kHeaderBytes + length;
  if (!known_control(type)) {  // SPDY: ignore control frames of unknown types
    f.payload = std::string(p);
    return std::optional<Frame>(std::move(f));
  }
  const std::string name = frame_type_name(f.type);
  if (uint32_t want = fixed_length(f.type); want != 0 && length != want) {
    return bad(name + " frame of length " + std::to_string(length) + ", must be " + std::to_string(want));
  }
  auto need = [&](uint32_t n) -> Result<void> {
    if (length < n) return bad(name + " frame of length " + std::to_string(length) + ", at least " + std::to_string(n));
    return Ok();
  };
  auto stream = [&]() -> Result<void> {
    f.stream_id = get32(p, 0) & kMaxStreamId;
    if (f.stream_id == 0) return bad(name + " frame on stream 0");
    return Ok();
  };
  switch (f.type) {
    case FrameType::kSynStream:
      KL_TRY(need(10));
      KL_TRY(stream());
      f.associated_id = get32(p, 4) & kMaxStreamId;
      f.priority = static_cast<uint8_t>(static_cast<unsigned char>(p[8]) >> 5);
      f.slot = static_cast<uint8_t>(p[9]);
      f.payload = std::string(p.substr(10));
      break;
    case FrameType::kSynReply:
    case FrameType::kHeaders:
      KL_TRY(need(4));
      KL_TRY(stream());
      f.payload = std::string(p.substr(4));
      break;
    case FrameType::kRstStream:
      KL_TRY(stream());
      f.status = get32(p, 4);
      break;
    case FrameType::kSettings: {
      KL_TRY(need(4));
      const uint32_t n = get32(p, 0);
      if (static_cast<uint64_t>(n) * 8 + 4 != length) {
        return bad("SETTINGS frame of length " + std::to_string(length) + " cannot hold " + std::to_string(n) +
                   " entries");
      }
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t idf = get32(p, 4 + 8 * i);
        f.settings.push_back(Setting{static_cast<uint8_t>(idf >> 24), idf & 0xffffff, get32(p, 8 + 8 * i)});
      }
      break;
    }
    case FrameType::kPing:
      f.ping_id = get32(p, 0);
      break;
    case FrameType::kGoAway:
      f.stream_id = get32(p, 0) & kMaxStreamId;  // the last good stream: 0 is fine
      f.status = get32(p, 4);
      break;
    case FrameType::kWindowUpdate:
      f.stream_id = get32(p, 0) & kMaxStreamId;  // 0: the connection's window (SPDY/3.1)
      f.delta = get32(p, 4) & 0x7fffffff;
      if (f.delta == 0) return bad("WINDOW_UPDATE with a delta of 0");
      break;
    default:
      break;
  }
  return std::optional<Frame>(std::move(f));
}

// --- header blocks -------------------------------------------------------------------------

namespace {

Result<void> check_name(std::string_view name, std::set<std::string_view>& seen) {
  if (name.empty()) return bad("header block: an empty header name");
  for (char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) return bad("header block: name \"" + std::string(name) + "\" is not lower case");
  }
  if (!seen.insert(name).second) return bad("header block: duplicate header \"" + std::string(name) + "\"");
  return Ok();
}

}  // namespace

Result<std::string> encode_header_block(const Headers& h) {
  std::set<std::string_view> seen;
  std::string out;
  put32(out, static_cast<uint32_t>(h.size()));
  for (const auto& [name, value] : h) {
    KL_TRY(check_name(name, seen));
    put32(out, static_cast<uint32_t>(name.size()));
    out += name;
    put32(out, static_cast<uint32_t>(value.size()));
    out += value;
  }
  return out;
}

Result<Headers> decode_header_block(std::string_view b) {
  auto truncated = [&](const std::string& where) { return bad("header block truncated in " + where); };
  if (b.size() < 4) return truncated("the pair count");
  const uint32_t n = get32(b, 0);
  std::size_t at = 4;
  // Each pair takes at least 8 bytes: a count beyond that is a lie, not a reason to reserve.
  if (n > (b.size() - 4) / 8) return bad("header block claims " + std::to_string(n) + " pairs in " +
                                         std::to_string(b.size()) + " bytes");
  Headers h;
  std::set<std::string_view> seen;
  for (uint32_t i = 0; i < n; ++i) {
    auto field = [&](const char* what) -> Result<std::string_view> {
      if (b.size() - at < 4) return truncated(std::string(what) + " length of pair " + std::to_string(i));
      const uint32_t len = get32(b, at);
      at += 4;
      if (b.size() - at < len) return truncated(std::string(what) + " of pair " + std::to_string(i));
      std::string_view v = b.substr(at, len);
      at += len;
      return v;
    };
    KL_ASSIGN_OR_RETURN(std::string_view name, field("name"));
    KL_ASSIGN_OR_RETURN(std::string_view value, field("value"));
    KL_TRY(check_name(name, seen));
    h.emplace_back(std::string(name), std::string(value));
  }
  if (at != b.size()) return bad("header block has " + std::to_string(b.size() - at) + " bytes after its last pair");
  return h;
}

std::string_view header_value(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char c) { return std::tolower(a) == std::tolower(c); })) {
      std::string_view all = v;
      return all.substr(0, all.find('\0'));
    }
  }
  return {};
}

const std::string& header_dictionary() {
  // SPDY/3 draft, "Compression": the dictionary is these words, each preceded by its
  // length as 4 big-endian bytes, followed by a run of common values without separators.
  static const std::string dict = [] {
    static constexpr const char* kWords[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
        "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
        "content-base", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
        "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
        "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
        "public", "set-cookie", "keep-alive", "origin"};
    std::string d;
    for (const char* w : kWords) {
      std::string_view s(w);
      put32(d, static_cast<uint32_t>(s.size()));
      d += s;
    }
    d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505";
    d += "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized";
    d += "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable";
    d += "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT";
    d += "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,";
    d += "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    return d;
  }();
  return dict;
}

struct HeaderCompressor::State {
  z_stream z{};
  bool ok = false;
  ~State() {
    if (ok) deflateEnd(&z);
  }
};

HeaderCompressor::HeaderCompressor() : s_(std::make_unique<State>()) {
  if (deflateInit(&s_->z, Z_DEFAULT_COMPRESSION) != Z_OK) return;
  const std::string& d = header_dictionary();
  s_->ok = deflateSetDictionary(&s_->z, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) == Z_OK;
}

HeaderCompressor::~HeaderCompressor() = default;

Result<std::string> HeaderCompressor::compress(const Headers& h) {
  if (!s_->ok) return Error(ErrorCode::kInternal, "spdy: zlib deflate could not be set up");
  KL_ASSIGN_OR_RETURN(std::string raw, encode_header_block(h));
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char chunk[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      s_->ok = false;
      return Error(ErrorCode::kInternal, "spdy: zlib deflate failed (" + std::to_string(rc) + ")");
    }
    out.append(chunk, sizeof chunk - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct HeaderDecompressor::State {
  z_stream z{};
  bool ok = false;
  ~State() {
    if (ok) inflateEnd(&z);
  }
};

HeaderDecompressor::HeaderDecompressor() : s_(std::make_unique<State>()) { s_->ok = inflateInit(&s_->z) == Z_OK; }

HeaderDecompressor::~HeaderDecompressor() = default;

Result<Headers> HeaderDecompressor::decompress(std::string_view block) {
  if (!s_->ok) return bad("header compression state is broken (an earlier block failed)");
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::string out;
  char chunk[4096];
  auto fail = [&](const std::string& why) {
    s_->ok = false;
    return bad("header block: " + why);
  };
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = header_dictionary();
      if (z.adler != adler32(adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()))) {
        return fail("compressed with a dictionary other than SPDY/3's");
      }
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())) != Z_OK) {
        return fail("zlib refused the SPDY/3 dictionary");
      }
      continue;
    }
    if (rc == Z_STREAM_END) return fail("the compressed stream ended (a SPDY connection's stream never ends)");
    if (rc != Z_OK && rc != Z_BUF_ERROR) return fail(std::string("not zlib data: ") + (z.msg ? z.msg : "inflate failed"));
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > kMaxHeaderBlockBytes) return fail("inflates past " + std::to_string(kMaxHeaderBlockBytes) + " bytes");
    if (z.avail_out != 0) break;  // all input taken (inflate stops early only when output is full)
  }
  auto h = decode_header_block(out);
  if (!h.ok()) s_->ok = false;
  return h;
}

}  // namespace kernlet::agent::spdy
