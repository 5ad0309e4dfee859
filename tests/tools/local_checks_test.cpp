// The checks the tools run before any connection (tools/common/local_checks.hpp), in-process: every
// token and pin-list mistake gets its own code and a message that never contains the token.
#include "../../tools/common/local_checks.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>
#include <support.hpp>

namespace tools = cyxp2p::tools;
using tools::Exit;
using tools::InputError;
using tools::TokenSource;

namespace {

// A syntactically valid compact JWS (RFC 7515 7.1); its signature is not checked here.
const std::string kJwt =
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImNzIiwidHlwIjoiSldUIn0."
    "eyJzdWIiOiJ1c2VyLTEiLCJub2RlX2lkIjoibm9kZS1hIn0."
    "c2lnbmF0dXJlLWJ5dGVzLXRoYXQtYXJlLW5vdC1jaGVja2VkLWhlcmU";

std::optional<std::string> inline_token(const std::string& s, InputError& e) {
    return tools::read_token("TOKEN", s, TokenSource::inline_or_stdin, e);
}

TEST(TokenInput, SurroundingWhitespaceIsTrimmedAndAValidTokenPasses) {
    InputError e;
    auto t = inline_token("  \n" + kJwt + "\r\n\t", e);
    ASSERT_TRUE(t) << e.message;
    EXPECT_EQ(*t, kJwt);
}

TEST(TokenInput, EmptyWhitespaceOversizedAndMalformedEachHaveTheirCode) {
    struct Case {
        std::string input, code;
    };
    const std::vector<Case> cases = {
        {"", "empty_token"},
        {" \n\t\r\n", "empty_token"},
        {std::string(16 * 1024 + 1, 'a'), "token_too_large"},
        {"abc.def", "malformed"},                                   // two segments
        {"a.b.c.d", "malformed"},                                   // four
        {"abc..def", "malformed"},                                  // an empty segment
        {kJwt + ".", "malformed"},                                  // a trailing empty segment
        {"\"" + kJwt + "\"", "malformed"},                          // quoted
        {"Bearer " + kJwt, "malformed"},                            // the Authorization header, pasted whole
        {kJwt.substr(0, 60) + " " + kJwt.substr(60), "malformed"},  // a line break inside, joined by a space
        {"eyJ+/=.eyJ+/=.sig+/=", "malformed"},                      // base64, not base64url
    };
    for (const auto& c : cases) {
        InputError e;
        EXPECT_FALSE(inline_token(c.input, e)) << c.code;
        EXPECT_EQ(e.exit, Exit::bad_input) << c.code;
        EXPECT_EQ(e.code, c.code) << c.input.substr(0, 40);
        EXPECT_FALSE(e.message.empty());
    }
}

TEST(TokenInput, AJwtGivenAsAFileNameIsRecognisedAndNotEchoed) {
    InputError e;
    EXPECT_FALSE(tools::read_token("--token", kJwt, TokenSource::file_or_stdin, e));
    EXPECT_EQ(e.exit, Exit::usage);
    EXPECT_EQ(e.code, "token_not_a_file");
    EXPECT_NE(e.message.find("--token takes a file or -"), std::string::npos) << e.message;
    for (std::size_t i = 0; i + 12 <= kJwt.size(); i += 6)
        EXPECT_EQ(e.message.find(kJwt.substr(i, 12)), std::string::npos) << e.message;
}

TEST(TokenInput, FileProblemsAreIoErrorsNamingTheFile) {
    cyxp2p::test::TempDir tmp;
    InputError e;
    EXPECT_FALSE(tools::read_token("--token", (tmp / "missing").string(), TokenSource::file_or_stdin, e));
    EXPECT_EQ(e.exit, Exit::io);
    EXPECT_NE(e.message.find("missing"), std::string::npos);
    EXPECT_FALSE(tools::read_token("--token", tmp.path().string(), TokenSource::file_or_stdin, e));
    EXPECT_EQ(e.exit, Exit::io);
    EXPECT_NE(e.message.find("is a directory"), std::string::npos) << e.message;
    cyxp2p::test::write_file(tmp / "big", std::string(1 << 20, 'A'));  // read is bounded, then refused
    EXPECT_FALSE(tools::read_token("--token", (tmp / "big").string(), TokenSource::file_or_stdin, e));
    EXPECT_EQ(e.code, "token_too_large");
    cyxp2p::test::write_file(tmp / "tok", kJwt + "\n");
    auto t = tools::read_token("--token", (tmp / "tok").string(), TokenSource::file_or_stdin, e);
    ASSERT_TRUE(t) << e.message;
    EXPECT_EQ(*t, kJwt);
}

const std::string kPinA = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const std::string kPinB = "sha256//gnml3PvGcNdr87Pd3i1tIDMkZqTc43JBnrf90+BQJkg=";

TEST(PinInput, SpacesAroundSemicolonsAreAccepted) {
    InputError e;
    auto set = tools::parse_pin_list("--pin", " " + kPinA + " ;  " + kPinB + "\t", e);
    ASSERT_TRUE(set) << e.message;
    EXPECT_EQ(set->to_string(), kPinA + ";" + kPinB);
}

TEST(PinInput, EachMistakeSaysWhatIsWrongAndWhatAPinLooksLike) {
    struct Case {
        std::string list, code, says;
    };
    const std::vector<Case> cases = {
        {"", "empty_pin_list", "empty"},
        {kPinA + ";;" + kPinB, "empty_entry", "entry 2 is empty"},
        {kPinA.substr(0, kPinA.size() - 1), "bad_base64", "trailing '=' missing"},
        {kPinA.substr(8), "wrong_prefix", "no 'sha256//' in front"},
        {"sha1//" + kPinA.substr(8), "wrong_prefix", "does not start with 'sha256//'"},
        {"sha256//47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", "bad_base64", "base64url"},
        {"sha256//AAAA", "wrong_digest_length", "has 4 characters"},
        {kPinA + ";sha256//!!!!", "bad_base64", "entry 2"},
    };
    for (const auto& c : cases) {
        InputError e;
        EXPECT_FALSE(tools::parse_pin_list("--pin", c.list, e)) << c.list;
        EXPECT_EQ(e.exit, Exit::bad_input);
        EXPECT_EQ(e.code, c.code) << c.list << ": " << e.message;
        EXPECT_NE(e.message.find(c.says), std::string::npos) << c.list << ": " << e.message;
        EXPECT_EQ(e.message.rfind("--pin: ", 0), 0U) << e.message;
    }
}

TEST(OutputPath, DirectoryMissingParentAndExistingFileAreRefusedBeforeAnyWork) {
    cyxp2p::test::TempDir tmp;
    auto e = tools::check_output_path(tmp.path(), false);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->exit, Exit::io);
    EXPECT_EQ(e->code, "output_is_directory");
    e = tools::check_output_path(tmp / "nodir" / "x.bin", false);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, "output_dir_missing");
    EXPECT_NE(e->message.find("mkdir -p"), std::string::npos);
    cyxp2p::test::write_file(tmp / "exists", "x");
    e = tools::check_output_path(tmp / "exists", false);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, "output_exists");
    EXPECT_NE(e->message.find("--force"), std::string::npos);
    EXPECT_FALSE(tools::check_output_path(tmp / "exists", true));
    EXPECT_FALSE(tools::check_output_path(tmp / "new.bin", false));
    EXPECT_EQ(tools::check_output_path("", false)->exit, Exit::usage);
}

