// Goal: Status and Result carry operating errors faithfully, the TRY macros propagate the first
// failure and nothing else, and the Code numbers that travel on the wire never change.
//
// Method: build Statuses from every factory and compare codes, names and text; run small
// functions written with SHOAL_TRY / SHOAL_TRY_ASSIGN and count which steps ran; pin each
// Code's number in a table that fails if anyone renumbers or inserts a code.
#include "shoal/base/status.h"

#include <cstdint>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "shoal/base/bytes.h"

namespace shoal {
namespace {

TEST_CASE("status: code numbers are pinned because they travel on the wire", "[unit][status]") {
    // Never edit this table to make it pass: renumbering a Code breaks every deployed client.
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kOk) == 0);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kNotFound) == 1);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kInvalidArgument) == 2);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kCorruption) == 3);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kUnavailable) == 4);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kTimeout) == 5);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kResourceExhausted) == 6);
    STATIC_REQUIRE(static_cast<uint8_t>(Code::kIoError) == 7);
    STATIC_REQUIRE(kCodeMax == 7);
    STATIC_REQUIRE(sizeof(Code) == 1);
}

TEST_CASE("status: every code has its own lowercase name", "[unit][status]") {
    CHECK(code_name(Code::kOk) == "ok");
    CHECK(code_name(Code::kNotFound) == "not found");
    CHECK(code_name(Code::kInvalidArgument) == "invalid argument");
    CHECK(code_name(Code::kCorruption) == "corruption");
    CHECK(code_name(Code::kUnavailable) == "unavailable");
    CHECK(code_name(Code::kTimeout) == "timeout");
    CHECK(code_name(Code::kResourceExhausted) == "resource exhausted");
    CHECK(code_name(Code::kIoError) == "i/o error");
    CHECK(code_name(static_cast<Code>(kCodeMax + 1)) == "unknown");
}

TEST_CASE("status: each factory makes its code and keeps the message", "[unit][status]") {
    const std::pair<Status, Code> cases[] = {
            {Status::not_found("a"), Code::kNotFound},
            {Status::invalid_argument("a"), Code::kInvalidArgument},
            {Status::corruption("a"), Code::kCorruption},
            {Status::unavailable("a"), Code::kUnavailable},
            {Status::timeout("a"), Code::kTimeout},
            {Status::resource_exhausted("a"), Code::kResourceExhausted},
            {Status::io_error("a"), Code::kIoError},
            {Status::from_code(Code::kTimeout, "a"), Code::kTimeout},
    };
    for (const auto& [status, code] : cases) {
        CAPTURE(code_name(code));
        CHECK_FALSE(status.is_ok());
        CHECK(status.code() == code);
        CHECK(status.message() == "a");
    }
}

TEST_CASE("status: ok has no message and prints as ok", "[unit][status]") {
    const Status defaulted;
    CHECK(defaulted.is_ok());
    CHECK(defaulted.code() == Code::kOk);
    CHECK(defaulted.message().empty());
    CHECK(defaulted.to_string() == "ok");
    CHECK(Status::ok().is_ok());
    CHECK(Status::ok().to_string() == "ok");
}

TEST_CASE("status: to_string is the code name, a colon and the message", "[unit][status]") {
    CHECK(Status::not_found("get photos/cat.jpg: no such object").to_string() ==
          "not found: get photos/cat.jpg: no such object");
    CHECK(Status::io_error("wal: fdatasync failed").to_string() ==
          "i/o error: wal: fdatasync failed");
    CHECK(Status::invalid_argument("").to_string() == "invalid argument: ");
}

