// Goal: the rules of STYLE.md that a machine can check hold across the tree: modules include
// only what their DEPENDS list allows, banned APIs stay out of node logic, third-party and OS
// surfaces have one owner, and files are free of leftovers (fix-me markers, tabs, trailing spaces,
// over-long lines, headers without a purpose comment).
//
// Method: read every source file under the repository root, strip comments and string
// literals where a rule is about code, and report every violation as file:line with the rule
// and its replacement. Each matcher is also fed a known-bad and a known-good line, so the
// test can fail.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace shoal::tidy {
namespace {

namespace fs = std::filesystem;

struct SourceFile {
    std::string path;  // Relative to the repository root.
    std::vector<std::string> lines;
};

std::string read_text(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::stringstream text;
    text << stream.rdbuf();
    return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::string line;
    std::istringstream stream(text);
    while (std::getline(stream, line))
        lines.push_back(line);
    return lines;
}

bool is_skipped(const std::string& relative) {
    return relative.starts_with("build") || relative.starts_with(".git/") ||
           relative.find("/corpus/") != std::string::npos;
}

// Every file under the given top-level folders whose name ends with one of `suffixes`.
std::vector<SourceFile> tree_files(const std::vector<std::string>& folders,
                                   const std::vector<std::string>& suffixes) {
    std::vector<SourceFile> files;
    const fs::path root(SHOAL_SOURCE_DIR);
    for (const std::string& folder : folders) {
        if (!fs::exists(root / folder)) continue;
        for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
            if (!entry.is_regular_file()) continue;
            const std::string relative = fs::relative(entry.path(), root).string();
            if (is_skipped(relative)) continue;
            const std::string name = entry.path().filename().string();
            bool wanted = false;
            for (const std::string& suffix : suffixes)
                wanted = wanted || name.ends_with(suffix);
            if (wanted) files.push_back({relative, split_lines(read_text(entry.path()))});
        }
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
        return a.path < b.path;
    });
    return files;
}

// Blanks out // and /* */ comments and the contents of string and character literals, so
// that a rule about code does not fire on prose or log text. Raw strings are blanked too.
std::vector<std::string> code_only(const std::vector<std::string>& lines) {
    std::vector<std::string> result;
    bool in_block_comment = false;
    bool in_raw_string = false;
    for (const std::string& line : lines) {
        std::string code;
        for (size_t index = 0; index < line.size(); index++) {
            const char current = line[index];
            const char next = index + 1 < line.size() ? line[index + 1] : '\0';
            if (in_block_comment) {
                if (current == '*' && next == '/') {
                    in_block_comment = false;
                    index++;
                }
                continue;
            }
            if (in_raw_string) {
                if (current == ')' && next == '"') {
                    in_raw_string = false;
                    code += "\"";
                    index++;
                }
                continue;
            }
            if (current == '/' && next == '/') break;
            if (current == '/' && next == '*') {
                in_block_comment = true;
                index++;
                continue;
            }
            if (current == 'R' && next == '"') {
                in_raw_string = true;
                code += "\"";
                index = line.find('(', index);
                if (index == std::string::npos) break;
                continue;
            }
            if (current == '"' || current == '\'') {
                code += current;
                for (index++; index < line.size() && line[index] != current; index++) {
                    if (line[index] == '\\') index++;
                }
                code += current;
                continue;
            }
            code += current;
        }
        result.push_back(code);
    }
    return result;
}

// The module a path belongs to: src/<m>/..., include/shoal/<m>/..., client/... is "client".
std::string module_of(const std::string& path) {
    static const std::regex kModulePath(R"(^(?:src|include/shoal)/([a-z_]+)/)");
    std::smatch match;
    if (std::regex_search(path, match, kModulePath)) return match[1].str();
    if (path.starts_with("client/")) return "client";
    return "";
}

// DEPENDS lists, read from every shoal_module(...) and shoal_interface_module(...) call.
std::map<std::string, std::set<std::string>> module_dependencies() {
    std::map<std::string, std::set<std::string>> dependencies;
    static const std::regex kModuleCall(R"(shoal_(?:interface_)?module\(\s*([a-z_]+)([^)]*)\))");
    static const std::regex kDependsList(R"(DEPENDS([a-z_\s]*))");
    for (const SourceFile& file : tree_files({"src", "client"}, {"CMakeLists.txt"})) {
        std::string text;
        for (const std::string& line : file.lines)
            text += line + "\n";
        for (std::sregex_iterator call(text.begin(), text.end(), kModuleCall), end; call != end;
             ++call) {
            const std::string name = (*call)[1].str();
            const std::string arguments = (*call)[2].str();
            std::set<std::string>& allowed = dependencies[name];
            std::smatch depends;
            if (!std::regex_search(arguments, depends, kDependsList)) continue;
            std::istringstream words(depends[1].str());
            std::string word;
            // The list ends at the next keyword (THIRD_PARTY, ...), which is upper case.
            while (words >> word)
                allowed.insert(word);
        }
    }
    return dependencies;
}

