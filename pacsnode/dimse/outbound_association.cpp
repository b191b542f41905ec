#include "pacsnode/dimse/outbound_association.h"

namespace pacs::dimse {

OutboundAssociation::~OutboundAssociation() {
  if (association_ != nullptr) {
    if (!broken_ && ASC_releaseAssociation(association_).bad()) ASC_abortAssociation(association_);
    ASC_destroyAssociation(&association_);
  }
  if (network_ != nullptr) ASC_dropNetwork(&network_);
}

std::string OutboundAssociation::open(const Destination& destination,
                                      const std::vector<ProposedContext>& contexts) {
  OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0,
                                        static_cast<int>(destination.timeout_seconds), &network_);
  const bool tls = destination.remote.tls != nullptr;
  if (c.good() && tls) c = ASC_setTransportLayer(network_, destination.remote.tls.get(), 0);
  T_ASC_Parameters* params = nullptr;
  if (c.good()) c = ASC_createAssociationParameters(&params, ASC_MAXIMUMPDUSIZE);
  if (c.good() && tls) c = ASC_setTransportLayerType(params, OFTrue);
  if (c.bad()) {
    if (params) ASC_destroyAssociationParameters(&params);
    return c.text();
  }
  const std::string address =
      destination.remote.host + ":" + std::to_string(destination.remote.port);
  c = ASC_setAPTitles(params, destination.own_aet.c_str(), destination.aet.c_str(), nullptr);
  if (c.good()) c = ASC_setPresentationAddresses(params, "localhost", address.c_str());
  T_ASC_PresentationContextID id = 1;
  for (const ProposedContext& context : contexts) {
    std::vector<const char*> syntaxes;
    for (const auto& s : context.syntaxes) syntaxes.push_back(s.c_str());
    if (c.good())
      c = ASC_addPresentationContext(params, id, context.sop_class.c_str(), syntaxes.data(),
                                     static_cast<int>(syntaxes.size()), context.role);
    id = static_cast<T_ASC_PresentationContextID>(id + 2);
  }
  if (c.bad()) {
    ASC_destroyAssociationParameters(&params);
    return c.text();
  }
  // The association owns params from here on, also when the request fails.
  c = ASC_requestAssociation(network_, params, &association_, nullptr, nullptr, DUL_NOBLOCK,
                             static_cast<int>(destination.timeout_seconds));
  if (c.bad()) {
    std::string why = c.text();
    if (c == DUL_ASSOCIATIONREJECTED) {
      T_ASC_RejectParameters reject;
      ASC_getRejectParameters(params, &reject);
      OFString text;
      why += ": " + std::string(ASC_printRejectParameters(text, &reject).c_str());
    }
    if (association_ == nullptr) ASC_destroyAssociationParameters(&params);
    broken_ = true;
    return why;
  }
  if (ASC_countAcceptedPresentationContexts(association_->params) == 0) {
    ASC_abortAssociation(association_);
    broken_ = true;
    return "the destination accepted none of the proposed presentation contexts";
  }
  return {};
}

void OutboundAssociation::mark_broken() {
  if (association_ != nullptr && !broken_) ASC_abortAssociation(association_);
  broken_ = true;
}

}  // namespace pacs::dimse
