// Decode/encode throughput of a realistic ~5 KB Pod for each JSON library Debian 12 ships.
// Prints one JSON document; docs/benchmarks.md records the figures and the choice.
//
//   build/bin/kernlet-bench-json [path/to/pod.json] [seconds-per-case]
#include <boost/json.hpp>
#include <nlohmann/json.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <string_view>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Case {
  std::string library;
  std::string op;
  double objects_per_s;
  double mb_per_s;
};

// Runs `fn` until `seconds` have passed (at least 1,000 times); returns calls per second.
double rate(const std::function<void()>& fn, double seconds) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 200; ++i) fn();  // warm caches and allocators
  long n = 0;
  auto start = clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (n < 1000 || clock::now() < deadline) {
    for (int i = 0; i < 100; ++i) fn();
    n += 100;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(clock::now() - start).count();
}

volatile size_t sink;  // defeats dead-code elimination

}  // namespace

int main(int argc, char** argv) {
  // --help answers instead of running the benchmark (the arguments are positional).
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
      std::fputs("Usage: kernlet-bench-json [POD.JSON [SECONDS-PER-CASE]]\n  (defaults: tests/testdata/pod.json 1); prints one JSON document.\n", stdout);
      return 0;
    }
  }
  std::string path = argc > 1 ? argv[1] : "tests/testdata/pod.json";
  double seconds = argc > 2 ? std::stod(argv[2]) : 1.0;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "kernlet-bench-json: cannot open %s\n", path.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  // Compact form, as the API server sends and stores objects.
  const std::string text = boost::json::serialize(boost::json::parse(ss.str()));
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::vector<Case> cases;
  auto add = [&](std::string lib, std::string op, double r) {
    cases.push_back({std::move(lib), std::move(op), r, r * mb});
  };

  {  // Boost.JSON
    boost::json::value doc = boost::json::parse(text);
    add("boost.json 1.81", "decode", rate([&] { sink = boost::json::parse(text).as_object().size(); }, seconds));
    add("boost.json 1.81", "encode", rate([&] { sink = boost::json::serialize(doc).size(); }, seconds));
    add("boost.json 1.81", "decode+encode",
        rate([&] { sink = boost::json::serialize(boost::json::parse(text)).size(); }, seconds));
    // The same with a reused parser and an arena per document, the way RapidJSON's
    // Document allocates by default: the like-for-like comparison.
    boost::json::parser parser;
    unsigned char buf[16384];
    auto decode_arena = [&] {
      boost::json::monotonic_resource mr(buf, sizeof buf);
      parser.reset(&mr);
      parser.write(text);
      boost::json::value v = parser.release();
      return boost::json::serialize(v).size();
    };
    add("boost.json 1.81 (arena)", "decode", rate([&] {
          boost::json::monotonic_resource mr(buf, sizeof buf);
          parser.reset(&mr);
          parser.write(text);
          sink = parser.release().as_object().size();
        }, seconds));
    add("boost.json 1.81 (arena)", "decode+encode", rate([&] { sink = decode_arena(); }, seconds));
  }
  {  // RapidJSON
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    auto encode = [](const rapidjson::Document& d) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      d.Accept(w);
      return std::string(buf.GetString(), buf.GetSize());
    };
    add("rapidjson 1.1.0", "decode", rate([&] {
          rapidjson::Document d;
          d.Parse(text.c_str(), text.size());
          sink = d.MemberCount();
        }, seconds));
    add("rapidjson 1.1.0", "encode", rate([&] { sink = encode(doc).size(); }, seconds));
    add("rapidjson 1.1.0", "decode+encode", rate([&] {
          rapidjson::Document d;
          d.Parse(text.c_str(), text.size());
          sink = encode(d).size();
        }, seconds));
  }
  {  // nlohmann (ordered_json keeps member order, which round-tripping needs)
    auto doc = nlohmann::ordered_json::parse(text);
    add("nlohmann 3.11 (ordered)", "decode", rate([&] { sink = nlohmann::ordered_json::parse(text).size(); }, seconds));
    add("nlohmann 3.11 (ordered)", "encode", rate([&] { sink = doc.dump().size(); }, seconds));
    add("nlohmann 3.11 (ordered)", "decode+encode",
        rate([&] { sink = nlohmann::ordered_json::parse(text).dump().size(); }, seconds));
  }
  {  // simdjson: read-only DOM, so it cannot be the object model; measured as a decode ceiling.
    simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    add("simdjson 3.0.1 (read-only DOM)", "decode",
        rate([&] { sink = parser.parse(padded).get_object().size(); }, seconds));
    simdjson::dom::element el = parser.parse(padded);
    add("simdjson 3.0.1 (read-only DOM)", "encode", rate([&] { sink = simdjson::minify(el).size(); }, seconds));
    simdjson::dom::parser p2;
    add("simdjson 3.0.1 (read-only DOM)", "decode+encode",
        rate([&] { sink = simdjson::minify(p2.parse(padded).value()).size(); }, seconds));
  }

  boost::json::object out;
  out["benchmark"] = "json_codec";
  out["input"] = path;
  out["input_bytes"] = text.size();
  boost::json::array arr;
  for (const auto& c : cases) {
    arr.push_back({{"library", c.library},
                   {"op", c.op},
                   {"objects_per_s", static_cast<int64_t>(c.objects_per_s)},
                   {"mb_per_s", static_cast<int64_t>(c.mb_per_s)}});
  }
  out["results"] = std::move(arr);
  std::cout << boost::json::serialize(out) << "\n";
  return 0;
}
