#include "api/labels.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kernlet::api {
namespace {

const std::string kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const std::string kNamePartMsg =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

std::string parsed(std::string_view text) {
  auto s = Selector::parse(text);
  if (!s.ok()) return "ERROR: " + s.error().message();
  return s->to_string();
}

std::string parse_error(std::string_view text) {
  auto s = Selector::parse(text);
  if (s.ok()) return "parsed as: " + s->to_string();
  return s.error().message();
}

// Kubernetes' TestSelectorParse: good strings print back as themselves without spaces.
TEST(LabelSelectorParse, GoodStringsRoundTrip) {
  for (std::string in : {"x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x",
                         "x>1", "x>1,z<5", "x==a", "a in (b,c)"}) {
    std::string want = in;
    std::erase(want, ' ');
    if (in == "a in (b,c)") want = in;
    EXPECT_EQ(parsed(in), want) << in;
  }
}

// Kubernetes' TestSetSelectorParser: input -> canonical form.
TEST(LabelSelectorParse, CanonicalForm) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"\rx", "x"},
      {"this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"},
      {"this-is-another-dns.domain.com/key-with-dash in (so,what)",
       "this-is-another-dns.domain.com/key-with-dash in (so,what)"},
      {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
       "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"},
      {"foo  in\t (abc)", "foo in (abc)"},
      {"x notin\n (abc)", "x notin (abc)"},
      {"x  notin\t\t\t(abc,def)", "x notin (abc,def)"},
      {"x in (abc,def)", "x in (abc,def)"},
      {"x in (def,abc)", "x in (abc,def)"},
      {"x in (abc,)", "x in (,abc)"},
      {"x in (abc,abc)", "x in (abc)"},
      {"x in ()", "x in ()"},
      {"x in (a,,)", "x in (,a)"},
      {"x in (a,,,)", "x in (,a)"},
      {"x in (a,,,,,,)", "x in (,a)"},
      {"x in (a,,a,,a,,a,,)", "x in (,a)"},
      {"x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"},
      {"x,y in (a)", "x,y in (a)"},
      {"y in (a),x", "x,y in (a)"},
      {"x=a", "x=a"},
      {"x>1", "x>1"},
      {"x<7", "x<7"},
      {"x=a,y!=b", "x=a,y!=b"},
      {"x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"},
      {"x notin ( )", "x notin ()"},
      {"x notin (, a)", "x notin (,a)"},
      {"a ", "a"},
      {"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},
      {"notin=in", "notin=in"},
      {"in in (in)", "in in (in)"},
      {"x=a,a=x", "a=x,x=a"},
      {"z!=a,z", "z!=a,z"},
      {"z,z!=a", "z,z!=a"},
  };
  for (const auto& c : cases) EXPECT_EQ(parsed(c.in), c.want) << c.in;
}

