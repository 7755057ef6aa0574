// The shoal CLI's exit codes, documented in `shoal --help` and README.md. Scripts rely on
// them: never renumber.
#pragma once

namespace shoal::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;       // Unexpected: a bug in the CLI.
inline constexpr int kExitUsage = 2;          // Bad flags or an invalid key.
inline constexpr int kExitNotFound = 3;       // No such object.
inline constexpr int kExitCannotConnect = 4;  // Cannot connect, or the connection was lost.
inline constexpr int kExitNodeError = 5;      // The node reported an error.
inline constexpr int kExitLocalFile = 6;      // A local file could not be read or written.

inline constexpr const char* kExitCodesHelp =
        "Exit codes: 0 ok, 1 internal error, 2 usage error, 3 not found, 4 cannot connect or\n"
        "connection lost, 5 error reported by the node (no space, invalid request, corruption),\n"
        "6 local file error.";

}  // namespace shoal::cli
