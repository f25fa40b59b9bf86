// YAML manifests to JSON, the way kubectl and the API server read them.
//
// Scalars resolve as Kubernetes' YAML decoder does (YAML 1.1 rules): unquoted
// true/false/yes/no/on/off/y/n in any of their cases are booleans, null/~/empty are null,
// integers may be decimal, 0x hex, 0o/leading-0 octal, 0b binary, with `_` separators;
// quoted scalars and explicit !!str are always strings. Merge keys (`<<`) are applied.
#pragma once

#include <string_view>
#include <vector>

#include "api/json.h"
#include "api/result.h"

namespace kernlet::yaml {

// Converts a stream of YAML documents (separated by `---`) to JSON values. Empty
// documents are skipped, as kubectl skips them. Errors name the document and position:
// `yaml: document 2, line 7, column 3: illegal map value`.
// Alias expansion is bounded (1,000,000 nodes in all) so a "billion laughs" input fails
// cleanly instead of exhausting memory; nesting deeper than 512 levels is an error.
// Parsed with libyaml, the C parser Kubernetes' Go YAML library was ported from.
Result<std::vector<json::value>> to_json_documents(std::string_view text);

// Converts exactly one YAML document; zero or several documents are an error.
Result<json::value> to_json(std::string_view text);

}  // namespace kernlet::yaml
