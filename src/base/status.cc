#include "shoal/base/status.h"

namespace shoal {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::kOk:
            return "ok";
        case Code::kNotFound:
            return "not found";
        case Code::kInvalidArgument:
            return "invalid argument";
        case Code::kCorruption:
            return "corruption";
        case Code::kUnavailable:
            return "unavailable";
        case Code::kTimeout:
            return "timeout";
        case Code::kResourceExhausted:
            return "resource exhausted";
        case Code::kIoError:
            return "i/o error";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    std::string text(code_name(code_));
    text += ": ";
    text += message_;
    return text;
}

}  // namespace shoal
