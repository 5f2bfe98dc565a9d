// print: the indented tree of a graph. The expected texts are written by hand from the format
// documented in print.hpp: `<op or kind> [id <letters>] '<name>' <type>`, children below their
// parent behind " |- ", an apply expanded once and referred to by its id afterwards.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "symbatch/graph/print.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace graph_print_test {

using namespace symbatch;

namespace {

/// A test op with two outputs: `x + 1` and `2 * x`.
class PlusOneTimesTwo final : public Op {
 public:
  std::string name() const override { return "split"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[0].type(), inputs[0].type()}; }
  void perform(InputValues, OutputValues, Scratch&) const override {}
};

}  // namespace

TEST_CASE("print: a small graph as an indented tree", "[graph][print]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  CHECK(print(add(x, exp(x))) ==
        "add [id A] f64(?,)\n"
        " |- input [id B] 'x' f64(?,)\n"
        " |- exp [id C] f64(?,)\n"
        "     |- input [id B] 'x' f64(?,)\n");
}

TEST_CASE("print: a subgraph used twice is expanded once", "[graph][print]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable e = exp(x);
  const Variable data = shared(Array::from(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{3, 2}), "data");
  const Variable total = sum(mul(data, constant(2.0)), 0);
  total.set_name("total");
  CHECK(print(sub(mul(e, e), sum(total))) ==
        "sub [id A] f64(?,)\n"
        " |- mul [id B] f64(?,)\n"
        "     |- exp [id C] f64(?,)\n"
        "         |- input [id D] 'x' f64(?,)\n"
        "     |- exp [id C] f64(?,)\n"
        " |- sum [id E] f64()\n"
        "     |- sum{axis=0} [id F] 'total' f64(2,)\n"
        "         |- mul [id G] f64(?, 2)\n"
        "             |- shared [id H] 'data' f64(?, 2)\n"
        "             |- constant{2} [id I] f64()\n");
}

TEST_CASE("print: several outputs share one set of ids", "[graph][print]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable w = constant(Array::from({1.0, 2.0}), "w");
  const Variable n = input("n", DType::i64);
  const Variable e = exp(x);
  const Variable roots[] = {add(e, w), mul(n, n), e};
  std::ostringstream out;
  print(roots, out);
  CHECK(out.str() ==
        "add [id A] f64(2,)\n"
        " |- exp [id B] f64(?,)\n"
        "     |- input [id C] 'x' f64(?,)\n"
        " |- constant [id D] 'w' f64(2,)\n"
        "mul [id E] i64()\n"
        " |- input [id F] 'n' i64()\n"
        " |- input [id F] 'n' i64()\n"
        "exp [id B] f64(?,)\n");
}

TEST_CASE("print: outputs of a multi-output apply carry their index and one id", "[graph][print]") {
  const Variable x = input("x", DType::f64, {3});
  const std::vector<Variable> parts = apply(std::make_shared<const PlusOneTimesTwo>(), {x});
  CHECK(print(add(parts[1], parts[0])) ==
        "add [id A] f64(3,)\n"
        " |- split.1 [id B] f64(3,)\n"
        "     |- input [id C] 'x' f64(3,)\n"
        " |- split.0 [id B] f64(3,)\n");
}

TEST_CASE("print: leaves alone and ids past Z", "[graph][print]") {
  CHECK(print(input("x")) == "input [id A] 'x' f64()\n");
  CHECK(print(constant(Array::scalar<std::int64_t>(-3))) == "constant{-3} [id A] i64()\n");
  CHECK(print(constant(0.1)) == "constant{0.1} [id A] f64()\n");
  CHECK(print(shared(Array::scalar(true), "flag")) == "shared [id A] 'flag' bool()\n");
  // 27 applies and one input: ids A..Z, then AA, AB.
  const Variable x = input("x");
  Variable y = x;
  for (int i = 0; i < 27; ++i) y = exp(y);
  const std::string text = print(y);
  CHECK(text.substr(0, 20) == "exp [id A] f64()\n |-");
  const std::string last_line = std::string(4 * 26 + 1, ' ') + "|- input [id AB] 'x' f64()\n";
  REQUIRE(text.size() > last_line.size());
  CHECK(text.substr(text.size() - last_line.size()) == last_line);
  CHECK(text.find("exp [id AA] f64()\n") != std::string::npos);
  CHECK(text.find("exp [id Z] f64()\n") != std::string::npos);
}

TEST_CASE("print: a null variable is an error, and nothing is written", "[graph][print]") {
  CHECK_THROWS_AS(print(Variable{}), std::invalid_argument);
  CHECK_THROWS_WITH(print(Variable{}), "print: output 1/1 is a null variable");
  const std::vector<Variable> outputs{input("x"), Variable{}};
  std::ostringstream out;
  CHECK_THROWS_WITH(print(outputs, out), "print: output 2/2 is a null variable");
  CHECK(out.str().empty());
}

}  // namespace graph_print_test
