// Create/update preparation: what Kubernetes' registry strategies (PrepareForCreate /
// PrepareForUpdate) and the generic BeforeCreate/BeforeUpdate steps do to an object
// before it is validated and stored: which parts a write may touch, status resets,
// metadata.generation, Job selector generation, Secret stringData.
#pragma once

#include <string_view>

#include "api/json.h"
#include "control/apiserver/resources.h"

namespace kernlet::apiserver {

// Prepares a new object for storage. The caller has already set metadata.uid (and the
// name from generateName); defaults come first (apply_defaults), validation after.
// Resets status for kinds whose strategy does (Pod: phase Pending plus its QoS class),
// sets generation 1 where kinds track it, generates the Job selector and template labels
// unless spec.manualSelector is true, folds Secret stringData into data.
void prepare_for_create(const ResourceInfo& r, json::object& obj);

// Prepares an update of `old` into obj. subresource is "" for a write to the object
// itself (status is then kept from old), "status" for /status (only status changes:
// spec, and for most kinds labels, annotations, finalizers and owner references, are
// kept from old) or another subresource name. Generation is kept from old and bumped
// by one when the spec changed, for the kinds that track it.
void prepare_for_update(const ResourceInfo& r, json::object& obj, const json::object& old,
                        std::string_view subresource);

// True for the kinds whose metadata.generation counts spec changes.
bool tracks_generation(const ResourceInfo& r);

}  // namespace kernlet::apiserver
