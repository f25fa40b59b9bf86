#include "api/labels.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>

namespace kernlet::api {
namespace {

// strconv.ParseInt(s, 10, 64): optional sign, decimal digits, in int64 range.
std::optional<int64_t> parse_int64(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (neg) return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  return static_cast<int64_t>(v);
}

json::value string_array(const std::vector<std::string>& vals) {
  json::array a;
  for (const auto& v : vals) a.emplace_back(json::string(v));
  return a;
}

std::string child(std::string_view path, std::string_view name) { return join_path(path, name); }

// ---- lexer ---------------------------------------------------------------------------

enum class Tok {
  kError,
  kEnd,
  kClosePar,
  kComma,
  kNot,
  kDoubleEquals,
  kEquals,
  kGreater,
  kIdentifier,
  kIn,
  kLess,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Item {
  Tok tok;
  std::string lit;
};

std::optional<Tok> keyword(std::string_view s) {
  if (s == ")") return Tok::kClosePar;
  if (s == ",") return Tok::kComma;
  if (s == "!") return Tok::kNot;
  if (s == "==") return Tok::kDoubleEquals;
  if (s == "=") return Tok::kEquals;
  if (s == ">") return Tok::kGreater;
  if (s == "in") return Tok::kIn;
  if (s == "<") return Tok::kLess;
  if (s == "!=") return Tok::kNotEquals;
  if (s == "notin") return Tok::kNotIn;
  if (s == "(") return Tok::kOpenPar;
  return std::nullopt;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

// Kubernetes' lexer reads a NUL byte as it reads the end of input (it ends the current
// token, and ends the input where a token would start); this one does the same so that
// both accept and reject the same strings.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Item next() {
    char c = read();
    while (is_space(c)) c = read();
    if (c == 0) return {Tok::kEnd, ""};
    --pos_;
    return is_special(c) ? special() : word();
  }

 private:
  char read() {
    if (pos_ < s_.size()) return s_[pos_++];
    return 0;
  }

  Item word() {
    std::string buf;
    while (true) {
      char c = read();
      if (c == 0) break;
      if (is_special(c) || is_space(c)) {
        --pos_;
        break;
      }
      buf += c;
    }
    if (auto k = keyword(buf)) return {*k, buf};
    return {Tok::kIdentifier, buf};
  }

