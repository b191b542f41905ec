#include "pacsnode/app/queue_command.h"

#include <cstdio>

#include "storage/index.h"
#include "storage/model/log.h"

namespace pacs {

int show_queue(const Config& config, const std::vector<std::string>& args) {
  const std::string state = args.empty() ? "" : args[0];
  if (!(state.empty() || state == "pending" || state == "sent" || state == "failed")) {
    PACS_LOG(Error) << "queue: the state is pending, sent or failed";
    return 2;
  }
  auto index = Index::open(config.db, config.data_dir);
  if (!index) {
    PACS_LOG(Error) << index.error().message;
    return 1;
  }
  auto counts = (*index)->queue_counts();
  auto items = (*index)->queue_items(state, 50);
  if (!counts || !items) {
    PACS_LOG(Error) << (counts ? items.error().message : counts.error().message);
    return 1;
  }
  std::printf("outbound queue: %lld pending, %lld sent, %lld failed\n",
              static_cast<long long>((*counts)["pending"]),
              static_cast<long long>((*counts)["sent"]),
              static_cast<long long>((*counts)["failed"]));
  if (!items->empty())
    std::printf("latest %sitems (up to 50):\n", state.empty() ? "" : (state + " ").c_str());
  for (const QueueItem& item : *items)
    std::printf("  #%lld %-7s to %-16s %s  attempts %lld%s%s\n", static_cast<long long>(item.id),
                item.state.c_str(), item.destination.c_str(), item.sop_instance_uid.c_str(),
                static_cast<long long>(item.attempts),
                item.last_error.empty() ? "" : "  last error: ", item.last_error.c_str());
  auto outbox_counts = (*index)->outbox_counts();
  auto outbox = (*index)->outbox_items(state, 50);
  if (!outbox_counts || !outbox) {
    PACS_LOG(Error) << (outbox ? outbox_counts.error().message : outbox.error().message);
    return 1;
  }
  std::printf("HL7 outbox: %lld pending, %lld sent, %lld failed\n",
              static_cast<long long>((*outbox_counts)["pending"]),
              static_cast<long long>((*outbox_counts)["sent"]),
              static_cast<long long>((*outbox_counts)["failed"]));
  for (const OutboxItem& item : *outbox)
    std::printf("  #%lld %-7s to %-16s %s %s %s  attempts %lld%s%s\n",
                static_cast<long long>(item.id), item.state.c_str(), item.destination.c_str(),
                item.event.c_str(), item.subject.c_str(), item.detail.c_str(),
                static_cast<long long>(item.attempts),
                item.last_error.empty() ? "" : "  last error: ", item.last_error.c_str());
  return 0;
}

}  // namespace pacs
