// De-identified copies of stored instances for whatever sends them on: the routing rules' research
// and AI destinations, and DICOMweb's anonymize=yes. Copies are made on the fly; the stored
// original is never changed.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pacsnode/services/deidentify.h"
#include "pacsnode/services/forwarder.h"
#include "pacsnode/services/retrieve.h"
#include "storage/blob_store.h"

class DcmFileFormat;

namespace pacs {

// The stored instance as it goes out (see load_for_sending: in `syntax`, patient values updated),
// then de-identified. InvalidObject with the reason when it may not be (deid::Deidentifier::apply).
Result<std::unique_ptr<DcmFileFormat>> deidentified_copy(const deid::Deidentifier& deidentifier,
                                                         const deid::Options& options,
                                                         const RetrieveItem& item,
                                                         const std::string& syntax);

// The de-identification a destination's routes ask for (see routing.h), or nullopt: as stored.
using DeidentificationOf =
    std::function<std::optional<deid::Options>(const std::string& destination)>;

// `send` for destinations that take de-identified copies: each item is de-identified into a temp
// file of the store, in its stored syntax, and that copy goes in its place; the temp files go when
// the sending is done. An item that may not be de-identified (burned-in text) fails for that
// destination with the reason; the others are sent. Failures are reported under the stored SOP
// Instance UIDs, which the queue knows. Every such sending is audited as an Export, with the node
// (`aet`) as the source.
SendToDestination deidentifying(SendToDestination send, DeidentificationOf deidentification_of,
                                std::shared_ptr<const deid::Deidentifier> deidentifier,
                                BlobStore& blobs, std::string aet);

}  // namespace pacs