TEST_CASE("status: a Result holds either a value or a failed status", "[unit][status]") {
    SECTION("a value") {
        Result<int> result(42);
        REQUIRE(result.is_ok());
        CHECK(result.value() == 42);
        CHECK(result.status().is_ok());
        result.value() = 7;
        CHECK(std::as_const(result).value() == 7);
    }
    SECTION("a status") {
        const Result<int> result(Status::timeout("peer n2 did not answer"));
        REQUIRE_FALSE(result.is_ok());
        CHECK(result.status().code() == Code::kTimeout);
        CHECK(result.status().message() == "peer n2 did not answer");
    }
    SECTION("a move-only value moves out") {
        Result<Buffer> result(Buffer(as_bytes("payload")));
        REQUIRE(result.is_ok());
        const Buffer taken = std::move(result).value();
        CHECK(as_string_view(taken.view()) == "payload");
    }
}

// Three steps; `fail_at` names the one that fails (0 for none). `steps_run` counts what ran.
Status run_steps(int fail_at, int& steps_run) {
    const auto step = [&](int number) {
        steps_run += 1;
        if (number == fail_at) return Status::unavailable("step " + std::to_string(number));
        return Status::ok();
    };
    SHOAL_TRY(step(1));
    SHOAL_TRY(step(2));
    SHOAL_TRY(step(3));
    return Status::ok();
}

TEST_CASE("status: SHOAL_TRY returns the first failure and skips the rest", "[unit][status]") {
    for (int fail_at = 0; fail_at <= 3; fail_at++) {
        CAPTURE(fail_at);
        int steps_run = 0;
        const Status status = run_steps(fail_at, steps_run);
        if (fail_at == 0) {
            CHECK(status.is_ok());
            CHECK(steps_run == 3);
        } else {
            CHECK(status.code() == Code::kUnavailable);
            CHECK(status.message() == "step " + std::to_string(fail_at));
            CHECK(steps_run == fail_at);
        }
    }
}

Result<int> parse_digit(char digit) {
    if (digit < '0' || digit > '9')
        return Status::invalid_argument(std::string("not a digit: ") + digit);
    return digit - '0';
}

Result<Buffer> make_buffer(std::string_view text) {
    if (text.empty()) return Status::not_found("nothing to copy");
    return Buffer(as_bytes(text));
}

// Sums two digits with SHOAL_TRY_ASSIGN; `reached_end` tells whether the last line ran.
Result<int> sum_digits(char first, char second, bool& reached_end) {
    SHOAL_TRY_ASSIGN(const int left, parse_digit(first));
    SHOAL_TRY_ASSIGN(const int right, parse_digit(second));
    reached_end = true;
    return left + right;
}

Result<size_t> buffer_size(std::string_view text) {
    SHOAL_TRY_ASSIGN(Buffer buffer, make_buffer(text));
    return buffer.size();
}

Status assign_existing(char digit, int& target) {
    SHOAL_TRY_ASSIGN(target, parse_digit(digit));
    return Status::ok();
}

TEST_CASE("status: SHOAL_TRY_ASSIGN binds the value or returns the status", "[unit][status]") {
    SECTION("both succeed") {
        bool reached_end = false;
        const Result<int> sum = sum_digits('3', '4', reached_end);
        REQUIRE(sum.is_ok());
        CHECK(sum.value() == 7);
        CHECK(reached_end);
    }
    SECTION("the first failure is returned unchanged") {
        bool reached_end = false;
        const Result<int> sum = sum_digits('3', 'x', reached_end);
        REQUIRE_FALSE(sum.is_ok());
        CHECK(sum.status().code() == Code::kInvalidArgument);
        CHECK(sum.status().message() == "not a digit: x");
        CHECK_FALSE(reached_end);
    }
    SECTION("a move-only value is moved into the declaration") {
        const Result<size_t> size = buffer_size("four");
        REQUIRE(size.is_ok());
        CHECK(size.value() == 4);
        CHECK(buffer_size("").status().code() == Code::kNotFound);
    }
    SECTION("an existing variable can be the target") {
        int target = -1;
        CHECK(assign_existing('8', target).is_ok());
        CHECK(target == 8);
        CHECK(assign_existing('?', target).code() == Code::kInvalidArgument);
        CHECK(target == 8);
    }
}

}  // namespace
}  // namespace shoal