// Random bytes (deterministic seed) into both parsers: no crash, a classified error, and never a message
// that repeats the input when the input could be a token.
TEST(LocalChecksFuzz, RandomTokensAndPinListsAreClassifiedNeverEchoed) {
    std::mt19937 rng(15);
    const std::string alphabet = "eyJ.-_=+/ ;\t\nsha256//AZaz09\"'\x01\xff";
    for (int i = 0; i < 20000; ++i) {
        std::string s(rng() % 96, '\0');
        const bool structured = i % 2 == 0;  // half near-misses built from the interesting characters
        for (auto& c : s) c = structured ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
        if (i % 5 == 0) s = "eyJ" + s;
        InputError e;
        auto t = inline_token(s, e);
        if (t) {
            EXPECT_FALSE(t->empty());
            EXPECT_EQ(std::count(t->begin(), t->end(), '.'), 2);
        } else {
            EXPECT_TRUE(e.exit == Exit::bad_input) << static_cast<int>(e.exit);
            if (s.size() >= 8) {
                EXPECT_EQ(e.message.find(s), std::string::npos) << e.message;
            }
        }
        InputError pe;
        auto pins = tools::parse_pin_list("--pin", s, pe);
        if (!pins) {
            EXPECT_EQ(pe.exit, Exit::bad_input);
            EXPECT_FALSE(pe.code.empty());
        } else {
            EXPECT_FALSE(pins->pins().empty());
        }
    }
}

}  // namespace
