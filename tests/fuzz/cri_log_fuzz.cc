// Fuzzes the CRI log record parser and the line splitter. A parsed record formats back to
// a record that parses to the same stream, tag and content; the splitter never emits a
// record longer than its limit or containing a newline, and never invents bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/logs/cri_format.h"

using namespace kernlet::logs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  kernlet::Result<CriRecord> r = parse_record(text);
  if (r.ok() && r->content.find('\n') == std::string_view::npos) {
    std::string again;
    append_record(again, r->time, r->stream, r->partial, r->content);
    kernlet::Result<CriRecord> r2 = parse_record(again);
    if (!r2.ok() || r2->stream != r->stream || r2->partial != r->partial || r2->content != r->content ||
        r2->time != r->time) {
      std::abort();
    }
  }

  std::size_t max = 1 + (size > 0 ? data[0] % 32 : 0);
  LineSplitter splitter(max);
  std::size_t emitted = 0;
  auto emit = [&](std::string_view content, bool partial) {
    if (content.size() > max || content.find('\n') != std::string_view::npos) std::abort();
    emitted += content.size() + (partial ? 0 : 1);
  };
  std::size_t half = size / 2;
  splitter.feed(text.substr(0, half), emit);
  splitter.feed(text.substr(half), emit);
  splitter.finish(emit);
  if (emitted > size) std::abort();
  return 0;
}