TEST(LabelSelectorParse, ErrorsNameTheOffendingToken) {
  struct Case {
    std::string in, want;
  };
  const std::vector<Case> cases = {
      {"x=a||y=b",
       "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": " + kLabelValueMsg},
      {"x==a==b", "found '==', expected: ',' or 'end of string'"},
      {"!x=a", "found '=', expected: ',' or 'end of string'"},
      {"x<a",
       "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, "
       "the value must be an integer"},
      {"x>-1", "unable to parse requirement: values[0][x]: Invalid value: \"-1\": " + kLabelValueMsg},
      {"x,,y", "found ',', expected: identifier after ','"},
      {",x,y", "found ',', expected: !, identifier, or 'end of string'"},
      {"x nott in (y)",
       "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"},
      {"a in (xyz),", "found '', expected: identifier after ','"},
      {"a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"},
      {"a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"},
      {"a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"},
      {"a in (b", "unable to parse requirement: found '', expected: ',' or ')'"},
      {"a in (b,", "unable to parse requirement: found '', expected: ',', or identifier"},
      {"a in b", "unable to parse requirement: found 'b' expected: '('"},
      {"a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"},
      {"(", "found '(', expected: !, identifier, or 'end of string'"},
      {"!", "unable to parse requirement: found '', expected: identifier"},
      {"x=(", "unable to parse requirement: found '(', expected: identifier"},
      {"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"},
      {"A b/c/d",
       "unable to parse requirement: found 'b/c/d', expected: in, notin, =, ==, !=, gt, lt"},
      {"-x", "unable to parse requirement: <nil>: Invalid value: \"-x\": " + kNamePartMsg},
      {"x=" + std::string(64, 'v'),
       "unable to parse requirement: values[0][x]: Invalid value: \"" + std::string(64, 'v') +
           "\": must be no more than 63 bytes"},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_error(c.in), c.want) << c.in;
}

TEST(LabelSelectorParse, DeterministicOrder) {
  EXPECT_EQ(parsed("x=a,a=x"), parsed("a=x,x=a"));
}

struct MatchCase {
  std::string selector;
  LabelSet labels;
  bool want;
};

// Kubernetes' TestSelectorMatches and TestRequirementSelectorMatching.
TEST(LabelSelectorMatch, EveryOperator) {
  const LabelSet foo_baz = {{"foo", "bar"}, {"baz", "blah"}};
  const std::vector<MatchCase> cases = {
      {"", {{"x", "y"}}, true},
      {"x=y", {{"x", "y"}}, true},
      {"x==y", {{"x", "y"}}, true},
      {"x=y,z=w", {{"x", "y"}, {"z", "w"}}, true},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "a"}}, true},
      {"notin=in", {{"notin", "in"}}, true},
      {"x", {{"x", "z"}}, true},
      {"!x", {{"y", "z"}}, true},
      {"x>1", {{"x", "2"}}, true},
      {"x<1", {{"x", "0"}}, true},
      {"x<1", {{"x", "-5"}}, true},
      {"x=z", {}, false},
      {"x=y", {{"x", "z"}}, false},
      {"x=y,z=w", {{"x", "w"}, {"z", "w"}}, false},
      {"x!=y,z!=w", {{"x", "z"}, {"z", "w"}}, false},
      {"x", {{"y", "z"}}, false},
      {"!x", {{"x", "z"}}, false},
      {"x>1", {{"x", "0"}}, false},
      {"x>1", {{"x", "1"}}, false},
      {"x<1", {{"x", "2"}}, false},
      {"x>1", {{"x", "v2"}}, false},
      {"x>1", {}, false},
      {"x!=y", {}, true},
      {"foo=bar", foo_baz, true},
      {"baz=blah", foo_baz, true},
      {"foo=bar,baz=blah", foo_baz, true},
      {"foo=blah", foo_baz, false},
      {"baz=bar", foo_baz, false},
      {"foo=bar,foobar=bar,baz=blah", foo_baz, false},
      {"x in (foo),y notin (alpha)", {{"x", "foo"}, {"y", "baz"}}, true},
      {"x in (foo),y in (alpha)", {{"x", "foo"}, {"y", "baz"}}, false},
      {"x notin (),y", {{"y", ""}}, true},
      {"!x,y", {{"y", ""}}, true},
      {"x notin (),!y", {{"y", ""}}, false},
      {"x in ()", {{"y", "baz"}}, false},
      {"x in ()", {{"x", ""}}, true},
      {"x=", {{"x", ""}}, true},
      {"x=", {}, false},
      {"x notin (a,b)", {{"x", "b"}}, false},
      {"x notin (a,b)", {{"x", "c"}}, true},
  };
  for (const auto& c : cases) {
    auto s = Selector::parse(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector << ": " << s.error().message();
    EXPECT_EQ(s->matches(c.labels), c.want) << c.selector;
  }
}

TEST(LabelSelectorMatch, JsonLabels) {
  auto s = Selector::parse("app=web,!canary");
  ASSERT_TRUE(s.ok());
  auto labels = json::parse_object(R"({"app":"web","tier":"fe"})");
  ASSERT_TRUE(labels.ok());
  EXPECT_TRUE(s->matches(&*labels));
  EXPECT_FALSE(s->matches(nullptr));
  auto canary = json::parse_object(R"({"app":"web","canary":"true"})");
  EXPECT_FALSE(s->matches(&*canary));
  // A non-string member is not a label.
  auto odd = json::parse_object(R"({"app":"web","canary":1})");
  EXPECT_TRUE(s->matches(&*odd));
  auto exists = Selector::parse("!app");
  EXPECT_TRUE(exists->matches(nullptr));
}

TEST(LabelSelector, EverythingAndNothing) {
  Selector all;
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(all.matches(LabelSet{{"x", "y"}}));
  EXPECT_TRUE(all.matches(nullptr));
  EXPECT_EQ(all.to_string(), "");

  Selector none = Selector::nothing();
  EXPECT_FALSE(none.empty());
  EXPECT_TRUE(none.matches_nothing());
  EXPECT_FALSE(none.matches(LabelSet{}));
  EXPECT_FALSE(none.matches(nullptr));
  EXPECT_EQ(none.to_string(), "");
  EXPECT_NE(none, all);
}

