#include "pacsnode/app/delete_command.h"

#include <cstdio>
#include <optional>

#include "pacsnode/app/node.h"
#include "storage/model/log.h"

namespace pacs {
namespace {

std::optional<RemovalTarget> target_of(const std::vector<std::string>& args) {
  if (args.size() < 2) return std::nullopt;
  const std::string& level = args[0];
  if (level == "patient" && args.size() <= 3)
    return RemovalTarget{.level = RemovalLevel::Patient,
                         .patient_id = args[1],
                         .issuer_of_patient_id = args.size() == 3 ? args[2] : ""};
  if (args.size() != 2) return std::nullopt;
  if (level == "study") return RemovalTarget{.level = RemovalLevel::Study, .study_uid = args[1]};
  if (level == "series") return RemovalTarget{.level = RemovalLevel::Series, .series_uid = args[1]};
  if (level == "instance")
    return RemovalTarget{.level = RemovalLevel::Instance, .sop_instance_uid = args[1]};
  return std::nullopt;
}

}  // namespace

int delete_command(const Config& config, const std::vector<std::string>& args) {
  const auto target = target_of(args);
  if (!target) {
    PACS_LOG(Error) << "delete: patient ID [ISSUER] | study UID | series UID | instance UID";
    return 2;
  }
  auto opened = open_audited_node(config);
  if (!opened) {
    PACS_LOG(Error) << opened.error().message;
    return 1;
  }
  Node* node = &opened->node;
  auto removed =
      node->remover->remove(*target, RemovalOrder{.reason = "deleted", .actor = "pacsnode delete"});
  if (!removed) {
    PACS_LOG(Error) << "delete: " << removed.error().message;
    return removed.error().code == ErrorCode::NotFound          ? 3
           : removed.error().code == ErrorCode::InvalidArgument ? 2
                                                                : 1;
  }
  std::printf("removed %lld patient(s), %lld study(ies), %lld series, %lld instance(s)\n",
              static_cast<long long>(removed->patients), static_cast<long long>(removed->studies),
              static_cast<long long>(removed->series), static_cast<long long>(removed->instances));
  return 0;
}

}  // namespace pacs
