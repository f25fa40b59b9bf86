// Label selectors: the `-l` / `?labelSelector=` string syntax and the LabelSelector JSON
// object (`matchLabels` / `matchExpressions`), with Kubernetes' grammar, canonical form,
// matching rules and error texts (k8s.io/apimachinery pkg/labels and
// pkg/apis/meta/v1 LabelSelectorAsSelector / ParseToLabelSelector).
//
// A Selector is an AND of Requirements kept sorted by key (stable, so requirements on one
// key keep their order). Besides the ordinary selectors there is "nothing", which matches
// no object: what a null LabelSelector means in most API fields.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"
#include "api/validation.h"

namespace kernlet::api {

using LabelSet = std::map<std::string, std::string, std::less<>>;

// Operators of the string syntax (and of matchExpressions, which has the first four).
enum class LabelOp {
  kIn,            // key in (a,b)
  kNotIn,         // key notin (a,b)
  kExists,        // key
  kDoesNotExist,  // !key
  kEquals,        // key=a
  kDoubleEquals,  // key==a
  kNotEquals,     // key!=a
  kGreaterThan,   // key>5 (integers)
  kLessThan,      // key<5 (integers)
};

// Kubernetes' selection.Operator spelling: "in", "notin", "exists", "!", "=", "==", "!=",
// "gt", "lt" (the spelling its error messages use).
std::string_view label_op_name(LabelOp op);

class Requirement {
 public:
  // Builds and validates a requirement as labels.NewRequirement does: the key must be a
  // qualified name, In/NotIn need values, =/==/!= exactly one, Exists/DoesNotExist none,
  // Gt/Lt one integer, every value a valid label value. Errors carry field paths under
  // `path` ("key", "values[0][app]"; prefixed `path.` when path is non-empty).
  static Result<Requirement> make(std::string key, LabelOp op, std::vector<std::string> values,
                                  std::string_view path = {});

  const std::string& key() const { return key_; }
  LabelOp op() const { return op_; }
  // The values as given (the parser gives them sorted and deduplicated).
  const std::vector<std::string>& values() const { return values_; }

  // `value` is the label's value, or nullopt when the object lacks the label.
  bool matches(std::optional<std::string_view> value) const;
  // Canonical text: "x in (a,b)", "!x", "x!=a", "x>5"; values sorted.
  std::string to_string() const;

  bool operator==(const Requirement&) const = default;

 private:
  friend class Selector;  // from_set builds unvalidated requirements, as Kubernetes does
  Requirement(std::string key, LabelOp op, std::vector<std::string> values)
      : key_(std::move(key)), op_(op), values_(std::move(values)) {}

  std::string key_;
  LabelOp op_ = LabelOp::kExists;
  std::vector<std::string> values_;
};

class Selector {
 public:
  // What a null LabelSelector means where it is read: most fields (Deployment,
  // ReplicaSet, PDB, affinity terms) treat null as matching nothing; a few treat it as
  // matching everything.
  enum class NullMeans { kNothing, kEverything };

  // The empty selector: matches everything.
  Selector() = default;
  static Selector everything() { return Selector(); }
  // Matches no object; prints as "".
  static Selector nothing();

  // Parses the string syntax (labels.Parse). Errors read as Kubernetes' do:
  // `unable to parse requirement: found '(', expected: identifier` and
  // `found ',', expected: !, identifier, or 'end of string'`.
  static Result<Selector> parse(std::string_view text);
  // key=value for every entry, not validated (labels.SelectorFromSet).
  static Selector from_set(const LabelSet& set);
  // The same, validating keys and values (labels.ValidatedSelectorFromSet).
  static Result<Selector> from_set_validated(const LabelSet& set);
  // Converts a LabelSelector JSON value (nullptr or JSON null = absent). A present
  // selector with no matchLabels and no matchExpressions matches everything. The
  // selector is validated as the apiserver validates one; errors name the field under
  // `field_path`: `spec.selector.matchExpressions[1].operator: Invalid value: "Foo": not
  // a valid selector operator`.
  static Result<Selector> from_json(const json::value* label_selector, NullMeans null_means,
                                    std::string_view field_path = {});
  // The LabelSelector JSON for this selector (metav1.ParseToLabelSelector): equality
  // requirements become matchLabels, in/notin/exists/!exists matchExpressions; empty
  // members are omitted. != and gt/lt have no LabelSelector form and are errors, as is
  // the nothing selector.
  Result<json::object> to_json() const;

  // True when every requirement holds for `labels` (nullptr = the object has no
  // labels). Only string members count as labels.
  bool matches(const json::object* labels) const;
  bool matches(const LabelSet& labels) const;
  // True when the selector matches everything (no requirements, not nothing()).
  bool empty() const { return !nothing_ && requirements_.empty(); }
  bool matches_nothing() const { return nothing_; }
  // Canonical text: requirements sorted by key, joined with ","; "" for empty/nothing.
  std::string to_string() const;
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // A copy with more requirements (kept sorted by key). nothing() stays nothing().
  Selector add(std::vector<Requirement> more) const;
  // The value a selector pins `key` to (key=v, key==v or key in (v)), if any.
  std::optional<std::string_view> requires_exact_match(std::string_view key) const;

  bool operator==(const Selector&) const = default;

 private:
  explicit Selector(std::vector<Requirement> reqs);

  std::vector<Requirement> requirements_;
  bool nothing_ = false;
};

// Validates a LabelSelector JSON value as metav1validation.ValidateLabelSelector does
// (nullptr/null is valid). allow_invalid_label_value skips value checks, for objects
// persisted before those checks existed.
FieldErrors validate_label_selector(const json::value* label_selector, std::string_view field_path,
                                    bool allow_invalid_label_value = false);

}  // namespace kernlet::api
