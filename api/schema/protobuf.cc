#include "api/schema/protobuf.h"

#include <boost/beast/core/detail/base64.hpp>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>

#include "api/time.h"
#include "api/utf8.h"

namespace kernlet::api::schema {
namespace {

constexpr int kMaxDepth = 100;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A cursor over protobuf wire data. Every read checks bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : d_(data) {}
  bool done() const { return p_ >= d_.size(); }

  bool varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= d_.size()) return false;
      auto b = static_cast<uint8_t>(d_[p_++]);
      out |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;  // more than 10 bytes
  }
  bool fixed(std::size_t n, uint64_t& out) {
    if (d_.size() - p_ < n) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) out |= static_cast<uint64_t>(static_cast<uint8_t>(d_[p_ + i])) << (8 * i);
    p_ += n;
    return true;
  }
  bool bytes(std::string_view& out) {
    uint64_t n;
    if (!varint(n) || n > d_.size() - p_) return false;
    out = d_.substr(p_, n);
    p_ += n;
    return true;
  }
  bool skip(uint32_t wire) {
    uint64_t v;
    std::string_view s;
    switch (wire) {
      case kVarint: return varint(v);
      case kFixed64: return fixed(8, v);
      case kFixed32: return fixed(4, v);
      case kLengthDelimited: return bytes(s);
      default: return false;  // groups (3, 4) are not used by Kubernetes
    }
  }

 private:
  std::string_view d_;
  std::size_t p_ = 0;
};

Error wire_error(std::string_view path, std::string_view what) {
  return Error(std::string(path.empty() ? "<root>" : path) + ": " + std::string(what));
}

std::string join(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return std::string(path) + "." + std::string(name);
}

std::string base64(std::string_view s) {
  namespace b = boost::beast::detail::base64;
  std::string out(b::encoded_size(s.size()), '\0');
  out.resize(b::encode(out.data(), s.data(), s.size()));
  return out;
}

