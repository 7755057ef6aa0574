// ErrorCountingSink: a log sink for simulation runs that counts error-level lines.
//
// An error-level line fails a simulation run unless the test expects one (STYLE.md 2.7, after
// FoundationDB's SevError rule); this sink is how a run or a test finds out. Single-threaded,
// like everything under the simulator.
#pragma once

#include <cstdint>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

namespace shoal::sim {

class ErrorCountingSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
public:
    uint64_t errors() const { return errors_; }

protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        if (message.level >= spdlog::level::err) errors_ += 1;
    }
    void flush_() override {}

private:
    uint64_t errors_ = 0;
};

}  // namespace shoal::sim
