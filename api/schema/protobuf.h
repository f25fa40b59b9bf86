// Kubernetes protobuf request bodies (Content-Type application/vnd.kubernetes.protobuf)
// decoded into kernlet's JSON object model, so everything after the decode (defaulting,
// validation, storage) is the same as for a JSON body.
//
// The wire form is Kubernetes' envelope: the 4 bytes "k8s\0", then a runtime.Unknown
// message {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}
// whose `raw` is the typed message (core/v1 Pod, apps/v1 Deployment, ...). Fields are read
// by the schema table (api/schema/schema.h) and written under their JSON names, with the
// JSON forms of the special types: Time/MicroTime as RFC 3339, Duration as a Go duration
// string, Quantity as its string, IntOrString as a number or string, bytes as base64,
// RawExtension/FieldsV1 as embedded JSON. Zero values of non-pointer omitempty fields are
// left out, as Go's JSON encoder does. Unknown field numbers are skipped, as upstream's
// protobuf decoder does. Pure and thread-safe.
#pragma once

#include <string_view>

#include "api/json.h"
#include "api/result.h"
#include "api/schema/schema.h"

namespace kernlet::api::schema {

inline constexpr std::string_view kProtobufMagic{"k8s\0", 4};
inline constexpr std::string_view kProtobufContentType = "application/vnd.kubernetes.protobuf";

// Decodes an enveloped object. The result carries apiVersion and kind from the envelope.
// Errors name what was wrong: a missing prefix, a kind without a schema
// (`no protobuf schema for example.com/v1, Kind=Foo`), truncated or malformed wire data
// with the JSON path of the field (`spec.replicas: truncated varint`), a compressed body.
Result<json::object> decode_protobuf_object(std::string_view body);

// Decodes one message of type `message` (no envelope).
Result<json::object> decode_protobuf_message(const Message& message, std::string_view bytes);

// Go's time.Duration.String() of `nanoseconds` ("1h0m0s", "1.5s", "300ms", "0s").
std::string format_go_duration(int64_t nanoseconds);

}  // namespace kernlet::api::schema
