#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "resp.hpp"

using kvstore::resp::request_parser;
using args_list = std::vector<std::vector<std::string>>;

namespace {

// Feeds `input` in pieces of `chunk` bytes and collects the commands, up to
// the first error (whose text lands in `error`).
args_list parse_all(const std::string& input, size_t chunk,
                    std::string* error = nullptr,
                    kvstore::resp::limits lim = {}) {
  request_parser parser{lim};
  args_list result;
  std::vector<std::string> args;
  for (size_t i = 0; i < input.size(); i += chunk) {
    parser.append(input.data() + i, std::min(chunk, input.size() - i));
    for (;;) {
      auto st = parser.next(args);
      if (st == request_parser::status::incomplete)
        break;
      if (st == request_parser::status::error) {
        if (error)
          *error = parser.error();
        return result;
      }
      result.push_back(args);
    }
  }
  return result;
}

std::string parse_error(const std::string& input,
                        kvstore::resp::limits lim = {}) {
  std::string error;
  parse_all(input, input.size(), &error, lim);
  return error;
}

} // namespace

TEST_CASE("the parser reads multibulk commands, several per read and split "
          "across reads",
          "[kvstore][resp]") {
  std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n"
                      "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
                      "*1\r\n$4\r\nPING\r\n";
  args_list expected{{"SET", "key", "va\r\nl"}, {"GET", "key"}, {"PING"}};
  SECTION("all at once") {
    CHECK(parse_all(input, input.size()) == expected);
  }
  SECTION("a byte at a time") {
    CHECK(parse_all(input, 1) == expected);
  }
  SECTION("in pieces of every size") {
    for (size_t chunk = 2; chunk < input.size(); ++chunk)
      CHECK(parse_all(input, chunk) == expected);
  }
  SECTION("a half-sent command waits for the rest") {
    request_parser parser;
    std::vector<std::string> args;
    parser.append(input.data(), 20);
    CHECK(parser.next(args) == request_parser::status::incomplete);
    parser.append(input.data() + 20, input.size() - 20);
    CHECK(parser.next(args) == request_parser::status::command);
    CHECK(args == expected[0]);
  }
  SECTION("binary values and empty arguments pass unchanged") {
    std::string bin{"a\0\xff\r\n", 5};
    auto cmds = parse_all("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\n" + bin + "\r\n",
                          3);
    REQUIRE(cmds.size() == 1);
    CHECK(cmds[0] == std::vector<std::string>{"SET", "", bin});
  }
  SECTION("*0 and *-1 are no commands") {
    CHECK(parse_all("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 1)
          == args_list{{"PING"}});
  }
}

TEST_CASE("the parser reads inline commands as Redis does", "[kvstore][resp]") {
  CHECK(parse_all("PING\r\nSET a b\nGET a\r\n", 1)
        == args_list{{"PING"}, {"SET", "a", "b"}, {"GET", "a"}});
  CHECK(parse_all("\r\n\r\n  \r\nPING\r\n", 2) == args_list{{"PING"}});
  CHECK(parse_all("SET k \"a b\\n\\x41\" 'it\\'s'\r\n", 4)
        == args_list{{"SET", "k", "a b\nA", "it's"}});
  CHECK(parse_all("ECHO \"\"\r\n", 100) == args_list{{"ECHO", ""}});
  SECTION("inline and multibulk mix in one stream") {
    CHECK(parse_all("PING\r\n*1\r\n$4\r\nPING\r\nPING\r\n", 3)
          == args_list{{"PING"}, {"PING"}, {"PING"}});
  }
}

TEST_CASE("malformed input is a protocol error, never a crash or an "
          "endless wait",
          "[kvstore][resp]") {
  SECTION("bad multibulk lengths") {
    CHECK(parse_error("*abc\r\n") == "ERR Protocol error: invalid multibulk length");
    CHECK(parse_error("*2x\r\n") == "ERR Protocol error: invalid multibulk length");
    CHECK(parse_error("*99999999999999999999999\r\n")
          == "ERR Protocol error: invalid multibulk length");
    CHECK(parse_error("*2000000\r\n")
          == "ERR Protocol error: invalid multibulk length");
    CHECK(parse_error("*" + std::string(100, '1'))
          == "ERR Protocol error: invalid multibulk length");
  }
  SECTION("bad bulk lengths") {
    CHECK(parse_error("*1\r\n$-1\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(parse_error("*1\r\n$-5\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(parse_error("*1\r\n$x\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(parse_error("*1\r\n$\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(parse_error("*1\r\n$" + std::string(50, '9'))
          == "ERR Protocol error: invalid bulk length");
  }
  SECTION("huge bulk strings are refused before they are buffered") {
    CHECK(parse_error("*1\r\n$999999999999\r\n")
          == "ERR Protocol error: invalid bulk length");
    kvstore::resp::limits lim;
    lim.max_bulk = 10;
    CHECK(parse_error("*1\r\n$11\r\n", lim)
          == "ERR Protocol error: invalid bulk length");
    lim.max_bulk = 100;
    lim.max_request = 110;
    CHECK(parse_error("*3\r\n$3\r\nSET\r\n$100\r\n", lim)
          == "ERR Protocol error: request too large");
  }
  SECTION("junk where a bulk string belongs") {
    CHECK(parse_error("*1\r\nX3\r\n") == "ERR Protocol error: expected '$', got 'X'");
    CHECK(parse_error(std::string{"*1\r\n\x01"})
          == "ERR Protocol error: expected '$', got '\\x01'");
    CHECK(parse_error("*1\r\n$3\r\nabcXY")
          == "ERR Protocol error: expected CRLF after a bulk string");
  }
  SECTION("inline junk") {
    CHECK(parse_error("SET \"abc\r\n") == "ERR Protocol error: unbalanced quotes in request");
    CHECK(parse_error("SET 'a'b\r\n") == "ERR Protocol error: unbalanced quotes in request");
    CHECK(parse_error(std::string(70 * 1024, 'x'))
          == "ERR Protocol error: too big inline request");
    CHECK(parse_error(std::string(70 * 1024, 'x') + "\n")
          == "ERR Protocol error: too big inline request");
  }
  SECTION("binary junk without a line end waits, within bounds") {
    std::string junk{"\x00\xfe\xff\x80 \x01", 6};
    request_parser parser;
    std::vector<std::string> args;
    parser.append(junk.data(), junk.size());
    CHECK(parser.next(args) == request_parser::status::incomplete);
  }
  SECTION("after an error the parser stays in error") {
    request_parser parser;
    std::vector<std::string> args;
    std::string bad = "*x\r\n*1\r\n$4\r\nPING\r\n";
    parser.append(bad.data(), bad.size());
    CHECK(parser.next(args) == request_parser::status::error);
    CHECK(parser.next(args) == request_parser::status::error);
    CHECK(parser.buffered() == 0);
  }
}

TEST_CASE("a partial request holds about what arrived, not what it "
          "declares, and a large one's buffer is given back",
          "[kvstore][resp]") {
  constexpr size_t declared = 16 * 1024 * 1024 - 1;
  request_parser parser;
  std::vector<std::string> args;
  auto feed = [&](const std::string& x) {
    parser.append(x.data(), x.size());
    return parser.next(args);
  };
  CHECK(parser.held() == 0);
  CHECK(feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(declared)
             + "\r\nxx")
        == request_parser::status::incomplete);
  CHECK(parser.partial());
  // A header of 16 MiB and two bytes: no 16 MiB buffer.
  CHECK(parser.held() < 64 * 1024);
  size_t arrived = 2;
  // Reads of uneven sizes, as a socket gives them.
  std::string chunk(64 * 1024, 'x');
  for (size_t i = 0; arrived + chunk.size() < declared; ++i) {
    auto n = i % 2 == 0 ? chunk.size() : 4093;
    REQUIRE(feed(chunk.substr(0, n)) == request_parser::status::incomplete);
    arrived += n;
    // Doubling as bytes arrive, never past the declared end.
    REQUIRE(parser.held() <= 2 * arrived + 64 * 1024);
    REQUIRE(parser.held() <= declared + 1024);
  }
  CHECK(feed(std::string(declared - arrived, 'x') + "\r\n")
        == request_parser::status::command);
  CHECK(args.size() == 3);
  CHECK(args[2].size() == declared);
  CHECK_FALSE(parser.partial());
  CHECK(parser.held() == 0);
  // The next partial request starts in a small buffer again.
  CHECK(feed("*1\r\n$4\r\nPI") == request_parser::status::incomplete);
  CHECK(parser.held() > 0);
  CHECK(parser.held() < 64 * 1024 + 1024);
  CHECK(feed("NG\r\n") == request_parser::status::command);
  CHECK(args == std::vector<std::string>{"PING"});
}

TEST_CASE("replies encode as RESP2", "[kvstore][resp]") {
  using namespace kvstore::resp;
  CHECK(encode(ok()) == "+OK\r\n");
  CHECK(encode(error("ERR bad\r\nthing")) == "-ERR bad  thing\r\n");
  CHECK(encode(integer(-42)) == ":-42\r\n");
  CHECK(encode(bulk(std::string{"a\0b", 3})) == std::string{"$3\r\na\0b\r\n", 9});
  CHECK(encode(null()) == "$-1\r\n");
  CHECK(encode(array({integer(1), bulk("x"), null(), array({})}))
        == "*4\r\n:1\r\n$1\r\nx\r\n$-1\r\n*0\r\n");
}

TEST_CASE("integers parse whole and within int64", "[kvstore][resp]") {
  int64_t x = 0;
  CHECK((kvstore::resp::parse_int("9223372036854775807", x)
         && x == 9223372036854775807));
  CHECK((kvstore::resp::parse_int("-17", x) && x == -17));
  CHECK_FALSE(kvstore::resp::parse_int("9223372036854775808", x));
  CHECK_FALSE(kvstore::resp::parse_int("", x));
  CHECK_FALSE(kvstore::resp::parse_int("-", x));
  CHECK_FALSE(kvstore::resp::parse_int("12a", x));
  CHECK_FALSE(kvstore::resp::parse_int(" 1", x));
}