struct Violation {
    std::string where;
    std::string rule;
};

std::string report(const std::vector<Violation>& violations) {
    std::string text;
    for (const Violation& violation : violations) {
        text += violation.where + ": " + violation.rule + "\n";
    }
    return text;
}

// A banned API: the pattern, its replacement, and the path prefixes allowed to use it.
struct Ban {
    std::regex pattern;
    std::string message;
    std::vector<std::string> allowed_prefixes;
};

const std::vector<Ban>& bans() {
    static const std::vector<Ban> kBans{
            {std::regex(R"(\b(steady_clock|system_clock|high_resolution_clock)::now\b)"
                        R"(|\bclock_gettime\b|[^_a-z.:>]time\s*\(\s*(nullptr|NULL|0)?\s*\))"),
             "wall or monotonic clock outside the runtime: use Runtime::now()",
             {"src/runtime_uv/", "src/app/"}},
            {std::regex(R"(\b(s?rand)\s*\(|\brandom_device\b)"),
             "rand/random_device: use a Prng seeded from Runtime::seed()",
             {}},
            {std::regex(R"((^|[^_A-Za-z])assert\s*\()"), "assert(): use SHOAL_ASSERT", {}},
            {std::regex(R"(\bstd::thread\b|\b(u?sleep|sleep_for|sleep_until)\s*\()"),
             "threads and sleeps: node logic runs on one loop and never blocks",
             {"src/runtime_uv/", "src/app/"}},
            {std::regex(R"(\bthrow\b|\btry\s*\{|\bcatch\s*\()"),
             "exceptions: return a Status",
             {"src/app/"}},
            {std::regex(R"(\bs?printf\s*\(|\bstd::(cout|cerr)\b|\bputs\s*\()"),
             "printing: log through the injected spdlog logger",
             {"src/app/", "src/base/assert.cc", "src/sim/shoal_sim_main.cc"}},
            {std::regex(R"(\bstd::hash\b)"), "std::hash: use the pinned hash64", {}},
            {std::regex(R"(\bspdlog::get\s*\()"), "spdlog::get: inject the logger", {}},
    };
    return kBans;
}

bool allowed_for(const Ban& ban, const std::string& path) {
    for (const std::string& prefix : ban.allowed_prefixes) {
        if (path.starts_with(prefix)) return true;
    }
    return false;
}

// The ban that `code` breaks, if any.
const Ban* broken_ban(const std::string& code) {
    for (const Ban& ban : bans()) {
        if (std::regex_search(code, ban.pattern)) return &ban;
    }
    return nullptr;
}

TEST_CASE("tidy: the matchers catch what they should and nothing else", "[tidy]") {
    REQUIRE(broken_ban("auto now = std::chrono::steady_clock::now();") != nullptr);
    REQUIRE(broken_ban("const int x = rand();") != nullptr);
    REQUIRE(broken_ban("assert(x > 0);") != nullptr);
    REQUIRE(broken_ban("throw std::runtime_error(message);") != nullptr);
    REQUIRE(broken_ban("std::printf(\"%d\", x);") != nullptr);
    REQUIRE(broken_ban("size_t h = std::hash<int>{}(x);") != nullptr);
    REQUIRE(broken_ban("std::this_thread::sleep_for(delay);") != nullptr);
    REQUIRE(broken_ban("SHOAL_ASSERT(x > 0);") == nullptr);
    REQUIRE(broken_ban("static_assert(sizeof(x) == 8);") == nullptr);
    REQUIRE(broken_ban("Instant now = runtime_.now();") == nullptr);
    REQUIRE(broken_ban("uint64_t wall_time(uint64_t x);") == nullptr);
    REQUIRE(broken_ban("log_.info(\"rand printf throw\");") != nullptr);  // Raw: no stripping.
    REQUIRE(code_only({"log_.info(\"rand printf throw\");  // throw"})[0] == "log_.info(\"\");  ");
    REQUIRE(code_only({"/* throw */ x = 1;"})[0] == " x = 1;");
    REQUIRE(module_of("src/node/node.cc") == "node");
    REQUIRE(module_of("include/shoal/wire/frame.h") == "wire");
    REQUIRE(module_of("client/cli/main.cc") == "client");
    REQUIRE(module_of("tests/unit/base/status_test.cc").empty());
}

