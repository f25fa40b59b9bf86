// Quantity against Kubernetes' behaviour: the cases come from apimachinery's
// pkg/api/resource/quantity_test.go (values re-derived, not copied) plus edge cases of our own.
#include "api/quantity.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kernlet {
namespace {

using Format = Quantity::Format;
constexpr auto kDec = Format::DecimalSI;
constexpr auto kBin = Format::BinarySI;
constexpr auto kExp = Format::DecimalExponent;
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();

Quantity q(std::string_view text) {
  auto r = Quantity::parse(text);
  if (!r.ok()) ADD_FAILURE() << "parse " << text << ": " << r.error().message();
  return r.value_or(Quantity());
}

Quantity scaled(int64_t v, int32_t scale, Format f = kDec) { return Quantity::from_scaled(v, scale, f); }

const char* name(Format f) {
  switch (f) {
    case Format::DecimalSI: return "DecimalSI";
    case Format::BinarySI: return "BinarySI";
    case Format::DecimalExponent: return "DecimalExponent";
  }
  return "?";
}

// ---- Parsing -----------------------------------------------------------------------------

struct ParseCase {
  const char* input;
  Quantity value;  // the exact value Kubernetes holds after parsing
  Format format;
  const char* canonical;
};

const std::vector<ParseCase>& parse_cases() {
  static const std::vector<ParseCase> cases = {
      {"0", scaled(0, 0), kDec, "0"},
      {"0n", scaled(0, 0), kDec, "0"},
      {"0u", scaled(0, 0), kDec, "0"},
      {"0m", scaled(0, 0), kDec, "0"},
      {"0Ki", scaled(0, 0), kBin, "0"},
      {"0k", scaled(0, 0), kDec, "0"},
      {"0Mi", scaled(0, 0), kBin, "0"},
      {"0M", scaled(0, 0), kDec, "0"},
      {"0Gi", scaled(0, 0), kBin, "0"},
      {"0G", scaled(0, 0), kDec, "0"},
      {"0Ti", scaled(0, 0), kBin, "0"},
      {"0T", scaled(0, 0), kDec, "0"},
      {"0e5", scaled(0, 0), kExp, "0"},
      {"1", scaled(1, 0), kDec, "1"},
      // Binary suffixes.
      {"1Ki", scaled(1024, 0), kBin, "1Ki"},
      {"8Ki", scaled(8 * 1024, 0), kBin, "8Ki"},
      {"7Mi", scaled(7 * 1024 * 1024, 0), kBin, "7Mi"},
      {"6Gi", scaled(6LL << 30, 0), kBin, "6Gi"},
      {"5Ti", scaled(5LL << 40, 0), kBin, "5Ti"},
      {"4Pi", scaled(4LL << 50, 0), kBin, "4Pi"},
      {"3Ei", scaled(3LL << 60, 0), kBin, "3Ei"},
      {"10Ti", scaled(10LL << 40, 0), kBin, "10Ti"},
      {"100Ti", scaled(100LL << 40, 0), kBin, "100Ti"},
      {"1024Mi", scaled(1LL << 30, 0), kBin, "1Gi"},
      {"1536Mi", scaled(1536LL << 20, 0), kBin, "1536Mi"},
      // Decimal suffixes.
      {"5n", scaled(5, -9), kDec, "5n"},
      {"4u", scaled(4, -6), kDec, "4u"},
      {"3m", scaled(3, -3), kDec, "3m"},
      {"9", scaled(9, 0), kDec, "9"},
      {"8k", scaled(8, 3), kDec, "8k"},
      {"50k", scaled(5, 4), kDec, "50k"},
      {"7M", scaled(7, 6), kDec, "7M"},
      {"6G", scaled(6, 9), kDec, "6G"},
      {"5T", scaled(5, 12), kDec, "5T"},
      {"40T", scaled(4, 13), kDec, "40T"},
      {"300T", scaled(3, 14), kDec, "300T"},
      {"2P", scaled(2, 15), kDec, "2P"},
      {"1E", scaled(1, 18), kDec, "1E"},
      {"1000M", scaled(1, 9), kDec, "1G"},
      {"12E", scaled(12, 18), kDec, "12E"},
      {"1000E", scaled(1, 21), kDec, "1e21"},  // no SI suffix past E
      // Decimal exponents.
      {"1E-3", scaled(1, -3), kExp, "1e-3"},
      {"1e3", scaled(1, 3), kExp, "1e3"},
      {"1E6", scaled(1, 6), kExp, "1e6"},
      {"1e9", scaled(1, 9), kExp, "1e9"},
      {"1E12", scaled(1, 12), kExp, "1e12"},
      {"1e15", scaled(1, 15), kExp, "1e15"},
      {"1E18", scaled(1, 18), kExp, "1e18"},
      {"1e14", scaled(1, 14), kExp, "100e12"},
      {"1e13", scaled(1, 13), kExp, "10e12"},
      {"1e+3", scaled(1, 3), kExp, "1e3"},
      {"1e003", scaled(1, 3), kExp, "1e3"},
      {"1e0", scaled(1, 0), kExp, "1"},
      {"100.035k", scaled(100035, 0), kDec, "100035"},
      // Things that look like floating point.
      {"0.001", scaled(1, -3), kDec, "1m"},
      {"0.0005k", scaled(5, -1), kDec, "500m"},
      {"0.005", scaled(5, -3), kDec, "5m"},
      {"0.05", scaled(5, -2), kDec, "50m"},
      {"0.5", scaled(5, -1), kDec, "500m"},
      {"0.00050k", scaled(5, -1), kDec, "500m"},
      {"0.00500", scaled(5, -3), kDec, "5m"},
      {"0.05000", scaled(5, -2), kDec, "50m"},
      {"0.50000", scaled(5, -1), kDec, "500m"},
      {"0.5e0", scaled(5, -1), kExp, "500e-3"},
      {"0.5e-1", scaled(5, -2), kExp, "50e-3"},
      {"0.5e-2", scaled(5, -3), kExp, "5e-3"},
      {"10.035M", scaled(10035, 3), kDec, "10035k"},
      {"1.2e3", scaled(12, 2), kExp, "1200"},
      {"1.3E+6", scaled(13, 5), kExp, "1300e3"},
      {"1.40e9", scaled(14, 8), kExp, "1400e6"},
      {"1.53E12", scaled(153, 10), kExp, "1530e9"},
      {"1.6e15", scaled(16, 14), kExp, "1600e12"},
      {"1.7E18", scaled(17, 17), kExp, "1700e15"},
      {"9.01", scaled(901, -2), kDec, "9010m"},
      {"8.1k", scaled(81, 2), kDec, "8100"},
      {"7.123456M", scaled(7123456, 0), kDec, "7123456"},
      {"6.987654321G", scaled(6987654321, 0), kDec, "6987654321"},
      {"5.444T", scaled(5444, 9), kDec, "5444G"},
      {"40.1T", scaled(401, 11), kDec, "40100G"},
      {"300.2T", scaled(3002, 11), kDec, "300200G"},
      {"2.5P", scaled(25, 14), kDec, "2500T"},
      {"1.01E", scaled(101, 16), kDec, "1010P"},
      {"1.5", scaled(15, -1), kDec, "1500m"},
      {"1.2345", scaled(12345, -4), kDec, "1234500u"},
      // Finer than 1n rounds away from zero; BinarySI caps at 2^63-1.
      {"3.001n", scaled(4, -9), kDec, "4n"},
      {"1.1E-9", scaled(2, -9), kExp, "2e-9"},
      {"0.0000000001", scaled(1, -9), kDec, "1n"},
      {"0.0000000005", scaled(1, -9), kDec, "1n"},
      {"0.00000000050", scaled(1, -9), kDec, "1n"},
      {"0.5e-9", scaled(1, -9), kExp, "1e-9"},
      {"0.9n", scaled(1, -9), kDec, "1n"},
      {"0.00000012345", scaled(124, -9), kDec, "124n"},
      {"0.00000012354", scaled(124, -9), kDec, "124n"},
      {"0.0000000099", scaled(1, -8), kDec, "10n"},
      {"9Ei", scaled(kMaxI64, 0), kBin, "9223372036854775807"},
      {"9223372036854775807Ki", scaled(kMaxI64, 0), kBin, "9223372036854775807"},
      {"7.99999999999999999999Ei", scaled(kMaxI64, 0), kBin, "9223372036854775807"},
      {"7Ei", scaled(7LL << 60, 0), kBin, "7Ei"},
      // Fractional binary values.
      {"100.035Ki", scaled(10243584, -2), kBin, "102435840m"},
      {"0.5Mi", scaled(512 * 1024, 0), kBin, "512Ki"},
      {"1.5Gi", scaled(1536LL << 20, 0), kBin, "1536Mi"},
      {"0.5Gi", scaled(512LL << 20, 0), kBin, "512Mi"},
      {"0.5Ki", scaled(512, 0), kBin, "512"},  // whole but below 1Ki: decimal digits
      {"0.1Ki", scaled(1024, -1), kBin, "102400m"},
      {"1.1Ki", scaled(11264, -1), kBin, "1126400m"},
      {"0.05Gi", scaled(536870912, -1), kBin, "53687091200m"},
      {"0.025Ti", scaled(274877906944, -1), kBin, "27487790694400m"},
      {".001Ki", scaled(1024, -3), kBin, "1024m"},
      {".000001Ki", scaled(1024, -6), kDec, "1024u"},  // below one: becomes DecimalSI
      {".000000001Ki", scaled(1024, -9), kDec, "1024n"},
      {"0.000000000001Ki", scaled(2, -9), kDec, "2n"},
      {"0.000000000000000000001Ei", scaled(1152922, -9), kDec, "1152922n"},
      {"1.00000000000000000000000000000000000000001Ki", scaled(1024000000001, -9), kBin,
       "1024000000001n"},
      // Odd spellings Kubernetes accepts.
      {".001", scaled(1, -3), kDec, "1m"},
      {".0001k", scaled(1, -1), kDec, "100m"},
      {"1.", scaled(1, 0), kDec, "1"},
      {"1.G", scaled(1, 9), kDec, "1G"},
      {"007", scaled(7, 0), kDec, "7"},
      // Past int64 (apimachinery TestParseQuantity).
      {"999999999999999999.1", Quantity(), kDec, "999999999999999999100m"},
      {"9999999999999999999", Quantity(), kDec, "9999999999999999999"},
      {"1000000000000000000", scaled(1, 18), kDec, "1E"},
      {"9999999999999999999000m", Quantity(), kDec, "9999999999999999999"},
      {"10000000000000000000000m", scaled(1, 19), kDec, "10E"},
      {"1.0000000000000000001E", Quantity(), kDec, "1000000000000000000100m"},
      {"10.000000000000000001E", Quantity(), kDec, "10000000000000000001"},
      {"9223372036854775808.1", Quantity(), kDec, "9223372036854775808100m"},
      {"1e999999999", Quantity(), kExp, "1e999999999"},
      {"1e-999999999", scaled(1, -9), kExp, "1e-9"},
  };
  return cases;
}

TEST(QuantityParse, KubernetesTable) {
  for (const auto& c : parse_cases()) {
    SCOPED_TRACE(c.input);
    auto r = Quantity::parse(c.input);
    ASSERT_TRUE(r.ok()) << r.error().message();
    // A default Quantity() in the table means "value checked through the canonical string".
    if (!c.value.is_zero() || std::string_view(c.canonical) == "0") {
      EXPECT_EQ(*r, c.value);
    }
    EXPECT_EQ(r->to_string(), c.canonical);
    EXPECT_EQ(name(r->format()), std::string(name(c.format)));
  }
}

TEST(QuantityParse, SignsApplyToEveryCase) {
  for (const auto& c : parse_cases()) {
    SCOPED_TRACE(c.input);
    auto minus = Quantity::parse(std::string("-") + c.input);
    auto plus = Quantity::parse(std::string("+") + c.input);
    auto bare = Quantity::parse(c.input);
    ASSERT_TRUE(minus.ok() && plus.ok() && bare.ok());
    EXPECT_EQ(*plus, *bare);
    EXPECT_EQ(plus->to_string(), c.canonical);
    EXPECT_EQ(*minus, bare->neg());
    EXPECT_EQ(minus->format(), c.format);
    const std::string want = bare->is_zero() ? "0" : std::string("-") + c.canonical;
    EXPECT_EQ(minus->to_string(), want);
  }
}

TEST(QuantityParse, CanonicalFormIsAFixedPoint) {
  for (const auto& c : parse_cases()) {
    SCOPED_TRACE(c.input);
    Quantity first = q(c.input);
    Quantity again = q(first.to_string());
    EXPECT_EQ(again, first);
    EXPECT_EQ(again.to_string(), first.to_string());
  }
}

struct BadCase {
  const char* input;
  const char* message;
};

TEST(QuantityParse, InvalidInputsNameTheInputAndTheProblem) {
  const std::string hint =
      " (want n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3)";
  const std::vector<BadCase> cases = {
      {"", "quantity \"\": empty string"},
      {" 1", "quantity \" 1\": whitespace is not allowed"},
      {"1 ", "quantity \"1 \": whitespace is not allowed"},
      {"1\n", "quantity \"1\\x0a\": whitespace is not allowed"},
      {"1.1.M", "quantity \"1.1.M\": malformed number"},
      {"1+1.0M", "quantity \"1+1.0M\": malformed number"},
      {"--1", "quantity \"--1\": malformed number"},
      {"1,5", ""},
      {"0.1mi", ""},
      {"0.1am", ""},
      {"aoeu", "quantity \"aoeu\": no digits before the suffix"},
      {".5i", ""},
      {"1i", "quantity \"1i\": unknown suffix \"i\""},
      {"-3.01i", ""},
      {"-3.01e-", "quantity \"-3.01e-\": malformed exponent"},
      {"1e+", "quantity \"1e+\": malformed exponent"},
      {"1e3Ki", "quantity \"1e3Ki\": malformed exponent"},
      {"12Q", ""},
      {"1KB", ""},
      {"1Kib", ""},
      {"1K", ""},
      {"1e", ""},
      {"1ee3", ""},
      {"0x10", ""},
      {"1e99999999999", "quantity \"1e99999999999\": exponent out of range"},
      {"1e2147483648", "quantity \"1e2147483648\": exponent out of range"},
      {"10e2147483647", ""},
      {"123456789012345678901234567890123456789", ""},
      // Kubernetes' scanner lets some digit-less numbers through as zero ("Ki", ".", "-")
      // while rejecting others ("Ei", ".e-10"); we reject them all.
      {"Ki", "quantity \"Ki\": no digits before the suffix"},
      {".", "quantity \".\": no digits before the suffix"},
      {"-", "quantity \"-\": no digits before the suffix"},
      {"+.", ""},
      {"Ei", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto r = Quantity::parse(c.input);
    ASSERT_FALSE(r.ok()) << r->to_string();
    const std::string& msg = r.error().message();
    EXPECT_EQ(msg.rfind("quantity \"", 0), 0u) << msg;
    if (*c.message != '\0') {
      std::string want = c.message;
      if (want.find("unknown suffix") != std::string::npos) want += hint;
      EXPECT_EQ(msg, want);
    }
  }
}

TEST(QuantityParse, UnknownSuffixMessageListsTheValidOnes) {
  auto r = Quantity::parse("12Q");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "quantity \"12Q\": unknown suffix \"Q\" (want n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, "
            "Ti, Pi, Ei or an exponent like e3)");
}

TEST(QuantityParse, OutOfRangeIsAnErrorNotARounding) {
  for (const char* in : {"123456789012345678901234567890123456789", "10e2147483647",
                         "1234567890123456789012345678901.0000000001"}) {
    auto r = Quantity::parse(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_NE(r.error().message().find("out of range"), std::string::npos) << r.error().message();
  }
  // 38 significant digits still fit exactly.
  EXPECT_EQ(q("12345678901234567890123456789012345678").to_string(),
            "12345678901234567890123456789012345678");
  EXPECT_EQ(q("1e2147483647").to_string(), "10e2147483646");
}

TEST(QuantityParse, HugeInputsAreLinearAndNeverLoopOnTheExponent) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q("0." + std::string(100000, '0') + "1").to_string(), "1n");
  EXPECT_EQ(q("1." + std::string(100000, '0') + "Ki").to_string(), "1Ki");
  EXPECT_EQ(q("1." + std::string(100000, '0') + "1Ei").to_string(), "1152921504606846976000000001n");
  EXPECT_EQ(q("1" + std::string(100000, '0') + "e-99999").to_string(), "10");
  EXPECT_FALSE(Quantity::parse("1" + std::string(100000, '0') + "1").ok());
  EXPECT_EQ(q("1e-2147483647").to_string(), "1e-9");
  EXPECT_EQ(q("1e2147483647") <=> q("1e-2147483647"), std::strong_ordering::greater);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(QuantityParse, LongBinaryFractionsAreExact) {
  // Expected values computed with exact rational arithmetic: ceil(x * 2^e * 1e9) nanos.
  EXPECT_EQ(q("0.333333333333333333333333Ei").to_string(), "384307168202282325333332950n");
  EXPECT_EQ(q("123.456789123456789Pi").to_string(), "138999987373189474608525488n");
  EXPECT_EQ(q("-123.456789123456789Pi").to_string(), "-138999987373189474608525488n");
}

// ---- Canonical form of constructed values --------------------------------------------

TEST(QuantityString, CanonicalForms) {
  struct Case {
    Quantity in;
    const char* canonical;
    const char* alternate;  // another spelling that must print the same, or ""
  };
  const std::vector<Case> cases = {
      {scaled(1LL << 30, 0, kBin), "1Gi", "1024Mi"},
      {scaled(300LL << 20, 0, kBin), "300Mi", "307200Ki"},
      {scaled(6 * 1024, 0, kBin), "6Ki", ""},
      {scaled(1001LL << 30, 0, kBin), "1001Gi", "1025024Mi"},
      {scaled(1LL << 40, 0, kBin), "1Ti", "1024Gi"},
      {scaled(5, 0, kBin), "5", ""},
      {scaled(500, -3, kBin), "500m", "0.5"},
      {scaled(2000, 0, kBin), "2000", ""},
      {scaled(1023, 0, kBin), "1023", ""},
      {scaled(1024, 0, kBin), "1Ki", ""},
      {scaled(1, 9), "1G", "1000M"},
      {scaled(1000, 6), "1G", "0.001T"},
      {scaled(1000000, 3), "1G", ""},
      {scaled(1000000000, 0), "1G", ""},
      {scaled(1, -3), "1m", "1000u"},
      {scaled(80, -3), "80m", ""},
      {scaled(1080, -3), "1080m", "1.08"},
      {scaled(108, -2), "1080m", "1080000000n"},
      {scaled(10800, -4), "1080m", ""},
      {scaled(300, 6), "300M", ""},
      {scaled(1, 12), "1T", ""},
      {scaled(1, 18), "1E", ""},
      {scaled(1, 21), "1e21", "1000E"},
      {scaled(5, 21), "5e21", "5000E"},
      {scaled(1, 24), "1e24", "1000000E"},
      {scaled(1234567, 6), "1234567M", ""},
      {scaled(1234567, -3, kBin), "1234567m", ""},
      {scaled(3, 3), "3k", ""},
      {scaled(1025, 0, kBin), "1025", ""},
      {scaled(0, 0), "0", "00"},
      {scaled(0, 0, kBin), "0", ""},
      {scaled(1, 9, kExp), "1e9", ".001e12"},
      {scaled(1, -3, kExp), "1e-3", "0.001e0"},
      {scaled(1, -9, kExp), "1e-9", "1000e-12"},
      {scaled(80, -3, kExp), "80e-3", ""},
      {scaled(300, 6, kExp), "300e6", ""},
      {scaled(1, 12, kExp), "1e12", ""},
      {scaled(1, 3, kExp), "1e3", ""},
      {scaled(3, 3, kExp), "3e3", ""},
      {scaled(0, 0, kExp), "0", ""},
      {scaled(1, -9), "1n", ""},
      {scaled(80, -9), "80n", ""},
      {scaled(1080, -9), "1080n", ""},
      {scaled(108, -8), "1080n", ""},
      {scaled(10800, -10), "1080n", ""},
      {scaled(1, -6), "1u", ""},
      {scaled(80, -6), "80u", ""},
      {scaled(1080, -6), "1080u", ""},
      {scaled(1, -12), "1e-12", ""},  // finer than n: exact, exponent notation
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.canonical);
    EXPECT_EQ(c.in.to_string(), c.canonical);
    if (!c.in.is_zero()) {
      EXPECT_EQ(c.in.neg().to_string(), std::string("-") + c.canonical);
    }
    if (*c.alternate != '\0') {
      Quantity alt = q(c.alternate);
      EXPECT_EQ(alt, c.in);
      EXPECT_EQ(alt.to_string(), c.canonical);
    }
  }
}