  // Longest operator: "!=" and "==" over "!" and "=".
  Item special() {
    std::string buf;
    std::optional<Item> last;
    while (true) {
      char c = read();
      if (c == 0) break;
      if (!is_special(c)) {
        --pos_;
        break;
      }
      buf += c;
      if (auto k = keyword(buf)) {
        last = Item{*k, buf};
      } else if (last) {
        --pos_;
        break;
      }
    }
    if (!last) return {Tok::kError, "error expected: keyword found '" + buf + "'"};
    return *last;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// ---- parser --------------------------------------------------------------------------

// Inside value lists and after keys, `in` and `notin` are plain identifiers.
enum class Ctx { kKeyAndOperator, kValues };

class Parser {
 public:
  explicit Parser(std::string_view text) {
    Lexer lex(text);
    while (true) {
      items_.push_back(lex.next());
      if (items_.back().tok == Tok::kEnd) break;
    }
  }

  Result<std::vector<Requirement>> parse() {
    std::vector<Requirement> reqs;
    while (true) {
      const Item& it = peek(Ctx::kValues);
      if (it.tok == Tok::kEnd) return reqs;
      if (it.tok != Tok::kIdentifier && it.tok != Tok::kNot)
        return Error("found '" + it.lit + "', expected: !, identifier, or 'end of string'");
      auto r = requirement();
      if (!r.ok()) return Error("unable to parse requirement: " + r.error().message());
      reqs.push_back(std::move(*r));
      Item after = take(Ctx::kValues);
      if (after.tok == Tok::kEnd) return reqs;
      if (after.tok != Tok::kComma)
        return Error("found '" + after.lit + "', expected: ',' or 'end of string'");
      const Item& next = peek(Ctx::kValues);
      if (next.tok != Tok::kIdentifier && next.tok != Tok::kNot)
        return Error("found '" + next.lit + "', expected: identifier after ','");
    }
  }

 private:
  Item peek(Ctx ctx) const { return as(items_[pos_], ctx); }
  Item take(Ctx ctx) { return as(items_[pos_++], ctx); }
  static Item as(Item it, Ctx ctx) {
    if (ctx == Ctx::kValues && (it.tok == Tok::kIn || it.tok == Tok::kNotIn)) it.tok = Tok::kIdentifier;
    return it;
  }

  Result<Requirement> requirement() {
    std::optional<LabelOp> op;
    Item key = take(Ctx::kValues);
    if (key.tok == Tok::kNot) {
      op = LabelOp::kDoesNotExist;
      key = take(Ctx::kValues);
    }
    if (key.tok != Tok::kIdentifier) return Error("found '" + key.lit + "', expected: identifier");
    if (auto errs = is_qualified_name(key.lit); !errs.empty()) {
      // Kubernetes validates the key against an unset path here, which prints as "<nil>".
      std::string joined;
      for (std::size_t i = 0; i < errs.size(); ++i) joined += (i ? "; " : "") + errs[i];
      return Error(field_invalid("<nil>", json::value(key.lit), joined).error());
    }
    Tok next = peek(Ctx::kValues).tok;
    if (!op && (next == Tok::kEnd || next == Tok::kComma)) op = LabelOp::kExists;
    if (op) return Requirement::make(std::move(key.lit), *op, {});

    Item opi = take(Ctx::kKeyAndOperator);
    switch (opi.tok) {
      case Tok::kIn: op = LabelOp::kIn; break;
      case Tok::kNotIn: op = LabelOp::kNotIn; break;
      case Tok::kEquals: op = LabelOp::kEquals; break;
      case Tok::kDoubleEquals: op = LabelOp::kDoubleEquals; break;
      case Tok::kNotEquals: op = LabelOp::kNotEquals; break;
      case Tok::kGreater: op = LabelOp::kGreaterThan; break;
      case Tok::kLess: op = LabelOp::kLessThan; break;
      default:
        return Error("found '" + opi.lit + "', expected: in, notin, =, ==, !=, gt, lt");
    }
    std::set<std::string> values;
    if (*op == LabelOp::kIn || *op == LabelOp::kNotIn) {
      KL_TRY(value_set(values));
    } else {
      KL_TRY(exact_value(values));
    }
    return Requirement::make(std::move(key.lit), *op, {values.begin(), values.end()});
  }

  // "(" values ")", where empty entries ("(a,,b)", "()") stand for the empty value.
  Result<void> value_set(std::set<std::string>& out) {
    Item open = take(Ctx::kValues);
    if (open.tok != Tok::kOpenPar) return Error("found '" + open.lit + "' expected: '('");
    Item first = peek(Ctx::kValues);
    if (first.tok == Tok::kClosePar) {
      take(Ctx::kValues);
      out.insert("");
      return Ok();
    }
    if (first.tok != Tok::kIdentifier && first.tok != Tok::kComma)
      return Error("found '" + first.lit + "', expected: ',', ')' or identifier");
    while (true) {
      Item it = take(Ctx::kValues);
      if (it.tok == Tok::kIdentifier) {
        out.insert(it.lit);
        Item next = peek(Ctx::kValues);
        if (next.tok == Tok::kComma) continue;
        if (next.tok == Tok::kClosePar) break;
        return Error("found '" + next.lit + "', expected: ',' or ')'");
      }
      if (it.tok != Tok::kComma) return Error("found '" + it.lit + "', expected: ',', or identifier");
      if (out.empty()) out.insert("");
      Tok next = peek(Ctx::kValues).tok;
      if (next == Tok::kClosePar) {
        out.insert("");
        break;
      }
      if (next == Tok::kComma) out.insert("");
    }
    take(Ctx::kValues);  // the ")" seen above
    return Ok();
  }

  Result<void> exact_value(std::set<std::string>& out) {
    Tok next = peek(Ctx::kValues).tok;
    if (next == Tok::kEnd || next == Tok::kComma) {
      out.insert("");
      return Ok();
    }
    Item it = take(Ctx::kValues);
    if (it.tok != Tok::kIdentifier) return Error("found '" + it.lit + "', expected: identifier");
    out.insert(it.lit);
    return Ok();
  }

  std::vector<Item> items_;
  std::size_t pos_ = 0;
};

void sort_by_key(std::vector<Requirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key() < b.key(); });
}

std::optional<std::string_view> lookup(const json::object* labels, std::string_view key) {
  if (labels == nullptr) return std::nullopt;
  const json::value* v = labels->if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

std::optional<std::string_view> lookup(const LabelSet& labels, std::string_view key) {
  auto it = labels.find(key);
  if (it == labels.end()) return std::nullopt;
  return std::string_view(it->second);
}

}  // namespace

std::string_view label_op_name(LabelOp op) {
  switch (op) {
    case LabelOp::kIn: return "in";
    case LabelOp::kNotIn: return "notin";
    case LabelOp::kExists: return "exists";
    case LabelOp::kDoesNotExist: return "!";
    case LabelOp::kEquals: return "=";
    case LabelOp::kDoubleEquals: return "==";
    case LabelOp::kNotEquals: return "!=";
    case LabelOp::kGreaterThan: return "gt";
    case LabelOp::kLessThan: return "lt";
  }
  return "";
}

Result<Requirement> Requirement::make(std::string key, LabelOp op, std::vector<std::string> values,
                                      std::string_view path) {
  FieldErrors errs;
  if (auto msgs = is_qualified_name(key); !msgs.empty()) {
    std::string joined;
    for (std::size_t i = 0; i < msgs.size(); ++i) joined += (i ? "; " : "") + msgs[i];
    errs.push_back(field_invalid(child(path, "key"), json::value(key), joined));
  }
  std::string values_path = child(path, "values");
  switch (op) {
    case LabelOp::kIn:
    case LabelOp::kNotIn:
      if (values.empty())
        errs.push_back(field_invalid(values_path, string_array(values),
                                     "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case LabelOp::kEquals:
    case LabelOp::kDoubleEquals:
    case LabelOp::kNotEquals:
      if (values.size() != 1)
        errs.push_back(field_invalid(values_path, string_array(values),
                                     "exact-match compatibility requires one single value"));
      break;
    case LabelOp::kExists:
    case LabelOp::kDoesNotExist:
      if (!values.empty())
        errs.push_back(field_invalid(values_path, string_array(values),
                                     "values set must be empty for exists and does not exist"));
      break;
    case LabelOp::kGreaterThan:
    case LabelOp::kLessThan:
      if (values.size() != 1)
        errs.push_back(field_invalid(values_path, string_array(values),
                                     "for 'Gt', 'Lt' operators, exactly one value is required"));
      for (std::size_t i = 0; i < values.size(); ++i)
        if (!parse_int64(values[i]))
          errs.push_back(field_invalid(index_path(values_path, i), json::value(values[i]),
                                       "for 'Gt', 'Lt' operators, the value must be an integer"));
      break;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (auto msgs = is_valid_label_value(values[i]); !msgs.empty()) {
      std::string joined;
      for (std::size_t m = 0; m < msgs.size(); ++m) joined += (m ? "; " : "") + msgs[m];
      errs.push_back(field_invalid(key_path(index_path(values_path, i), key),
                                   json::value(values[i]), joined));
    }
  }
  if (!errs.empty()) return Error(aggregate_message(errs));
  return Requirement(std::move(key), op, std::move(values));
}

bool Requirement::matches(std::optional<std::string_view> value) const {
  auto has = [&](std::string_view v) {
    return std::find(values_.begin(), values_.end(), v) != values_.end();
  };
  switch (op_) {
    case LabelOp::kIn:
    case LabelOp::kEquals:
    case LabelOp::kDoubleEquals:
      return value && has(*value);
    case LabelOp::kNotIn:
    case LabelOp::kNotEquals:
      return !value || !has(*value);
    case LabelOp::kExists:
      return value.has_value();
    case LabelOp::kDoesNotExist:
      return !value.has_value();
    case LabelOp::kGreaterThan:
    case LabelOp::kLessThan: {
      if (!value || values_.size() != 1) return false;
      auto have = parse_int64(*value);
      auto want = parse_int64(values_[0]);
      if (!have || !want) return false;
      return op_ == LabelOp::kGreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

std::string Requirement::to_string() const {
  std::string s;
  if (op_ == LabelOp::kDoesNotExist) s += '!';
  s += key_;
  switch (op_) {
    case LabelOp::kExists:
    case LabelOp::kDoesNotExist: return s;
    case LabelOp::kEquals: s += "="; break;
    case LabelOp::kDoubleEquals: s += "=="; break;
    case LabelOp::kNotEquals: s += "!="; break;
    case LabelOp::kIn: s += " in "; break;
    case LabelOp::kNotIn: s += " notin "; break;
    case LabelOp::kGreaterThan: s += ">"; break;
    case LabelOp::kLessThan: s += "<"; break;
  }
  bool set = op_ == LabelOp::kIn || op_ == LabelOp::kNotIn;
  if (set) s += '(';
  std::vector<std::string> sorted = values_;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) s += ',';
    s += sorted[i];
  }
  if (set) s += ')';
  return s;
}

Selector::Selector(std::vector<Requirement> reqs) : requirements_(std::move(reqs)) {
  sort_by_key(requirements_);
}

Selector Selector::nothing() {
  Selector s;
  s.nothing_ = true;
  return s;
}

Result<Selector> Selector::parse(std::string_view text) {
  Parser p(text);
  KL_ASSIGN_OR_RETURN(auto reqs, p.parse());
  return Selector(std::move(reqs));
}

Selector Selector::from_set(const LabelSet& set) {
  Selector s;
  for (const auto& [k, v] : set) s.requirements_.push_back(Requirement(k, LabelOp::kEquals, {v}));
  return s;
}

Result<Selector> Selector::from_set_validated(const LabelSet& set) {
  std::vector<Requirement> reqs;
  for (const auto& [k, v] : set) {
    KL_ASSIGN_OR_RETURN(auto r, Requirement::make(k, LabelOp::kEquals, {v}));
    reqs.push_back(std::move(r));
  }
  return Selector(std::move(reqs));
}

FieldErrors validate_label_selector(const json::value* label_selector, std::string_view field_path,
                                    bool allow_invalid_label_value) {
  FieldErrors errs;
  if (label_selector == nullptr || label_selector->is_null()) return errs;
  if (!label_selector->is_object()) {
    errs.push_back(field_type_invalid(std::string(field_path), *label_selector, "must be an object"));
    return errs;
  }
  const json::object& sel = label_selector->get_object();
  std::string labels_path = child(field_path, "matchLabels");
  if (const json::value* ml = sel.if_contains("matchLabels"); ml != nullptr && !ml->is_null()) {
    if (!ml->is_object()) {
      errs.push_back(field_type_invalid(labels_path, *ml, "must be an object"));
    } else {
      for (auto& e : validate_labels(&ml->get_object(), labels_path)) errs.push_back(std::move(e));
    }
  }
  std::string exprs_path = child(field_path, "matchExpressions");
  const json::value* me = sel.if_contains("matchExpressions");
  if (me == nullptr || me->is_null()) return errs;
  if (!me->is_array()) {
    errs.push_back(field_type_invalid(exprs_path, *me, "must be an array"));
    return errs;
  }
  const json::array& exprs = me->get_array();
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    std::string path = index_path(exprs_path, i);
    if (!exprs[i].is_object()) {
      errs.push_back(field_type_invalid(path, exprs[i], "must be an object"));
      continue;
    }
    const json::object& expr = exprs[i].get_object();
    std::string values_path = child(path, "values");
    std::vector<std::string_view> values;
    bool values_ok = true;
    if (const json::value* v = expr.if_contains("values"); v != nullptr && !v->is_null()) {
      if (!v->is_array()) {
        errs.push_back(field_type_invalid(values_path, *v, "must be an array"));
        values_ok = false;
      } else {
        const json::array& arr = v->get_array();
        for (std::size_t k = 0; k < arr.size(); ++k) {
          if (arr[k].is_string()) {
            values.emplace_back(arr[k].get_string());
          } else {
            errs.push_back(field_type_invalid(index_path(values_path, k), arr[k], "must be a string"));
            values_ok = false;
          }
        }
      }
    }
    const json::value* opv = expr.if_contains("operator");
    std::string_view op = (opv != nullptr && opv->is_string()) ? std::string_view(opv->get_string()) : "";
    if (op == "In" || op == "NotIn") {
      if (values.empty() && values_ok)
        errs.push_back(field_required(values_path, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty())
        errs.push_back(field_forbidden(values_path,
                                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push_back(field_invalid(child(path, "operator"), opv != nullptr ? *opv : json::value(""),
                                   "not a valid selector operator"));
    }
    const json::value* keyv = expr.if_contains("key");
    if (keyv != nullptr && !keyv->is_string() && !keyv->is_null()) {
      errs.push_back(field_type_invalid(child(path, "key"), *keyv, "must be a string"));
    } else {
      std::string_view key = keyv != nullptr && keyv->is_string() ? std::string_view(keyv->get_string()) : "";
      for (auto& e : validate_label_name(key, child(path, "key"))) errs.push_back(std::move(e));
    }
    if (!allow_invalid_label_value) {
      for (std::size_t k = 0; k < values.size(); ++k)
        for (auto& msg : is_valid_label_value(values[k]))
          errs.push_back(field_invalid(index_path(values_path, k), json::value(values[k]), std::move(msg)));
    }
  }
  return errs;
}

Result<Selector> Selector::from_json(const json::value* label_selector, NullMeans null_means,
                                     std::string_view field_path) {
  if (label_selector == nullptr || label_selector->is_null())
    return null_means == NullMeans::kNothing ? nothing() : everything();
  if (auto errs = validate_label_selector(label_selector, field_path); !errs.empty())
    return Error(aggregate_message(errs));
  const json::object& sel = label_selector->get_object();
  std::vector<Requirement> reqs;
  if (const json::object* ml = json::get_object(sel, "matchLabels")) {
    // Member order in the document does not matter: the result is sorted by key.
    for (const auto& kv : *ml) {
      KL_ASSIGN_OR_RETURN(auto r, Requirement::make(std::string(kv.key()), LabelOp::kEquals,
                                                    {std::string(kv.value().get_string())},
                                                    key_path(child(field_path, "matchLabels"), kv.key())));
      reqs.push_back(std::move(r));
    }
    sort_by_key(reqs);
  }
  if (const json::array* exprs = json::get_array(sel, "matchExpressions")) {
    for (std::size_t i = 0; i < exprs->size(); ++i) {
      const json::object& expr = (*exprs)[i].get_object();
      std::string_view op = json::get_string(expr, "operator");
      LabelOp lop = op == "In"       ? LabelOp::kIn
                    : op == "NotIn"  ? LabelOp::kNotIn
                    : op == "Exists" ? LabelOp::kExists
                                     : LabelOp::kDoesNotExist;
      std::vector<std::string> values;
      if (const json::array* vals = json::get_array(expr, "values"))
        for (const auto& v : *vals) values.emplace_back(v.get_string());
      KL_ASSIGN_OR_RETURN(auto r, Requirement::make(std::string(json::get_string(expr, "key")), lop,
                                                    std::move(values),
                                                    index_path(child(field_path, "matchExpressions"), i)));
      reqs.push_back(std::move(r));
    }
  }
  return Selector(std::move(reqs));
}

Result<json::object> Selector::to_json() const {
  if (nothing_) return Error("a selector that matches nothing has no LabelSelector form");
  json::object match_labels;
  json::array exprs;
  for (const auto& r : requirements_) {
    std::string_view op;
    switch (r.op()) {
      case LabelOp::kEquals:
      case LabelOp::kDoubleEquals:
        // A second, different value for a key already in matchLabels would overwrite the
        // first and widen the selector; keep it as an expression instead.
        if (const auto* have = match_labels.if_contains(r.key());
            have == nullptr || have->get_string() == r.values()[0]) {
          match_labels[r.key()] = r.values()[0];
          continue;
        }
        op = "In";
        break;
      case LabelOp::kIn: op = "In"; break;
      case LabelOp::kNotIn: op = "NotIn"; break;
      case LabelOp::kExists: op = "Exists"; break;
      case LabelOp::kDoesNotExist: op = "DoesNotExist"; break;
      case LabelOp::kGreaterThan:
      case LabelOp::kLessThan:
        return Error(go_quote(label_op_name(r.op())) + " isn't supported in label selectors");
      case LabelOp::kNotEquals:
        return Error(go_quote(label_op_name(r.op())) + " is not a valid label selector operator");
    }
    json::object e;
    e["key"] = r.key();
    e["operator"] = op;
    std::set<std::string> vals(r.values().begin(), r.values().end());
    if (!vals.empty()) e["values"] = string_array({vals.begin(), vals.end()});
    exprs.emplace_back(std::move(e));
  }
  json::object out;
  if (!match_labels.empty()) out["matchLabels"] = std::move(match_labels);
  if (!exprs.empty()) out["matchExpressions"] = std::move(exprs);
  return out;
}

bool Selector::matches(const json::object* labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_)
    if (!r.matches(lookup(labels, r.key()))) return false;
  return true;
}

bool Selector::matches(const LabelSet& labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_)
    if (!r.matches(lookup(labels, r.key()))) return false;
  return true;
}

std::string Selector::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i > 0) s += ',';
    s += requirements_[i].to_string();
  }
  return s;
}

Selector Selector::add(std::vector<Requirement> more) const {
  if (nothing_) return *this;
  Selector s = *this;
  for (auto& r : more) s.requirements_.push_back(std::move(r));
  sort_by_key(s.requirements_);
  return s;
}

std::optional<std::string_view> Selector::requires_exact_match(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key() != key) continue;
    bool exact = r.op() == LabelOp::kEquals || r.op() == LabelOp::kDoubleEquals || r.op() == LabelOp::kIn;
    if (exact && r.values().size() == 1) return std::string_view(r.values()[0]);
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace kernlet::api
