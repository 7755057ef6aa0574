#include "progress.h"

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

#include "shoal/base/units.h"

namespace shoal::cli {
namespace {

constexpr auto kShowAfter = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr int kBarWidth = 30;

}  // namespace

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)),
      enabled_(isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
    if (drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::update(uint64_t bytes_done, std::optional<uint64_t> bytes_total) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - started_ < kShowAfter || now - drawn_last_ < kRedrawEvery) return;
    drawn_last_ = now;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double megabytes_per_second = static_cast<double>(bytes_done) / 1e6 / seconds;
    std::string bar;
    if (bytes_total.has_value() && *bytes_total > 0) {
        const auto filled = static_cast<int>(bytes_done * kBarWidth / *bytes_total);
        bar = fmt::format("[{}{}] {:3}% ",
                          std::string(static_cast<size_t>(filled), '#'),
                          std::string(static_cast<size_t>(kBarWidth - filled), ' '),
                          bytes_done * 100 / *bytes_total);
    }
    std::fputs(fmt::format("\r\033[K{} {}{} {:.1f} MB/s",
                           label_,
                           bar,
                           format_bytes(bytes_done),
                           megabytes_per_second)
                       .c_str(),
               stderr);
    std::fflush(stderr);
}

}  // namespace shoal::cli
