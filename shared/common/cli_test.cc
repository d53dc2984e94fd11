#include "shared/common/cli.h"

#include <gtest/gtest.h>

namespace fleetml::cli {
namespace {

Parser example() {
  Parser p;
  p.option("broker", "URI", "broker address", "mqtt://127.0.0.1:1883")
      .required("id", "VID", "vehicle id")
      .repeated("app", "SPEC", "application")
      .flag("json", "machine-readable output")
      .positional("FILE", "input file", false);
  return p;
}

TEST(Parser, ParsesOptionsFlagsAndPositionals) {
  const Args a = example().parse({"--id", "car-1", "--app=a", "--app", "b", "--json", "m.pt"});
  EXPECT_EQ(a.str("id"), "car-1");
  EXPECT_EQ(a.str("broker"), "mqtt://127.0.0.1:1883");
  EXPECT_EQ(a.list("app"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(a.flag("json"));
  ASSERT_EQ(a.positionals().size(), 1u);
  EXPECT_EQ(a.positionals()[0], "m.pt");
  EXPECT_FALSE(a.maybe("missing").has_value());
}

TEST(Parser, RejectsMistakesWithOneLineReasons) {
  EXPECT_THROW(example().parse({}), UsageError);                         // --id missing
  EXPECT_THROW(example().parse({"--id", "x", "--nope"}), UsageError);    // unknown option
  EXPECT_THROW(example().parse({"--id"}), UsageError);                   // no value
  EXPECT_THROW(example().parse({"--id", "x", "a", "b"}), UsageError);    // extra positional
  EXPECT_THROW(example().parse({"--id", "x", "--json=1"}), UsageError);  // flag with value
  try {
    example().parse({"--id", "x", "--nope"});
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "unknown option --nope");
  }
}

TEST(Args, ValidatesNumbers) {
  Parser p;
  p.option("deadline", "MS", "deadline", "100").option("count", "N", "count", "3");
  EXPECT_DOUBLE_EQ(p.parse({}).num("deadline"), 100.0);
  EXPECT_EQ(p.parse({"--count", "7"}).integer("count"), 7);
  EXPECT_THROW(p.parse({"--deadline", "fast"}).num("deadline"), UsageError);
  EXPECT_THROW(p.parse({"--deadline", "nan"}).num("deadline"), UsageError);
  EXPECT_THROW(p.parse({"--count", "2.5"}).integer("count"), UsageError);
  EXPECT_DOUBLE_EQ(p.parse({"--deadline", "0.5"}).num_in("deadline", 0.5, 1000), 0.5);
  try {
    p.parse({"--deadline", "2000"}).num_in("deadline", 0.5, 1000);
    FAIL() << "out of range accepted";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--deadline: expected 0.5 to 1000, got 2000");
  }
}

int run_with(const std::vector<Command>& commands, std::vector<std::string> words) {
  std::vector<char*> argv{const_cast<char*>("prog")};
  for (auto& w : words) argv.push_back(w.data());
  return run_program("prog", "test program", commands, static_cast<int>(argv.size()), argv.data());
}

TEST(RunProgram, DispatchesMultiWordCommandsAndMapsErrorsToExitCodes) {
  std::string seen;
  const std::vector<Command> commands = {
      {"models add", "add", [](Parser& p) { p.positional("FILE", "file"); },
       [&](const Args& a) {
         seen = "add " + a.positionals()[0];
         return 0;
       }},
      {"models list", "list", nullptr,
       [&](const Args&) -> int { throw Error("coordinator unreachable"); }},
  };
  EXPECT_EQ(run_with(commands, {"models", "add", "x.pt"}), 0);
  EXPECT_EQ(seen, "add x.pt");
  EXPECT_EQ(run_with(commands, {"models", "list"}), 1);
  EXPECT_EQ(run_with(commands, {"models", "add"}), 2);  // missing FILE
  EXPECT_EQ(run_with(commands, {"bogus"}), 2);
  EXPECT_EQ(run_with(commands, {"--help"}), 0);
  EXPECT_EQ(run_with(commands, {"models", "add", "--help"}), 0);
}

}  // namespace
}  // namespace fleetml::cli