// Kubernetes prints a BinarySI value that is no whole number of Ki as bare digits, and
// bare digits read back as DecimalSI: the canonical form settles after one more round.
TEST(QuantityString, BinaryDigitsReadBackAsDecimal) {
  Quantity bin = q("62.5Ki");
  EXPECT_EQ(bin.format(), kBin);
  EXPECT_EQ(bin.to_string(), "64000");
  Quantity dec = q(bin.to_string());
  EXPECT_EQ(dec, bin);
  EXPECT_EQ(dec.format(), kDec);
  EXPECT_EQ(dec.to_string(), "64k");
  EXPECT_EQ(Quantity::from_int(1500000000, kBin).to_string(), "1500000000");
}

TEST(QuantityString, Constructors) {
  struct Case {
    Quantity in;
    const char* canonical;
  };
  const std::vector<Case> cases = {
      {Quantity::from_milli(1), "1m"},
      {Quantity::from_milli(1000), "1"},
      {Quantity::from_milli(1234000), "1234"},
      {Quantity::from_milli(1024, kBin), "1024m"},
      {Quantity::from_milli(1024 * 1024, kBin), "1048576m"},
      {Quantity::from_int(1), "1"},
      {Quantity::from_int(1000), "1k"},
      {Quantity::from_int(1234000), "1234k"},
      {Quantity::from_int(1024, kBin), "1Ki"},
      {Quantity::from_int(1024 * 1024, kBin), "1Mi"},
      {Quantity::from_int(1000000, kExp), "1e6"},
      {Quantity::from_milli(1000000, kExp), "1e3"},
      {Quantity::from_scaled(1, -9), "1n"},
      {Quantity::from_scaled(1000, -9), "1u"},
      {Quantity::from_scaled(1, -6), "1u"},
      {Quantity::from_scaled(1000, -6), "1m"},
      {Quantity::from_scaled(1000, -3), "1"},
      {Quantity::from_scaled(0, -9), "0"},
      {Quantity::from_int(kMinI64), "-9223372036854775808"},
      {Quantity(), "0"},
  };
  for (const auto& c : cases) EXPECT_EQ(c.in.to_string(), c.canonical);
  EXPECT_EQ(Quantity().format(), kDec);
  EXPECT_THROW(Quantity::from_scaled(10, std::numeric_limits<int32_t>::max()), std::out_of_range);
  EXPECT_EQ(Quantity::from_scaled(1, std::numeric_limits<int32_t>::max()).to_string(),
            "10e2147483646");
}

