#include "app/logging.h"

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace shoal::app {

Result<Logging> Logging::open(const std::string& node_name,
                              const std::string& level,
                              const std::string& file) {
    Logging logging;
    logging.node_name_ = node_name;
    logging.level_ = spdlog::level::from_str(level);
    if (file.empty()) {
        logging.sink_ = std::make_shared<spdlog::sinks::stderr_color_sink_st>();
    } else {
        // spdlog reports a file it cannot open by throwing; this is the one place that
        // turns that into a Status.
        try {
            logging.sink_ = std::make_shared<spdlog::sinks::basic_file_sink_st>(file);
        } catch (const spdlog::spdlog_ex& error) {
            return Status::io_error(fmt::format("log.file {}: {}", file, error.what()));
        }
    }
    logging.sink_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %n %v");
    return logging;
}

std::shared_ptr<spdlog::logger> Logging::logger(const std::string& module) const {
    auto logger = std::make_shared<spdlog::logger>(fmt::format("{}.{}", node_name_, module), sink_);
    logger->set_level(level_);
    logger->flush_on(spdlog::level::warn);
    return logger;
}

}  // namespace shoal::app
