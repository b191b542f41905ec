#include "pacsnode/app/dcmtk_log.h"

#include <dcmtk/oflog/appender.h>
#include <dcmtk/oflog/logger.h>
#include <dcmtk/oflog/oflog.h>
#include <dcmtk/oflog/spi/logevent.h>

namespace pacs {
namespace {

namespace l4 = dcmtk::log4cplus;

class NodeLogAppender : public l4::Appender {
 public:
  ~NodeLogAppender() override { destructorImpl(); }
  void close() override {}

 protected:
  void append(const l4::spi::InternalLoggingEvent& event) override {
    const l4::LogLevel level = event.getLogLevel();
    const log::Level ours = level >= l4::ERROR_LOG_LEVEL  ? log::Level::Error
                            : level >= l4::WARN_LOG_LEVEL ? log::Level::Warn
                            : level >= l4::INFO_LOG_LEVEL ? log::Level::Info
                                                          : log::Level::Debug;
    const auto& message = event.getMessage();
    log::write(ours, std::string("dcmtk: ") + message.c_str());
  }
};

}  // namespace

void route_dcmtk_logging(log::Level node_level) {
  l4::Logger root = l4::Logger::getRoot();
  root.removeAllAppenders();
  root.addAppender(l4::SharedAppenderPtr(new NodeLogAppender()));
  // DCMTK's INFO is chatty (one line per association event): keep it to warnings unless the node
  // itself runs at debug.
  root.setLogLevel(node_level == log::Level::Debug ? l4::DEBUG_LOG_LEVEL : l4::WARN_LOG_LEVEL);
}

}  // namespace pacs