// ---- Integer accessors -----------------------------------------------------------------

TEST(QuantityValue, RoundsAwayFromZeroAndRefusesOverflow) {
  struct Case {
    const char* in;
    std::optional<int64_t> value;
    std::optional<int64_t> milli;
  };
  const std::optional<int64_t> overflow;
  const std::vector<Case> cases = {
      {"0", 0, 0},
      {"1", 1, 1000},
      {"100m", 1, 100},
      {"1500m", 2, 1500},
      {"1n", 1, 1},
      {"999n", 1, 1},
      {"1001n", 1, 1},
      {"1000001n", 1, 2},
      {"1Ki", 1024, 1024000},
      {"1Mi", 1048576, 1048576000},
      {"9.01", 10, 9010},
      {"-9.01", -10, -9010},
      {"-100m", -1, -100},
      {"-1n", -1, -1},
      {"-1000001n", -1, -2},
      {"1E", 1000000000000000000, overflow},
      {"1e18", 1000000000000000000, overflow},
      {"1e19", overflow, overflow},
      {"10E", overflow, overflow},
      {"9Ei", kMaxI64, overflow},
      {"9223372036854775807", kMaxI64, overflow},
      {"9223372036854775808", overflow, overflow},
      {"-9223372036854775808", kMinI64, overflow},
      {"-9223372036854775809", overflow, overflow},
      {"9223372036854775807m", 9223372036854776, kMaxI64},
      {"9223372036854775808m", 9223372036854776, overflow},
      {"-9223372036854775808m", -9223372036854776, kMinI64},
      {"-9223372036854775809m", -9223372036854776, overflow},
      {"9223372036854775.807", 9223372036854776, kMaxI64},
      {"1e999999999", overflow, overflow},
      {"1e-999999999", 1, 1},
      {"12345678901234567890123456789012345678n", overflow, overflow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    Quantity x = q(c.in);
    auto v = x.value();
    auto m = x.milli_value();
    ASSERT_EQ(v.ok(), c.value.has_value());
    ASSERT_EQ(m.ok(), c.milli.has_value());
    if (c.value) {
      EXPECT_EQ(*v, *c.value);
    }
    if (c.milli) {
      EXPECT_EQ(*m, *c.milli);
    }
  }
  auto err = q("10E").value();
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().message(), "quantity 10E: value does not fit in int64");
  auto merr = q("9Ei").milli_value();
  ASSERT_FALSE(merr.ok());
  EXPECT_EQ(merr.error().message(), "quantity 9223372036854775807: milli-value does not fit in int64");
}

