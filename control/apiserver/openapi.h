// OpenAPI documents for the built-in resources, as kubectl reads them:
//
// - GET /openapi/v3 lists one document per group-version ("api/v1", "apis/apps/v1") with a
//   content hash in its URL; GET /openapi/v3/<api path> is that document (JSON).
// - GET /openapi/v2 is the whole API in one Swagger 2.0 document: the gnostic OpenAPIv2
//   `Document` protobuf when the client asks for it (kubectl does, and decodes the body as
//   protobuf whatever the Content-Type says), JSON otherwise.
//
// What kubectl takes from them: whether the server does server-side field validation
// (`fieldValidation` on the PATCH operation carrying the kind's
// x-kubernetes-group-version-kind; v3 first, v2 as the fallback and in kubectl 1.27), and
// the kinds' schemas. The v3 schemas are the real field schemas (openapi_schemas.h), which
// `kubectl explain` reads; the v2 ones are permissive (type object, unknown fields
// preserved). kubectl leaves validation to the server (it sends fieldValidation=Strict), and
// PATCH operations name no strategic-merge content type, so `kubectl apply` computes its
// patches from the merge keys compiled into kubectl instead of from these schemas.
// All documents are built once from the resource table; everything here is thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "api/json.h"
#include "control/apiserver/http_server.h"

namespace kernlet::apiserver {

// True for /openapi/v2, /openapi/v3 and /openapi/v3/<anything>.
bool is_openapi_path(std::string_view path);

// Answers GET <path> for an OpenAPI path: the document in the encoding `accept` allows
// (406 when it allows none we have, 404 for an unknown group-version). `hash` is the query
// parameter of /openapi/v3/... URLs: when it is the document's current hash the answer may
// be cached for good.
Response serve_openapi(std::string_view path, std::string_view hash, std::string_view accept);

// The v3 discovery document: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}.
json::object openapi_v3_root();
// The v3 document of one group-version ("api/v1", "apis/apps/v1"); empty if there is none.
json::object openapi_v3_document(std::string_view api_path);
// The v2 (Swagger 2.0) document of every group-version, as JSON.
json::object openapi_v2_json();
// The same document as a serialized gnostic openapi.v2.Document protobuf.
std::string openapi_v2_protobuf();

}  // namespace kernlet::apiserver