TEST(LabelSelector, FromSet) {
  EXPECT_TRUE(Selector::from_set({}).empty());
  Selector s = Selector::from_set({{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(s.to_string(), "a=1,b=2");
  EXPECT_TRUE(s.matches(LabelSet{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  EXPECT_FALSE(s.matches(LabelSet{{"a", "1"}}));

  auto bad = Selector::from_set_validated(
      {{"Key", "axahm2EJ8Phiephe2eixohbee9eGeiyees1thuozi1xoh0GiuH3diewi8iem7Nui"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "values[0][Key]: Invalid value: "
            "\"axahm2EJ8Phiephe2eixohbee9eGeiyees1thuozi1xoh0GiuH3diewi8iem7Nui\": must be no more "
            "than 63 bytes");
  auto good = Selector::from_set_validated({{"key", "val"}});
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->to_string(), "key=val");
}

// Kubernetes' TestRequirementConstructor.
TEST(LabelRequirement, ConstructorValidation) {
  struct Case {
    std::string key;
    LabelOp op;
    std::vector<std::string> values;
    std::string want_error;  // "" = valid
  };
  const std::vector<Case> cases = {
      {"x1", LabelOp::kIn, {}, "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"},
      {"x2", LabelOp::kNotIn, {}, "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"},
      {"x3", LabelOp::kIn, {"foo"}, ""},
      {"x4", LabelOp::kNotIn, {"foo"}, ""},
      {"x5", LabelOp::kEquals, {"bar", "foo"},
       "values: Invalid value: [\"bar\",\"foo\"]: exact-match compatibility requires one single value"},
      {"x6", LabelOp::kExists, {}, ""},
      {"x7", LabelOp::kDoesNotExist, {}, ""},
      {"x8", LabelOp::kExists, {"foo"},
       "values: Invalid value: [\"foo\"]: values set must be empty for exists and does not exist"},
      {"x11", LabelOp::kGreaterThan, {"1"}, ""},
      {"x12", LabelOp::kLessThan, {"6"}, ""},
      {"x13", LabelOp::kGreaterThan, {},
       "values: Invalid value: []: for 'Gt', 'Lt' operators, exactly one value is required"},
      {"x14", LabelOp::kGreaterThan, {"bar"},
       "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer"},
      {"x15", LabelOp::kLessThan, {"bar"},
       "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer"},
      {"x15b", LabelOp::kLessThan, {"99999999999999999999"},
       "values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value "
       "must be an integer"},
      {std::string(254, 'a'), LabelOp::kExists, {},
       "key: Invalid value: \"" + std::string(254, 'a') + "\": name part must be no more than 63 bytes"},
      {"x16", LabelOp::kEquals, {std::string(254, 'a')},
       "values[0][x16]: Invalid value: \"" + std::string(254, 'a') + "\": must be no more than 63 bytes"},
      {"x17", LabelOp::kEquals, {"a b"}, "values[0][x17]: Invalid value: \"a b\": " + kLabelValueMsg},
      {"x18", LabelOp::kIn, {"a", "-b"},
       "values[1][x18]: Invalid value: \"-b\": " + kLabelValueMsg},
  };
  for (const auto& c : cases) {
    auto r = Requirement::make(c.key, c.op, c.values);
    if (c.want_error.empty()) {
      EXPECT_TRUE(r.ok()) << c.key << ": " << r.error().message();
    } else {
      ASSERT_FALSE(r.ok()) << c.key;
      EXPECT_EQ(r.error().message(), c.want_error) << c.key;
    }
  }
  auto two = Requirement::make("-k", LabelOp::kIn, {});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message(),
            "[key: Invalid value: \"-k\": " + kNamePartMsg +
                ", values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty]");
}

// Kubernetes' TestToString: requirement text.
TEST(LabelRequirement, ToString) {
  auto req = [](std::string k, LabelOp op, std::vector<std::string> v) {
    auto r = Requirement::make(std::move(k), op, std::move(v));
    EXPECT_TRUE(r.ok());
    return *r;
  };
  Selector s1 = Selector().add({req("x", LabelOp::kIn, {"def", "abc"}), req("y", LabelOp::kNotIn, {"jkl"}),
                                req("z", LabelOp::kExists, {})});
  EXPECT_EQ(s1.to_string(), "x in (abc,def),y notin (jkl),z");
  Selector s2 = Selector().add({req("z", LabelOp::kDoesNotExist, {}), req("x", LabelOp::kNotIn, {"abc", "def"}),
                                req("y", LabelOp::kNotEquals, {"jkl"})});
  EXPECT_EQ(s2.to_string(), "x notin (abc,def),y!=jkl,!z");
  Selector s3 = Selector().add({req("x", LabelOp::kEquals, {"abc"}), req("y", LabelOp::kDoubleEquals, {"jkl"}),
                                req("z", LabelOp::kNotEquals, {"a"}), req("z", LabelOp::kExists, {})});
  EXPECT_EQ(s3.to_string(), "x=abc,y==jkl,z!=a,z");
  Selector s4 = Selector().add({req("x", LabelOp::kGreaterThan, {"2"}), req("y", LabelOp::kLessThan, {"8"}),
                                req("z", LabelOp::kNotIn, {""})});
  EXPECT_EQ(s4.to_string(), "x>2,y<8,z notin ()");
  EXPECT_TRUE(Selector::nothing().add({req("a", LabelOp::kExists, {})}).matches_nothing());
}

TEST(LabelSelector, RequiresExactMatch) {
  EXPECT_EQ(Selector::parse("key in (value)")->requires_exact_match("key"), "value");
  EXPECT_EQ(Selector::parse("key in (value,value2)")->requires_exact_match("key"), std::nullopt);
  EXPECT_EQ(Selector::parse("key in (value,value1),key2 in (value2)")->requires_exact_match("key2"), "value2");
  EXPECT_EQ(Selector::parse("key=value")->requires_exact_match("key"), "value");
  EXPECT_EQ(Selector::parse("key==value")->requires_exact_match("key"), "value");
  EXPECT_EQ(Selector::parse("key!=value")->requires_exact_match("key"), std::nullopt);
  EXPECT_EQ(Selector::parse("other=value")->requires_exact_match("key"), std::nullopt);
}

json::value doc(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::value();
}

TEST(LabelSelectorJson, NullVersusEmpty) {
  auto null_nothing = Selector::from_json(nullptr, Selector::NullMeans::kNothing);
  ASSERT_TRUE(null_nothing.ok());
  EXPECT_TRUE(null_nothing->matches_nothing());
  EXPECT_FALSE(null_nothing->matches(LabelSet{{"a", "b"}}));

  json::value jnull = nullptr;
  auto null_all = Selector::from_json(&jnull, Selector::NullMeans::kEverything);
  ASSERT_TRUE(null_all.ok());
  EXPECT_TRUE(null_all->empty());

  json::value empty = doc("{}");
  auto all = Selector::from_json(&empty, Selector::NullMeans::kNothing);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(all->matches(LabelSet{{"a", "b"}}));
  EXPECT_TRUE(all->matches(nullptr));

  json::value empty_members = doc(R"({"matchLabels":{},"matchExpressions":[]})");
  EXPECT_TRUE(Selector::from_json(&empty_members, Selector::NullMeans::kNothing)->empty());
}

TEST(LabelSelectorJson, MatchLabelsAndExpressions) {
  json::value sel = doc(R"({
    "matchLabels": {"tier": "fe", "app": "web"},
    "matchExpressions": [
      {"key": "env", "operator": "In", "values": ["prod", "dev"]},
      {"key": "canary", "operator": "DoesNotExist"},
      {"key": "zone", "operator": "Exists"},
      {"key": "team", "operator": "NotIn", "values": ["ops"]}
    ]})");
  auto s = Selector::from_json(&sel, Selector::NullMeans::kNothing, "spec.selector");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->to_string(), "app=web,!canary,env in (dev,prod),team notin (ops),tier=fe,zone");
  EXPECT_TRUE(s->matches(LabelSet{{"app", "web"}, {"tier", "fe"}, {"env", "dev"}, {"zone", "a"}}));
  EXPECT_FALSE(s->matches(LabelSet{{"app", "web"}, {"tier", "fe"}, {"env", "qa"}, {"zone", "a"}}));
  EXPECT_FALSE(s->matches(
      LabelSet{{"app", "web"}, {"tier", "fe"}, {"env", "dev"}, {"zone", "a"}, {"canary", "1"}}));
  EXPECT_FALSE(s->matches(
      LabelSet{{"app", "web"}, {"tier", "fe"}, {"env", "dev"}, {"zone", "a"}, {"team", "ops"}}));
}

TEST(LabelSelectorJson, ErrorsNameTheField) {
  struct Case {
    std::string json, want;
  };
  const std::vector<Case> cases = {
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":["x"]},{"key":"b","operator":"Foo"}]})",
       "spec.selector.matchExpressions[1].operator: Invalid value: \"Foo\": not a valid selector operator"},
      {R"({"matchExpressions":[{"key":"a","operator":"In"}]})",
       "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` "
       "is 'In' or 'NotIn'"},
      {R"({"matchExpressions":[{"key":"a","operator":"NotIn","values":[]}]})",
       "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` "
       "is 'In' or 'NotIn'"},
      {R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})",
       "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` "
       "is 'Exists' or 'DoesNotExist'"},
      {R"({"matchExpressions":[{"key":"-a","operator":"Exists"}]})",
       "spec.selector.matchExpressions[0].key: Invalid value: \"-a\": " + kNamePartMsg},
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":["-x"]}]})",
       "spec.selector.matchExpressions[0].values[0]: Invalid value: \"-x\": " + kLabelValueMsg},
      {R"({"matchLabels":{"a b":"x"}})",
       "spec.selector.matchLabels: Invalid value: \"a b\": " + kNamePartMsg},
      {R"({"matchLabels":{"a":"x y"}})",
       "spec.selector.matchLabels: Invalid value: \"x y\": " + kLabelValueMsg},
      {R"({"matchLabels":{"a":"-"},"matchExpressions":[{"key":"b","operator":"Gt","values":["1"]}]})",
       "[spec.selector.matchLabels: Invalid value: \"-\": " + kLabelValueMsg +
           ", spec.selector.matchExpressions[0].operator: Invalid value: \"Gt\": not a valid "
           "selector operator]"},
  };
  for (const auto& c : cases) {
    json::value v = doc(c.json);
    auto s = Selector::from_json(&v, Selector::NullMeans::kNothing, "spec.selector");
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.error().message(), c.want) << c.json;
  }
  json::value not_object = doc("[1]");
  EXPECT_FALSE(Selector::from_json(&not_object, Selector::NullMeans::kNothing).ok());
}

