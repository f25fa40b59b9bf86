#include "api/schema/schema.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <unordered_map>

namespace kernlet::api::schema {
namespace {

constexpr std::string_view kTable =
#include "api/schema/builtin_schema.inc"
    ;

[[noreturn]] void table_bug(std::string_view what, std::string_view line) {
  // The table is compiled in: a malformed line is a programmer error caught by every test.
  std::fprintf(stderr, "api/schema/builtin_schema.inc: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(line.size()), line.data());
  std::abort();
}

bool special_type(std::string_view t, Type& out) {
  static const std::pair<std::string_view, Type> kTypes[] = {
      {"string", Type::kString},       {"bool", Type::kBool},
      {"int32", Type::kInt32},         {"int64", Type::kInt64},
      {"double", Type::kDouble},       {"bytes", Type::kBytes},
      {"time", Type::kTime},           {"microtime", Type::kMicroTime},
      {"duration", Type::kDuration},   {"quantity", Type::kQuantity},
      {"intorstring", Type::kIntOrString}, {"rawextension", Type::kRawExtension},
      {"fieldsv1", Type::kFieldsV1},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == t) {
      out = type;
      return true;
    }
  }
  return false;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

struct Registry {
  std::deque<Message> storage;  // stable addresses
  std::unordered_map<std::string_view, const Message*> by_name;
  std::vector<const Message*> all;

  Registry() {
    // Pass 1: messages and raw field lines; pass 2: resolve type names.
    struct Pending {
      Field* field;
      std::string type;
      std::string_view line;
    };
    std::vector<std::pair<Message*, std::vector<std::string_view>>> raw;
    std::size_t pos = 0;
    Message* current = nullptr;
    while (pos < kTable.size()) {
      std::size_t nl = kTable.find('\n', pos);
      if (nl == std::string_view::npos) nl = kTable.size();
      std::string_view line = kTable.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      if (line[0] == '@') {
        current = &storage.emplace_back();
        current->name = std::string(line.substr(1));
        raw.push_back({current, {}});
        continue;
      }
      if (current == nullptr) table_bug("field outside a message", line);
      raw.back().second.push_back(line);
    }
    for (Message& m : storage) by_name.emplace(m.name, &m);

    for (auto& [msg, lines] : raw) {
      msg->fields.reserve(lines.size());
      for (std::string_view line : lines) {
        auto w = split_words(line);
        if (w.size() != 4) table_bug("expected 4 columns", line);
        Field f;
        f.number = static_cast<uint32_t>(std::strtoul(std::string(w[0]).c_str(), nullptr, 10));
        if (f.number == 0) table_bug("bad field number", line);
        if (w[1] != "-") f.json_name = std::string(w[1]);
        std::string_view t = w[2];
        if (t.starts_with("[]")) {
          f.list = true;
          t.remove_prefix(2);
        } else if (t.starts_with("{}")) {
          f.map = true;
          t.remove_prefix(2);
        }
        if (!special_type(t, f.type)) {
          auto it = by_name.find(t);
          if (it == by_name.end()) table_bug("unknown type", line);
          f.type = Type::kMessage;
          f.message = it->second;
        }
        f.pointer = w[3].find('p') != std::string_view::npos;
        f.omit_empty = w[3].find('o') != std::string_view::npos;
        if (f.is_inline() && (f.type != Type::kMessage || f.list || f.map)) table_bug("inline non-message", line);
        msg->fields.push_back(std::move(f));
      }
      std::sort(msg->fields.begin(), msg->fields.end(),
                [](const Field& a, const Field& b) { return a.number < b.number; });
    }
    // JSON indexes, inline fields flattened (inline chains are shallow and acyclic).
    for (Message& m : storage) index(m, m);
    for (const Message& m : storage) all.push_back(&m);
  }

  static void index(Message& into, const Message& from) {
    for (const Field& f : from.fields) {
      if (f.is_inline()) {
        index(into, *f.message);
      } else {
        into.json_index.emplace(f.json_name, &f);
      }
    }
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

}  // namespace

const Field* Message::by_number(uint32_t n) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), n, [](const Field& f, uint32_t v) { return f.number < v; });
  return it != fields.end() && it->number == n ? &*it : nullptr;
}

const Field* Message::by_json(std::string_view member) const {
  auto it = json_index.find(member);
  return it == json_index.end() ? nullptr : it->second;
}

const Message* find_message(std::string_view name) {
  const Registry& r = registry();
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

const Message* message_for_kind(std::string_view api_version, std::string_view kind) {
  std::string name;
  if (auto slash = api_version.find('/'); slash == std::string_view::npos) {
    name = "core." + std::string(api_version);
  } else {
    std::string_view group = api_version.substr(0, slash);
    if (group.ends_with(".k8s.io")) group.remove_suffix(7);
    if (group.find('.') != std::string_view::npos) return nullptr;  // not a built-in group
    name = std::string(group) + "." + std::string(api_version.substr(slash + 1));
  }
  if (kind.empty() || kind.find('.') != std::string_view::npos) return nullptr;
  name += ".";
  name += kind;
  if (const Message* m = find_message(name)) return m;
  // DeleteOptions and other meta/v1 types are accepted under every group version.
  return find_message("meta.v1." + std::string(kind));
}

const std::vector<const Message*>& all_messages() { return registry().all; }

}  // namespace kernlet::api::schema