TEST(QuantityValue, ScaledConstructorsRoundTrip) {
  for (int32_t s : {-9, -6, -3, 0}) {
    for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{-7}, int64_t{123456789}}) {
      Quantity x = Quantity::from_scaled(v, s);
      Quantity back = q(x.to_string());
      EXPECT_EQ(back, x) << v << "e" << s;
    }
  }
  EXPECT_EQ(*Quantity::from_scaled(1, -9).milli_value(), 1);
  EXPECT_EQ(*Quantity::from_scaled(1, -6).milli_value(), 1);
  EXPECT_EQ(*Quantity::from_scaled(1, 2).milli_value(), 100000);
  EXPECT_EQ(*Quantity::from_scaled(1, -9).value(), 1);
}

TEST(QuantityValue, AsDouble) {
  struct Case {
    Quantity in;
    double want;
  };
  const std::vector<Case> cases = {
      {q("0"), 0.0},
      {q("1"), 1.0},
      {q("2Ki"), 2048.0},
      {q("1.1Ki"), 1126.4},
      {q("1Mi"), 1048576.0},
      {q("2Gi"), 2147483648.0},
      {q("100m"), 0.1},
      {q("-1.5"), -1.5},
      {q("12E"), 1.2e19},
      {q("9Ei"), 9223372036854775807.0},
      {scaled(7 * 1024 * 1024, -8), 7.0 * 1024 * 1024 / 1e8},
      {scaled(12, 500), std::numeric_limits<double>::infinity()},
      {scaled(-12, 500), -std::numeric_limits<double>::infinity()},
      {q("1e-999999999"), 1e-9},
  };
  for (const auto& c : cases) EXPECT_EQ(c.in.as_double(), c.want) << c.in.to_string();
}

