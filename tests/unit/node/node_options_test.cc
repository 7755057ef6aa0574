// Goal: a node refuses options under which it could not work, naming the setting, rather than
// misbehaving later: a zero timeout would fail every put at once, a zero scrub setting would
// run passes back to back or never read a byte.
//
// Method: the default options validate; each setting set to zero in turn fails with
// kInvalidArgument and a message naming it.
#include <functional>
#include <string>

#include <catch2/catch.hpp>

#include "shoal/node/node.h"

namespace shoal::node {
namespace {

struct ZeroCase {
    std::string setting;
    std::function<void(Node::Options&)> zero;
};

TEST_CASE("node options: the defaults validate, and a zero timeout or pace is refused",
          "[unit][node]") {
    REQUIRE(Node::Options{}.validate().is_ok());
    const ZeroCase cases[] = {
            {"leave timeout",
             [](Node::Options& o) {
                 o.leave_timeout_ticks = 0;
             }},
            {"push-pull timeout",
             [](Node::Options& o) {
                 o.push_pull_timeout_ticks = 0;
             }},
            {"put idle timeout",
             [](Node::Options& o) {
                 o.put_idle_timeout_ticks = 0;
             }},
            {"put wait timeout",
             [](Node::Options& o) {
                 o.put_wait_timeout_ticks = 0;
             }},
            {"settle_ticks",
             [](Node::Options& o) {
                 o.scrub.settle_ticks = 0;
             }},
            {"pass_interval_ticks",
             [](Node::Options& o) {
                 o.scrub.pass_interval_ticks = 0;
             }},
            {"page_keys",
             [](Node::Options& o) {
                 o.scrub.page_keys = 0;
             }},
            {"read_bytes_per_tick",
             [](Node::Options& o) {
                 o.scrub.read_bytes_per_tick = 0;
             }},
    };
    for (const ZeroCase& zero_case : cases) {
        CAPTURE(zero_case.setting);
        Node::Options options;
        zero_case.zero(options);
        const Status status = options.validate();
        CHECK(status.code() == Code::kInvalidArgument);
        CHECK(status.message().find(zero_case.setting) != std::string::npos);
    }
}

TEST_CASE("node options: a node needs a name", "[unit][node]") {
    Node::Options options;
    options.name.clear();
    const Status status = options.validate();
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK(status.message().find("node.name") != std::string::npos);
}

}  // namespace
}  // namespace shoal::node
