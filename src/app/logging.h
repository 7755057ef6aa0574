// Logging: the sinks of one shoald process and its per-module loggers, named
// "<node>.<module>" (STYLE.md 2.7). The only place in the daemon that creates sinks.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "shoal/base/status.h"

namespace shoal::app {

class Logging {
public:
    // Logs to stderr, or appends to `file` if it is not empty.
    static Result<Logging> open(const std::string& node_name,
                                const std::string& level,
                                const std::string& file);

    // A logger named "<node>.<module>", sharing the process's sinks.
    std::shared_ptr<spdlog::logger> logger(const std::string& module) const;

private:
    std::string node_name_;
    spdlog::level::level_enum level_ = spdlog::level::info;
    spdlog::sink_ptr sink_;
};

}  // namespace shoal::app
