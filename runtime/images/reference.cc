#include "runtime/images/reference.h"

#include <cctype>

#include "runtime/images/digest.h"

namespace kernlet::images {

namespace {

Error bad(std::string_view text, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument, "image reference \"" + std::string(text) + "\": " + why);
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: [a-z0-9]+ joined by one of `.`, `_`, `__`, or any run of `-`.
bool valid_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  for (char c : d)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']')
      return false;
  return true;
}

}  // namespace

Result<Reference> Reference::parse(std::string_view text) {
  if (text.empty()) return bad(text, "empty");
  if (text.size() > 4096) return bad(text.substr(0, 64), "longer than 4096 characters");
  Reference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto d = Digest::parse(rest.substr(at + 1));
    if (!d.ok()) return bad(text, d.error().message());
    r.digest = d->str();
    rest = rest.substr(0, at);
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      if (!valid_domain(first)) return bad(text, "invalid registry host \"" + std::string(first) + "\"");
      r.domain = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (r.domain.empty() || r.domain == "index.docker.io" || r.domain == "registry-1.docker.io") r.domain = "docker.io";
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) return bad(text, "invalid tag \"" + std::string(tag) + "\"");
    r.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad(text, "missing repository name");
  for (size_t b = 0;;) {
    auto e = rest.find('/', b);
    std::string_view comp = rest.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
    if (!valid_component(comp)) {
      bool upper = false;
      for (char c : comp) upper |= (c >= 'A' && c <= 'Z');
      return bad(text, upper ? "repository name must be lowercase"
                             : "invalid repository path component \"" + std::string(comp) + "\"");
    }
    if (e == std::string_view::npos) break;
    b = e + 1;
  }
  r.repository = std::string(rest);
  if (r.domain == "docker.io" && r.repository.find('/') == std::string::npos) r.repository = "library/" + r.repository;
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  if (r.name().size() > 255) return bad(text, "repository name longer than 255 characters");
  return r;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::registry_host() const { return domain == "docker.io" ? "registry-1.docker.io" : domain; }

}  // namespace kernlet::images
