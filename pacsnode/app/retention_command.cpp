#include "pacsnode/app/retention_command.h"

#include <cstdio>

#include "pacsnode/app/node.h"
#include "storage/model/log.h"

namespace pacs {

int retention_command(const Config& config, const std::vector<std::string>& args) {
  const bool run = args.size() == 1 && args[0] == "run";
  if (!args.empty() && !run) {
    PACS_LOG(Error) << "retention: no argument for a dry run, or `run`";
    return 2;
  }
  if (!config.retention.any()) {
    PACS_LOG(Error) << "retention: no rule configured (--retention-days, --retention-days-for, "
                       "--retention-disk)";
    return 2;
  }
  auto opened = open_audited_node(config);
  if (!opened) {
    PACS_LOG(Error) << opened.error().message;
    return 1;
  }
  Node* node = &opened->node;
  auto verdicts = run ? node->retention->run("pacsnode retention") : node->retention->plan();
  if (!verdicts) {
    PACS_LOG(Error) << "retention: " << verdicts.error().message;
    return 1;
  }
  // One line per study, by UID (no patient data): what goes (or went) or is kept, and why.
  for (const RetentionVerdict& v : *verdicts)
    std::printf("%s %s %lld instance(s) %llu bytes: %s\n",
                v.kept ? "kept"
                : run  ? "removed"
                       : "would remove",
                v.study.study_uid.c_str(), static_cast<long long>(v.study.instances),
                static_cast<unsigned long long>(v.study.bytes),
                (v.reason + (v.kept ? "; not yet forwarded" : "")).c_str());
  std::printf("%zu stud(ies) %s\n", verdicts->size(), run ? "removed" : "listed");
  return 0;
}

}  // namespace pacs