// ---- Comparison --------------------------------------------------------------------------

TEST(QuantityCompare, ExactAcrossScalesAndFormats) {
  struct Case {
    Quantity a, b;
    int want;
  };
  const int64_t e18 = 1000000000000000000;
  const std::vector<Case> cases = {
      {q("0"), q("0"), 0},
      {q("100m"), q("50m"), 1},
      {q("50m"), q("100m"), -1},
      {q("10000T"), q("100Gi"), 1},
      {q("1Ki"), q("1024"), 0},
      {q("1Gi"), q("1G"), 1},
      {q("0Ki"), q("0e3"), 0},
      {q("-0"), q("0"), 0},
      {scaled(901, -2), scaled(901, -2), 0},
      {scaled(90, -1), scaled(901, -2), -1},
      {scaled(901, -2), scaled(900, -2), 1},
      {scaled(0, 1), scaled(0, -1), 0},
      {scaled(800, -3), scaled(1, 0), -1},
      {scaled(800, -3), scaled(79, -2), 1},
      {scaled(kMaxI64, 0), scaled(1, -1), 1},
      {scaled(kMaxI64, 1), scaled(1, 0), 1},
      {scaled(kMaxI64, 1), scaled(1, 1), 1},
      {scaled(kMaxI64, 1), scaled(0, 1), 1},
      {scaled(kMaxI64, -16), scaled(1, 3), -1},
      {scaled(kMinI64, 0), scaled(0, 0), -1},
      {scaled(kMinI64, -18), scaled(-1, 0), -1},
      {scaled(kMinI64, -19), scaled(-1, 0), 1},
      {scaled(e18, -17), scaled(1, 1), 0},
      {scaled(e18, -17), scaled(-10, 0), 1},
      {scaled(-e18, -17), scaled(-10, 0), 0},
      {scaled(e18, -17), scaled(1, 0), 1},
      {scaled(e18 + 1, -17), scaled(1, 1), 1},
      {scaled(e18 - 1, -17), scaled(1, 1), -1},
      {q("1e999999999"), q("1n"), 1},
      {q("-1e999999999"), q("1n"), -1},
      {q("-1e999999999"), q("-1n"), -1},
      {q("1e40"), q("99999999999999999999999999999999999999"), 1},
      {q("1e37"), q("9999999999999999999999999999999999999"), 1},
      {q("1e37"), q("10000000000000000000000000000000000000"), 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.a.to_string() + " vs " + c.b.to_string());
    auto want = c.want < 0 ? std::strong_ordering::less
                           : (c.want > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
    auto inverse = c.want > 0 ? std::strong_ordering::less
                              : (c.want < 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
    EXPECT_EQ(c.a <=> c.b, want);
    EXPECT_EQ(c.b <=> c.a, inverse);
    EXPECT_EQ(c.a == c.b, c.want == 0);
  }
}

// ---- Arithmetic ---------------------------------------------------------------------------

TEST(QuantityArithmetic, AddSubKeepTheLeftFormatUnlessItIsZero) {
  struct Case {
    Quantity a, b;
    char op;
    const char* want;
    Format format;
  };
  const std::vector<Case> cases = {
      {scaled(10, 0), scaled(1, 1), '+', "20", kDec},
      {scaled(10, 0), scaled(1, 0, kBin), '+', "11", kDec},
      {scaled(10, 0, kBin), scaled(1, 0), '+', "11", kBin},
      {Quantity(), scaled(50, 0), '+', "50", kDec},
      {scaled(50, 0), Quantity(), '+', "50", kDec},
      {Quantity(), Quantity(), '+', "0", kDec},
      {q("100m"), q("0"), '+', "100m", kDec},
      {q("0"), q("100m"), '+', "100m", kDec},
      {q("1Gi"), q("0"), '+', "1Gi", kBin},
      {q("0"), q("1Gi"), '+', "1Gi", kBin},
      {q("1Gi"), q("512Mi"), '+', "1536Mi", kBin},
      {q("1.5"), q("250m"), '+', "1750m", kDec},
      {q("1"), q("1n"), '+', "1000000001n", kDec},
      {scaled(10, 0), scaled(1, 1), '-', "0", kDec},
      {scaled(10, 0), scaled(1, 0, kBin), '-', "9", kDec},
      {scaled(10, 0, kBin), scaled(1, 0), '-', "9", kBin},
      {Quantity(), scaled(50, 0), '-', "-50", kDec},
      {scaled(50, 0), Quantity(), '-', "50", kDec},
      {q("100m"), q("0"), '-', "100m", kDec},
      {q("0"), q("1Gi"), '-', "-1Gi", kBin},
      {q("0"), q("100m"), '-', "-100m", kDec},
      {q("1Gi"), q("1Gi"), '-', "0", kBin},
      // Past int64 nothing wraps (apimachinery's mostNegative cases).
      {q("0"), scaled(kMinI64, 0), '-', "9223372036854775808", kDec},
      {scaled(1, 0), scaled(kMinI64, 0), '-', "9223372036854775809", kDec},
      {scaled(1, 1), scaled(kMinI64, 0), '-', "9223372036854775818", kDec},
      {scaled(1, -3), scaled(kMinI64, -3), '-', "9223372036854775809m", kDec},
      {scaled(0, 0), scaled(kMinI64, -3), '-', "9223372036854775808m", kDec},
      {Quantity(), scaled(kMinI64, 0, kBin), '-', "8Ei", kBin},
      {scaled(kMaxI64, 0), scaled(kMaxI64, 0), '+', "18446744073709551614", kDec},
      // A carry into the 39th digit normalizes back into range.
      {q("99999999999999999999999999999999999999"), q("1"), '+', "100e36", kDec},
      {q("-1e999999999"), q("1e999999999"), '-', "-2e999999999", kExp},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.a.to_string() + " " + c.op + " " + c.b.to_string());
    auto r = c.op == '+' ? c.a.add(c.b) : c.a.sub(c.b);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->to_string(), c.want);
    EXPECT_EQ(r->format(), c.format);
  }
}

