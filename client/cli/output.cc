#include "output.h"

#include <fmt/format.h>

namespace shoal::cli {

std::string format_version(const Version& version) {
    return fmt::format("{}-{:016x}", version.hlc, to_u64(version.node));
}

std::string format_digest(uint64_t digest) {
    return fmt::format("{:016x}", digest);
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char character : text) {
        const auto byte = static_cast<unsigned char>(character);
        if (character == '"' || character == '\\') {
            out += '\\';
            out += character;
        } else if (byte < 0x20 || byte >= 0x7f) {
            out += fmt::format("\\u{:04x}", byte);
        } else {
            out += character;
        }
    }
    out += '"';
    return out;
}

std::string describe_object(std::string_view key, const wire::ObjectInfo& info, bool json) {
    if (json) {
        return fmt::format(R"({{"key":{},"size":{},"version":"{}","digest":"{}"}})",
                           json_string(key),
                           info.object_bytes,
                           format_version(info.version),
                           format_digest(info.digest));
    }
    return fmt::format("{}\t{}\t{}\t{}",
                       key,
                       info.object_bytes,
                       format_version(info.version),
                       format_digest(info.digest));
}

}  // namespace shoal::cli