// Go's JSON encoder writes invalid UTF-8 as U+FFFD; so do we (a stored document stays valid JSON).
json::string utf8_string(std::string_view s) {
  std::size_t i = 0;
  uint32_t r;
  while (i < s.size()) {
    std::size_t n = decode_utf8(s, i, r);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return json::string(s);
  std::string out(s.substr(0, i));
  while (i < s.size()) {
    std::size_t n = decode_utf8(s, i, r);
    if (n == 0) {
      append_utf8(out, 0xFFFD);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return json::string(out);
}

// The few fields of the special messages, read leniently (unknown numbers skipped).
struct SecondsNanos {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

Result<SecondsNanos> read_seconds_nanos(std::string_view data, std::string_view path) {
  Reader r(data);
  SecondsNanos out;
  while (!r.done()) {
    uint64_t tag, v;
    if (!r.varint(tag)) return wire_error(path, "truncated tag");
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    if ((num == 1 || num == 2) && wire == kVarint) {
      if (!r.varint(v)) return wire_error(path, "truncated varint");
      if (num == 1) out.seconds = static_cast<int64_t>(v);
      else out.nanos = static_cast<int32_t>(static_cast<uint32_t>(v));
    } else if (!r.skip(wire)) {
      return wire_error(path, "malformed field");
    }
  }
  return out;
}

Result<std::string> format_time(const SecondsNanos& t, bool micro, std::string_view path) {
  // What system_clock (nanoseconds in int64) can hold: about 1678-2262.
  constexpr int64_t kLimit = 9'000'000'000;
  if (t.seconds < -kLimit || t.seconds > kLimit || t.nanos < 0 || t.nanos > 999'999'999) {
    return wire_error(path, "time out of range");
  }
  TimePoint tp{std::chrono::duration_cast<TimePoint::duration>(std::chrono::seconds(t.seconds) +
                                                               std::chrono::nanoseconds(t.nanos))};
  return micro ? format_rfc3339_micro(tp) : format_rfc3339(tp);
}

// Reads the single field `want` of a small wrapper message (Quantity {1: string},
// Duration {1: int64}, RawExtension {1: bytes}, FieldsV1 {1: bytes}).
struct Wrapped {
  bool present = false;
  uint64_t varint = 0;
  std::string_view bytes;
};

Result<Wrapped> read_wrapped(std::string_view data, uint32_t wire_want, std::string_view path) {
  Reader r(data);
  Wrapped out;
  while (!r.done()) {
    uint64_t tag;
    if (!r.varint(tag)) return wire_error(path, "truncated tag");
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    if (num == 1 && wire == wire_want) {
      bool ok = wire == kVarint ? r.varint(out.varint) : r.bytes(out.bytes);
      if (!ok) return wire_error(path, "truncated field");
      out.present = true;
    } else if (!r.skip(wire)) {
      return wire_error(path, "malformed field");
    }
  }
  return out;
}

Result<json::value> decode_embedded_json(std::string_view raw, std::string_view path, int depth);
Result<json::object> decode_envelope(std::string_view body, int depth);

class Decoder {
 public:
  Result<void> message(const Message& m, std::string_view data, json::object& out, const std::string& path,
                       int depth) {
    if (depth > kMaxDepth) return wire_error(path, "nested too deeply");
    Reader r(data);
    while (!r.done()) {
      uint64_t tag;
      if (!r.varint(tag)) return wire_error(path, "truncated tag");
      uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
      if (num == 0) return wire_error(path, "field number 0");
      const Field* f = m.by_number(num);
      if (f == nullptr) {  // unknown to this schema: skipped, as upstream does
        if (!r.skip(wire)) return wire_error(path, "malformed field " + std::to_string(num));
        continue;
      }
      const std::string fpath = f->is_inline() ? path : join(path, f->json_name);
      if (f->is_inline()) {
        std::string_view sub;
        if (wire != kLengthDelimited || !r.bytes(sub)) return wire_error(fpath, "malformed embedded message");
        KL_TRY(message(*f->message, sub, out, path, depth + 1));
        continue;
      }
      if (f->map) {
        std::string_view entry;
        if (wire != kLengthDelimited || !r.bytes(entry)) return wire_error(fpath, "malformed map entry");
        KL_TRY(map_entry(*f, entry, json::ensure_object(out, f->json_name), fpath, depth));
        continue;
      }
      if (f->list) {
        json::array& arr = json::ensure_array(out, f->json_name);
        if (wire == kLengthDelimited && packable(f->type)) {  // packed repeated scalars
          std::string_view packed;
          if (!r.bytes(packed)) return wire_error(fpath, "truncated packed field");
          Reader pr(packed);
          while (!pr.done()) {
            json::value v;
            KL_TRY(scalar(*f, pr, packable_wire(f->type), v, fpath));
            arr.push_back(std::move(v));
          }
          continue;
        }
        json::value v;
        KL_TRY(value(*f, r, wire, v, fpath + "[" + std::to_string(arr.size()) + "]", depth));
        arr.push_back(std::move(v));
        continue;
      }
      if (f->type == Type::kMessage) {  // a repeated occurrence merges, as protobuf does
        std::string_view sub;
        if (wire != kLengthDelimited || !r.bytes(sub)) return wire_error(fpath, "malformed embedded message");
        KL_TRY(message(*f->message, sub, json::ensure_object(out, f->json_name), fpath, depth + 1));
        continue;
      }
      json::value v;
      KL_TRY(value(*f, r, wire, v, fpath, depth));
      if (v.is_null() || (!f->pointer && omitted_when_zero(*f) && is_zero(v))) {
        out.erase(f->json_name);
      } else {
        out[f->json_name] = std::move(v);
      }
    }
    return Ok();
  }

 private:
  static bool packable(Type t) {
    return t == Type::kBool || t == Type::kInt32 || t == Type::kInt64 || t == Type::kDouble;
  }
  static uint32_t packable_wire(Type t) { return t == Type::kDouble ? kFixed64 : kVarint; }

  // Go's JSON encoder leaves out a zero non-pointer omitempty scalar. Zero times are null
  // upstream and zero IntOrStrings mean "unset" to defaulting: both are left out here.
  static bool omitted_when_zero(const Field& f) {
    return f.omit_empty || f.type == Type::kTime || f.type == Type::kMicroTime || f.type == Type::kIntOrString;
  }
  static bool is_zero(const json::value& v) {
    if (v.is_string()) return v.get_string().empty();
    if (v.is_int64()) return v.get_int64() == 0;
    if (v.is_uint64()) return v.get_uint64() == 0;
    if (v.is_double()) return v.get_double() == 0;
    if (v.is_bool()) return !v.get_bool();
    return false;
  }

  Result<void> scalar(const Field& f, Reader& r, uint32_t wire, json::value& out, const std::string& path) {
    uint64_t v;
    switch (f.type) {
      case Type::kBool:
      case Type::kInt32:
      case Type::kInt64:
        if (wire != kVarint) return wire_error(path, "wire type " + std::to_string(wire) + ", want varint");
        if (!r.varint(v)) return wire_error(path, "truncated varint");
        if (f.type == Type::kBool) out = v != 0;
        else if (f.type == Type::kInt32) out = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v)));
        else out = static_cast<int64_t>(v);
        return Ok();
      case Type::kDouble: {
        if (wire != kFixed64) return wire_error(path, "wire type " + std::to_string(wire) + ", want fixed64");
        if (!r.fixed(8, v)) return wire_error(path, "truncated fixed64");
        double d = std::bit_cast<double>(v);
        if (!std::isfinite(d)) return wire_error(path, "not a finite number");
        out = d;
        return Ok();
      }
      default:
        return wire_error(path, "not a scalar");
    }
  }

  // One value of field `f` (a list element, a single field or a map value) in `out`.
  Result<void> value(const Field& f, Reader& r, uint32_t wire, json::value& out, const std::string& path, int depth) {
    if (packable(f.type)) return scalar(f, r, wire, out, path);
    std::string_view data;
    if (wire != kLengthDelimited) return wire_error(path, "wire type " + std::to_string(wire) + ", want bytes");
    if (!r.bytes(data)) return wire_error(path, "truncated bytes");
    return from_bytes(f, data, out, path, depth);
  }

  Result<void> from_bytes(const Field& f, std::string_view data, json::value& out, const std::string& path,
                          int depth) {
    switch (f.type) {
      case Type::kString:
        out = utf8_string(data);
        return Ok();
      case Type::kBytes:
        out = json::string(base64(data));
        return Ok();
      case Type::kMessage: {
        json::object o;
        KL_TRY(message(*f.message, data, o, path, depth + 1));
        out = std::move(o);
        return Ok();
      }
      case Type::kTime:
      case Type::kMicroTime: {
        KL_ASSIGN_OR_RETURN(SecondsNanos t, read_seconds_nanos(data, path));
        if (t.seconds == 0 && t.nanos == 0) {  // the zero time: null in Go's JSON
          out = nullptr;
          return Ok();
        }
        KL_ASSIGN_OR_RETURN(std::string s, format_time(t, f.type == Type::kMicroTime, path));
        out = json::string(s);
        return Ok();
      }
      case Type::kDuration: {
        KL_ASSIGN_OR_RETURN(Wrapped w, read_wrapped(data, kVarint, path));
        out = json::string(format_go_duration(static_cast<int64_t>(w.varint)));
        return Ok();
      }
      case Type::kQuantity: {
        KL_ASSIGN_OR_RETURN(Wrapped w, read_wrapped(data, kLengthDelimited, path));
        out = w.bytes.empty() ? json::string("0") : utf8_string(w.bytes);
        return Ok();
      }
      case Type::kIntOrString: {
        int64_t type = 0, int_val = 0;
        std::string_view str_val;
        Reader r(data);
        while (!r.done()) {
          uint64_t tag, v;
          if (!r.varint(tag)) return wire_error(path, "truncated tag");
          uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
          if ((num == 1 || num == 2) && wire == kVarint) {
            if (!r.varint(v)) return wire_error(path, "truncated varint");
            if (num == 1) type = static_cast<int64_t>(v);
            else int_val = static_cast<int32_t>(static_cast<uint32_t>(v));
          } else if (num == 3 && wire == kLengthDelimited) {
            if (!r.bytes(str_val)) return wire_error(path, "truncated strVal");
          } else if (!r.skip(wire)) {
            return wire_error(path, "malformed field");
          }
        }
        if (type == 1) out = utf8_string(str_val);
        else out = int_val;
        return Ok();
      }
      case Type::kRawExtension:
      case Type::kFieldsV1: {
        KL_ASSIGN_OR_RETURN(Wrapped w, read_wrapped(data, kLengthDelimited, path));
        if (w.bytes.empty()) {
          out = f.type == Type::kFieldsV1 ? json::value(json::object{}) : json::value(nullptr);
          return Ok();
        }
        KL_ASSIGN_OR_RETURN(out, decode_embedded_json(w.bytes, path, depth));
        return Ok();
      }
      default:
        return wire_error(path, "not a length-delimited type");
    }
  }

  Result<void> map_entry(const Field& f, std::string_view entry, json::object& out, const std::string& path,
                         int depth) {
    Reader r(entry);
    std::string key;
    std::optional<json::value> val;
    std::string_view key_view;
    while (!r.done()) {
      uint64_t tag;
      if (!r.varint(tag)) return wire_error(path, "truncated map entry");
      uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
      if (num == 1) {
        if (wire != kLengthDelimited || !r.bytes(key_view)) return wire_error(path, "malformed map key");
        key = std::string(key_view);
      } else if (num == 2) {
        json::value v;
        KL_TRY(value(f, r, wire, v, join(path, key), depth));
        val = std::move(v);
      } else if (!r.skip(wire)) {
        return wire_error(path, "malformed map entry");
      }
    }
    if (!val) {  // an absent value is the zero value of its type
      json::value v;
      KL_TRY(from_bytes_or_zero(f, v, join(path, key), depth));
      val = std::move(v);
    }
    out[utf8_string(key)] = std::move(*val);
    return Ok();
  }

  Result<void> from_bytes_or_zero(const Field& f, json::value& out, const std::string& path, int depth) {
    if (f.type == Type::kBool) out = false;
    else if (f.type == Type::kInt32 || f.type == Type::kInt64) out = 0;
    else if (f.type == Type::kDouble) out = 0.0;
    else return from_bytes(f, {}, out, path, depth);
    return Ok();
  }
};

Result<json::value> decode_embedded_json(std::string_view raw, std::string_view path, int depth) {
  if (raw.starts_with(kProtobufMagic)) {
    if (depth > kMaxDepth) return wire_error(path, "nested too deeply");
    KL_ASSIGN_OR_RETURN(json::object o, decode_envelope(raw, depth + 1));
    return json::value(std::move(o));
  }
  auto v = json::parse(raw);
  if (!v.ok()) return wire_error(path, "embedded " + v.error().message());
  return std::move(*v);
}

Result<json::object> decode_envelope(std::string_view body, int depth) {
  if (!body.starts_with(kProtobufMagic)) {
    return Error("protobuf body does not start with the Kubernetes prefix \"k8s\\x00\"");
  }
  Reader r(body.substr(kProtobufMagic.size()));
  std::string_view type_meta, raw, encoding;
  while (!r.done()) {
    uint64_t tag;
    if (!r.varint(tag)) return Error("protobuf envelope: truncated tag");
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    std::string_view* into = num == 1 ? &type_meta : num == 2 ? &raw : num == 3 ? &encoding : nullptr;
    if (into != nullptr && wire == kLengthDelimited) {
      if (!r.bytes(*into)) return Error("protobuf envelope: truncated field " + std::to_string(num));
    } else if (!r.skip(wire)) {
      return Error("protobuf envelope: malformed field " + std::to_string(num));
    }
  }
  if (!encoding.empty()) {
    return Error("protobuf envelope: contentEncoding \"" + std::string(encoding) + "\" is not supported");
  }
  std::string_view api_version, kind;
  Reader tm(type_meta);
  while (!tm.done()) {
    uint64_t tag;
    if (!tm.varint(tag)) return Error("protobuf envelope: truncated typeMeta");
    uint32_t num = static_cast<uint32_t>(tag >> 3), wire = static_cast<uint32_t>(tag & 7);
    std::string_view* into = num == 1 ? &api_version : num == 2 ? &kind : nullptr;
    if (into != nullptr && wire == kLengthDelimited) {
      if (!tm.bytes(*into)) return Error("protobuf envelope: truncated typeMeta");
    } else if (!tm.skip(wire)) {
      return Error("protobuf envelope: malformed typeMeta");
    }
  }
  const Message* m = message_for_kind(api_version, kind);
  if (m == nullptr) {
    return Error("no protobuf schema for " + std::string(api_version) + ", Kind=" + std::string(kind));
  }
  json::object decoded;
  Decoder d;
  KL_TRY(d.message(*m, raw, decoded, "", depth));
  json::object out;
  out.reserve(decoded.size() + 2);
  out["kind"] = utf8_string(kind);
  out["apiVersion"] = utf8_string(api_version);
  for (auto& kv : decoded) out[kv.key()] = std::move(kv.value());
  return out;
}

}  // namespace