TEST(QuantityArithmetic, OverflowIsAnError) {
  auto r = q("99999999999999999999999999999999999999").add(q("1n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "quantity 99999999999999999999999999999999999999 + 1n: result out of range");
  auto s = q("1e40").sub(q("1n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "quantity 10e39 - 1n: result out of range");
  EXPECT_FALSE(q("1e999999999").add(q("1")).ok());
  EXPECT_FALSE(q("50000000000000000000000000000000000000").add(q("50000000000000000000000000000000000001")).ok());
}

TEST(QuantityArithmetic, NegAndSign) {
  EXPECT_EQ(q("9010m").neg().to_string(), "-9010m");
  EXPECT_EQ(q("-1Ki").neg().to_string(), "1Ki");
  EXPECT_EQ(q("-1Ki").neg().format(), kBin);
  EXPECT_EQ(Quantity().neg(), Quantity());
  EXPECT_EQ(q("-5m").sign(), -1);
  EXPECT_EQ(q("5m").sign(), 1);
  EXPECT_EQ(q("0Gi").sign(), 0);
  EXPECT_TRUE(q("-0.0").is_zero());
  EXPECT_FALSE(q("1n").is_zero());
}

TEST(QuantityArithmetic, AdditionsAndSubtractionsCancelExactly) {
  std::mt19937_64 rng(42);
  for (int32_t scale = -10; scale <= 10; ++scale) {
    Quantity sum;
    std::vector<int64_t> order;
    for (int i = 0; i < 100; ++i) {
      order.push_back(static_cast<int64_t>(rng() >> 1));
      auto r = sum.add(Quantity::from_scaled(order.back(), scale));
      ASSERT_TRUE(r.ok()) << r.error().message();
      sum = *r;
    }
    for (int64_t v : order) {
      auto r = sum.sub(Quantity::from_scaled(v, scale));
      ASSERT_TRUE(r.ok());
      sum = *r;
    }
    EXPECT_TRUE(sum.is_zero()) << sum.to_string();
  }
  // Across scales: values small enough that all of them aligned to 1e-9 fit 38 digits.
  Quantity sum;
  std::vector<std::pair<int64_t, int32_t>> order;
  for (int i = 0; i < 100; ++i) {
    const auto v = static_cast<int64_t>(rng() >> 24);
    const auto s = static_cast<int32_t>(v % 19) - 9;
    order.emplace_back(v, s);
    sum = *sum.add(Quantity::from_scaled(v, s));
  }
  for (auto [v, s] : order) sum = *sum.sub(Quantity::from_scaled(v, s));
  EXPECT_TRUE(sum.is_zero()) << sum.to_string();
}

// ---- JSON ----------------------------------------------------------------------------------

TEST(QuantityJson, AcceptsStringsNumbersAndNullLikeTheApiServer) {
  struct Case {
    const char* json;
    const char* canonical;
  };
  const std::vector<Case> cases = {
      {R"("100m")", "100m"},
      {R"(" 1")", "1"},
      {R"("1 ")", "1"},
      {R"("1.5Gi")", "1536Mi"},
      {"1", "1"},
      {"10", "10"},
      {"-1", "-1"},
      {"1.5", "1500m"},
      {"0.1", "100m"},
      {"0.3", "300m"},
      {"2.2", "2200m"},
      {"0.000001", "1u"},
      {"2.5e-10", "1n"},
      {"1e3", "1k"},
      {"1.0", "1"},
      {"-0.0", "0"},
      {"18446744073709551615", "18446744073709551615"},
      {"1e300", "1e300"},
      {"null", "0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto v = json::parse(c.json);
    ASSERT_TRUE(v.ok());
    auto r = Quantity::from_json(*v);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->to_string(), c.canonical);
  }
}

TEST(QuantityJson, ErrorsNameTheBadValue) {
  struct Case {
    const char* json;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"true", "quantity: expected a string or a number, got true"},
      {R"({"a":1})", R"(quantity: expected a string or a number, got {"a":1})"},
      {"[1]", "quantity: expected a string or a number, got [1]"},
      {R"("12Q")", ""},
      {R"("")", "quantity \"\": empty string"},
      {R"("1 2")", "quantity \"1 2\": whitespace is not allowed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto r = Quantity::from_json(*json::parse(c.json));
    ASSERT_FALSE(r.ok());
    if (*c.message != '\0') {
      EXPECT_EQ(r.error().message(), c.message);
    } else {
      EXPECT_NE(r.error().message().find("\"12Q\""), std::string::npos);
    }
  }
}

TEST(QuantityJson, WritesTheCanonicalString) {
  EXPECT_EQ(json::dump(q("1.5Gi").to_json()), R"("1536Mi")");
  EXPECT_EQ(json::dump(q("0.5").to_json()), R"("500m")");
  EXPECT_EQ(json::dump(Quantity().to_json()), R"("0")");
  auto back = Quantity::from_json(q("-1.25e9").to_json());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, q("-1250M"));
}

}  // namespace
}  // namespace kernlet
