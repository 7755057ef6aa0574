// Status and Result<T>: how every fallible operation reports an operating error.
//
// Operating errors are expected: a peer is down, a disk read fails, a client sends garbage.
// They are values, returned and handled. Programmer errors are not Statuses; they are
// SHOAL_ASSERT failures. Project code does not throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "shoal/base/assert.h"

namespace shoal {

// Add a code only when some caller must react to it differently from every existing code.
// The comment on each code is its retry contract. The numbers travel on the wire: never
// renumber them (tests/unit/base/status_test.cc pins them).
enum class Code : uint8_t {
    kOk = 0,
    kNotFound = 1,           // Do not retry: the object does not exist.
    kInvalidArgument = 2,    // Do not retry: the request is malformed or breaks a limit.
    kCorruption = 3,         // Do not retry this copy: the bytes failed their checksum.
    kUnavailable = 4,        // Retry with backoff: the node is stopping or a peer is down.
    kTimeout = 5,            // Retry with backoff, and only if the operation is idempotent.
    kResourceExhausted = 6,  // Retry later or elsewhere: a budget (space, queue) is full.
    kIoError = 7,            // Do not retry here: the local disk failed; the node degrades.
};

inline constexpr uint8_t kCodeMax = 7;

// A short lowercase name for a code ("not found"), for messages and logs.
std::string_view code_name(Code code);

class [[nodiscard]] Status {
public:
    Status() = default;  // OK.

    static Status ok() { return {}; }
    static Status not_found(std::string_view message) { return {Code::kNotFound, message}; }
    static Status invalid_argument(std::string_view message) {
        return {Code::kInvalidArgument, message};
    }
    static Status corruption(std::string_view message) { return {Code::kCorruption, message}; }
    static Status unavailable(std::string_view message) { return {Code::kUnavailable, message}; }
    static Status timeout(std::string_view message) { return {Code::kTimeout, message}; }
    static Status resource_exhausted(std::string_view message) {
        return {Code::kResourceExhausted, message};
    }
    static Status io_error(std::string_view message) { return {Code::kIoError, message}; }

    // REQUIRES: code != kOk.
    static Status from_code(Code code, std::string_view message) { return {code, message}; }

    bool is_ok() const { return code_ == Code::kOk; }
    Code code() const { return code_; }
    const std::string& message() const { return message_; }

    // "not found: get photos/cat.jpg: no such object", or "ok".
    std::string to_string() const;

private:
    Status(Code code, std::string_view message) : code_(code), message_(message) {
        SHOAL_ASSERT(code != Code::kOk);
    }

    Code code_ = Code::kOk;
    std::string message_;  // Empty when OK, so success never allocates.
};

// A T, or the non-OK Status that explains why there is none. A C++20 stand-in for
// std::expected<T, Status>.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)

    Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
        SHOAL_ASSERT(!std::get<Status>(state_).is_ok());
    }

    bool is_ok() const { return std::holds_alternative<T>(state_); }

    Status status() const { return is_ok() ? Status::ok() : std::get<Status>(state_); }

    T& value() & {
        SHOAL_ASSERT(is_ok());
        return std::get<T>(state_);
    }
    const T& value() const& {
        SHOAL_ASSERT(is_ok());
        return std::get<T>(state_);
    }
    T&& value() && {
        SHOAL_ASSERT(is_ok());
        return std::get<T>(std::move(state_));
    }

private:
    std::variant<T, Status> state_;
};

}  // namespace shoal

#define SHOAL_CONCAT_IMPL(a, b) a##b
#define SHOAL_CONCAT(a, b) SHOAL_CONCAT_IMPL(a, b)

// Propagation. These are the only two control-flow macros in the project.
#define SHOAL_TRY(expression)                                   \
    do {                                                        \
        ::shoal::Status shoal_try_status = (expression);        \
        if (!shoal_try_status.is_ok()) return shoal_try_status; \
    } while (false)

#define SHOAL_TRY_ASSIGN(declaration, expression) \
    SHOAL_TRY_ASSIGN_IMPL(SHOAL_CONCAT(shoal_try_result_, __LINE__), declaration, expression)

// NOLINTBEGIN(bugprone-macro-parentheses): `declaration` is a declaration, not an expression.
#define SHOAL_TRY_ASSIGN_IMPL(result, declaration, expression) \
    auto result = (expression);                                \
    if (!result.is_ok()) return result.status();               \
    declaration = std::move(result).value()
// NOLINTEND(bugprone-macro-parentheses)