std::string format_go_duration(int64_t nanoseconds) {
  if (nanoseconds == 0) return "0s";
  const bool neg = nanoseconds < 0;
  uint64_t u = neg ? -static_cast<uint64_t>(nanoseconds) : static_cast<uint64_t>(nanoseconds);
  // Fraction digits of u / 10^prec, trailing zeros dropped, as Go's fmtFrac does.
  auto frac = [](uint64_t v, int prec, std::string& out) -> uint64_t {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    if (print) out = "." + digits + out;
    return v;
  };
  std::string out;
  if (u < 1'000'000'000) {
    int prec;
    std::string unit;
    if (u < 1'000) {
      return (neg ? "-" : "") + std::to_string(u) + "ns";
    } else if (u < 1'000'000) {
      prec = 3, unit = "\xC2\xB5s";  // µs, as Go writes it
    } else {
      prec = 6, unit = "ms";
    }
    out = unit;
    u = frac(u, prec, out);
    out = std::to_string(u) + out;
  } else {
    out = "s";
    u = frac(u, 9, out);
    out = std::to_string(u % 60) + out;
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return (neg ? "-" : "") + out;
}

Result<json::object> decode_protobuf_message(const Message& message, std::string_view bytes) {
  json::object out;
  Decoder d;
  KL_TRY(d.message(message, bytes, out, "", 0));
  return out;
}

Result<json::object> decode_protobuf_object(std::string_view body) { return decode_envelope(body, 0); }

}  // namespace kernlet::api::schema