TEST(LabelSelectorJson, ValidateReturnsCauses) {
  json::value sel = doc(R"({"matchExpressions":[{"key":"a","operator":"Foo"}]})");
  FieldErrors errs = validate_label_selector(&sel, "spec.selector");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].type, "FieldValueInvalid");
  EXPECT_EQ(errs[0].field, "spec.selector.matchExpressions[0].operator");
  EXPECT_EQ(errs[0].body(), "Invalid value: \"Foo\": not a valid selector operator");

  json::value bad_value = doc(R"({"matchExpressions":[{"key":"a","operator":"In","values":["-x"]}]})");
  EXPECT_EQ(validate_label_selector(&bad_value, "s").size(), 1u);
  EXPECT_TRUE(validate_label_selector(&bad_value, "s", /*allow_invalid_label_value=*/true).empty());
}

TEST(LabelSelectorJson, ToJson) {
  auto s = Selector::parse("app=web,tier in (b,a),!canary,env notin (prod),zone");
  ASSERT_TRUE(s.ok());
  auto j = s->to_json();
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ(json::value(*j), doc(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "canary", "operator": "DoesNotExist"},
      {"key": "env", "operator": "NotIn", "values": ["prod"]},
      {"key": "tier", "operator": "In", "values": ["a", "b"]},
      {"key": "zone", "operator": "Exists"}
    ]})"));

  // Both ways: the JSON form selects exactly what the string did.
  json::value back = *j;
  auto again = Selector::from_json(&back, Selector::NullMeans::kNothing);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->to_string(), s->to_string());

  EXPECT_EQ(json::value(*Selector().to_json()), doc("{}"));
  EXPECT_EQ(Selector::parse("x!=a")->to_json().error().message(),
            "\"!=\" is not a valid label selector operator");
  EXPECT_EQ(Selector::parse("x>1")->to_json().error().message(), "\"gt\" isn't supported in label selectors");
  EXPECT_EQ(Selector::parse("x<1")->to_json().error().message(), "\"lt\" isn't supported in label selectors");
  EXPECT_FALSE(Selector::nothing().to_json().ok());
}

TEST(LabelSelectorJson, ConflictingEqualitiesStayConflicting) {
  auto s = Selector::parse("a=b,a=c");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->matches(LabelSet{{"a", "c"}}));
  json::value j = *s->to_json();
  auto back = Selector::from_json(&j, Selector::NullMeans::kNothing);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->matches(LabelSet{{"a", "c"}}));
  EXPECT_FALSE(back->matches(LabelSet{{"a", "b"}}));
}

}  // namespace
}  // namespace kernlet::api
