// A progress bar on stderr for long transfers: shown only on a terminal, only once a transfer
// has run for about a second, redrawn at most ten times a second, and erased at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace shoal::cli {

class ProgressBar {
public:
    explicit ProgressBar(std::string label);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    ProgressBar(ProgressBar&&) = delete;
    ProgressBar& operator=(ProgressBar&&) = delete;

    void update(uint64_t bytes_done, std::optional<uint64_t> bytes_total);

private:
    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point drawn_last_;
};

}  // namespace shoal::cli