TEST_CASE("tidy: no module includes a module outside its DEPENDS", "[tidy]") {
    const std::map<std::string, std::set<std::string>> dependencies = module_dependencies();
    REQUIRE(dependencies.contains("base"));
    REQUIRE(dependencies.at("node").contains("storage"));
    static const std::regex kShoalInclude(R"(^\s*#include\s+"shoal/([a-z_]+)/)");
    static const std::regex kPrivateInclude(R"(^\s*#include\s+"([a-z_]+)/[a-z_]+\.h")");
    std::vector<Violation> violations;
    for (const SourceFile& file : tree_files({"src", "include", "client"}, {".h", ".cc"})) {
        const std::string module = module_of(file.path);
        if (module.empty() || !dependencies.contains(module)) continue;
        const std::set<std::string>& allowed = dependencies.at(module);
        for (size_t index = 0; index < file.lines.size(); index++) {
            const std::string& line = file.lines[index];
            std::smatch match;
            const std::string where = file.path + ":" + std::to_string(index + 1);
            if (std::regex_search(line, match, kShoalInclude)) {
                const std::string used = match[1].str();
                if (used != module && !allowed.contains(used)) {
                    violations.push_back(
                            {where, "includes " + used + ", not in " + module + "'s DEPENDS"});
                }
            } else if (std::regex_search(line, match, kPrivateInclude) &&
                       fs::exists(fs::path(SHOAL_SOURCE_DIR) / "src" / match[1].str()) &&
                       match[1].str() != module) {
                violations.push_back({where, "includes a private header of " + match[1].str()});
            }
        }
    }
    INFO(report(violations));
    REQUIRE(violations.empty());
}

TEST_CASE("tidy: banned APIs stay out of node logic", "[tidy]") {
    std::vector<Violation> violations;
    for (const SourceFile& file : tree_files({"src", "include"}, {".h", ".cc"})) {
        const std::vector<std::string> code = code_only(file.lines);
        for (size_t index = 0; index < code.size(); index++) {
            const Ban* ban = broken_ban(code[index]);
            if (ban == nullptr || allowed_for(*ban, file.path)) continue;
            violations.push_back({file.path + ":" + std::to_string(index + 1), ban->message});
        }
    }
    INFO(report(violations));
    REQUIRE(violations.empty());
}

TEST_CASE("tidy: libuv and ISA-L each have one owner", "[tidy]") {
    static const std::regex kUv(R"(#include\s*<uv\.h>)");
    static const std::regex kIsal(R"(#include\s*<isa-l)");
    std::vector<Violation> violations;
    for (const SourceFile& file :
         tree_files({"src", "include", "client", "bench", "tests"}, {".h", ".cc"})) {
        for (size_t index = 0; index < file.lines.size(); index++) {
            const std::string where = file.path + ":" + std::to_string(index + 1);
            if (std::regex_search(file.lines[index], kUv) &&
                !file.path.starts_with("src/runtime_uv/")) {
                violations.push_back({where, "<uv.h> outside src/runtime_uv"});
            }
            if (std::regex_search(file.lines[index], kIsal) &&
                !file.path.starts_with("src/erasure/")) {
                violations.push_back({where, "ISA-L outside src/erasure"});
            }
        }
    }
    INFO(report(violations));
    REQUIRE(violations.empty());
}

TEST_CASE("tidy: no fix-me marker, tab, trailing space or over-long line is left", "[tidy]") {
    std::vector<Violation> violations;
    const std::vector<SourceFile> files =
            tree_files({"src",
                        "include",
                        "client",
                        "tests",
                        "bench",
                        "docs",
                        "scripts",
                        "configs",
                        "cmake",
                        ".ci"},
                       {".h", ".cc", ".cmake", "CMakeLists.txt", ".md", ".sh", ".toml", "run"});
    REQUIRE(files.size() > 50);
    for (const SourceFile& file : files) {
        const bool is_code = file.path.ends_with(".h") || file.path.ends_with(".cc");
        for (size_t index = 0; index < file.lines.size(); index++) {
            const std::string& line = file.lines[index];
            const std::string where = file.path + ":" + std::to_string(index + 1);
            if (line.find("FIX"
                          "ME") != std::string::npos) {
                violations.push_back({where,
                                      "a leftover FIX"
                                      "ME"});
            }
            if (line.find('\t') != std::string::npos && !file.path.ends_with(".md")) {
                violations.push_back({where, "a tab"});
            }
            if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
                violations.push_back({where, "trailing whitespace"});
            }
            if (is_code && line.size() > 100) {
                violations.push_back({where, "over 100 columns"});
            }
        }
    }
    INFO(report(violations));
    REQUIRE(violations.empty());
}

TEST_CASE("tidy: every header opens with its purpose comment", "[tidy]") {
    std::vector<Violation> violations;
    for (const SourceFile& file :
         tree_files({"src", "include", "client", "tests", "bench"}, {".h"})) {
        if (file.lines.empty() || !file.lines[0].starts_with("// ")) {
            violations.push_back({file.path + ":1", "a header must open with a // comment"});
        }
    }
    INFO(report(violations));
    REQUIRE(violations.empty());
}

}  // namespace
}  // namespace shoal::tidy
