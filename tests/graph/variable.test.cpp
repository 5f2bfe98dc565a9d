// Variables: inputs, constants, shared variables and set_value; applies and who owns whom.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/graph/apply.hpp"
#include "symbatch/graph/variable.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace graph_variable_test {

using namespace symbatch;

namespace {

/// A test op with two outputs: `x + 1` and `2 * x`.
class PlusOneTimesTwo final : public Op {
 public:
  std::string name() const override { return "split"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    if (inputs.size() != 1) throw_invalid(name(), "expected 1 input, got ", inputs.size());
    return {inputs[0].type(), inputs[0].type()};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const Array& x = *in[0];
    out[0]->ensure(DType::f64, x.shape());
    out[1]->ensure(DType::f64, x.shape());
    for (std::int64_t i = 0; i < x.size(); ++i) {
      out[0]->data<double>()[i] = x.data<double>()[i] + 1;
      out[1]->data<double>()[i] = 2 * x.data<double>()[i];
    }
  }
};

}  // namespace

// --- inputs and constants --------------------------------------------------------------------

TEST_CASE("variable: an input has the declared type and name and no owner", "[graph][variable]") {
  const Variable x = input("x", DType::f64, {Type::unknown, 3});
  CHECK(x.type() == Type{DType::f64, {Type::unknown, 3}});
  CHECK(x.type().str() == "f64(?, 3)");
  CHECK(x.rank() == 2);
  CHECK(x.dtype() == DType::f64);
  CHECK(x.kind() == VariableKind::input);
  CHECK(x.is_input());
  CHECK_FALSE(x.is_constant());
  CHECK_FALSE(x.is_shared());
  CHECK(x.owner() == nullptr);
  CHECK(x.name() == "x");
  CHECK(x.label() == "x");
  const Variable n = input("n", DType::i64);
  CHECK(n.type().str() == "i64()");
  CHECK(n.type().is_scalar());
  CHECK(input("", DType::boolean, {2}).label() == "input");
}

TEST_CASE("variable: handles compare by identity", "[graph][variable]") {
  const Variable a = input("x");
  const Variable b = input("x");
  const Variable a_again = a;
  CHECK(a == a_again);
  CHECK_FALSE(a == b);
  CHECK(std::hash<Variable>{}(a) == std::hash<Variable>{}(a_again));
  std::unordered_set<Variable> set{a, b, a_again};
  CHECK(set.size() == 2);
  const Variable null;
  CHECK_FALSE(static_cast<bool>(null));
  CHECK(null.label() == "<null>");
  // The name is display metadata, shared by every handle.
  a.set_name("renamed");
  CHECK(a_again.name() == "renamed");
}

TEST_CASE("variable: a constant has the exact type of its value", "[graph][variable]") {
  const Variable c = constant(Array::from(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3}), "c");
  CHECK(c.type() == Type{DType::i64, {2, 3}});
  CHECK(c.type().is_static());
  CHECK(c.is_constant());
  CHECK(c.owner() == nullptr);
  CHECK(c.constant_value().at<std::int64_t>(1, 2) == 6);
  const Variable scalar = constant(2.5);
  CHECK(scalar.type() == Type{DType::f64, {}});
  CHECK(scalar.constant_value().item() == 2.5);
  CHECK(scalar.label() == "constant");
  CHECK_THROWS_WITH(input("x").constant_value(), "constant_value: variable 'x' is not a constant");
}

// --- shared variables ------------------------------------------------------------------------

TEST_CASE("variable: a shared variable's leading dimension is unknown", "[graph][variable][shared]") {
  const Variable s = shared(Array::zeros(DType::f64, Shape{4, 3}), "data");
  CHECK(s.is_shared());
  CHECK(s.type() == Type{DType::f64, {Type::unknown, 3}});
  CHECK(get_value(s).shape() == Shape{4, 3});
  const Variable scalar = shared(Array::scalar<std::int64_t>(7), "count");
  CHECK(scalar.type() == Type{DType::i64, {}});
  CHECK(get_value(scalar).item<std::int64_t>() == 7);
  CHECK(shared(Array::from({1.0}), "").label() == "shared");
}

TEST_CASE("variable: set_value replaces the value and get_value reads it", "[graph][variable][shared]") {
  const Variable s = shared(Array::from(std::vector<double>{1, 2, 3, 4}, Shape{2, 2}), "s");
  set_value(s, Array::from(std::vector<double>{5, 6}, Shape{1, 2}));  // another leading dimension
  CHECK(get_value(s).shape() == Shape{1, 2});
  CHECK(get_value(s).to_vector() == std::vector<double>{5, 6});
  set_value(s, Array::zeros(DType::f64, Shape{0, 2}));
  CHECK(get_value(s).shape() == Shape{0, 2});
  // The type does not change.
  CHECK(s.type().str() == "f64(?, 2)");
}

TEST_CASE("variable: set_value rejects another dtype, rank or trailing dimension", "[graph][variable][shared]") {
  const Variable s = shared(Array::zeros(DType::f64, Shape{4, 3}), "s");
  CHECK_THROWS_WITH(set_value(s, Array::zeros(DType::i64, Shape{4, 3})), "set_value: 's' expects f64(?, 3), got i64(4, 3)");
  CHECK_THROWS_WITH(set_value(s, Array::zeros(DType::f64, Shape{12})), "set_value: 's' expects f64(?, 3), got f64(12,)");
  CHECK_THROWS_WITH(set_value(s, Array::zeros(DType::f64, Shape{4, 2})), "set_value: 's' expects f64(?, 3), got f64(4, 2)");
  CHECK_THROWS_AS(set_value(s, Array::zeros(DType::f64, Shape{4, 3, 1})), std::invalid_argument);
  // A failed set_value leaves the old value in place.
  CHECK(get_value(s).shape() == Shape{4, 3});
  const Variable scalar = shared(Array::scalar(1.0), "t");
  CHECK_THROWS_WITH(set_value(scalar, Array::from({1.0})), "set_value: 't' expects f64(), got f64(1,)");
}

TEST_CASE("variable: an Array without a buffer is refused as a constant, shared or set_value", "[graph][variable][shared]") {
  // A default Array claims one f64 element but has no memory behind it.
  CHECK_THROWS_WITH(constant(Array()), "constant: the value is an Array without a buffer");
  CHECK_THROWS_WITH(constant(Array(), "c"), "constant: the value of 'c' is an Array without a buffer");
  CHECK_THROWS_AS(constant(Array()), std::invalid_argument);
  CHECK_THROWS_WITH(shared(Array(), "w"), "shared: the value of 'w' is an Array without a buffer");
  const Variable w = shared(Array::scalar(1.0), "w");
  CHECK_THROWS_WITH(set_value(w, Array()), "set_value: the value of 'w' is an Array without a buffer");
  CHECK(get_value(w).item() == 1.0);
  // An empty array with a buffer is fine.
  CHECK_NOTHROW(constant(Array::zeros(DType::f64, Shape{0})));
}

TEST_CASE("variable: set_value and get_value need a shared variable", "[graph][variable][shared]") {
  const Variable x = input("x");
  CHECK_THROWS_WITH(set_value(x, Array::scalar(1.0)), "set_value: variable 'x' is not shared");
  CHECK_THROWS_WITH(get_value(x), "get_value: variable 'x' is not shared");
  CHECK_THROWS_WITH(get_value(constant(1.0)), "get_value: variable '' is not shared");
  CHECK_THROWS_WITH(get_value(Variable{}), "get_value: variable '' is not shared");
}

TEST_CASE("variable: a compiled function sees a new shared value without rebuilding", "[graph][variable][shared]") {
  const Variable s = shared(Array::from(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{3, 2}), "s");
  const Variable w = input("w", DType::f64, {2});
  Function f = compile({w}, {sum(mul(s, w)), s});
  const Array weights = Array::from({1.0, 10.0});
  CHECK(f({weights})[0].item() == 1 + 20 + 3 + 40 + 5 + 60);

  // A longer array: the same function, no recompilation.
  set_value(s, Array::from(std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}, Shape{5, 2}));
  const auto& longer = f({weights});
  CHECK(longer[0].item() == 11.0 * (1 + 2 + 3 + 4 + 5));
  CHECK(longer[1].shape() == Shape{5, 2});
  // A shorter one.
  set_value(s, Array::from(std::vector<double>{7, 8}, Shape{1, 2}));
  CHECK(f({weights})[0].item() == 87.0);
  // An empty one.
  set_value(s, Array::zeros(DType::f64, Shape{0, 2}));
  CHECK(f({weights})[0].item() == 0.0);
}

// --- applies -----------------------------------------------------------------------------------

TEST_CASE("apply: outputs know their owner and index, and the apply its inputs", "[graph][apply]") {
  const Variable x = input("x", DType::f64, {3});
  const std::vector<Variable> outputs = apply(std::make_shared<const PlusOneTimesTwo>(), {x});
  REQUIRE(outputs.size() == 2);
  CHECK(outputs[0].owner() == outputs[1].owner());
  CHECK(outputs[0].kind() == VariableKind::output);
  CHECK(outputs[0].index() == 0);
  CHECK(outputs[1].index() == 1);
  CHECK(outputs[1].type() == x.type());
  ApplyNode* node = outputs[0].owner();
  CHECK(node->op().name() == "split");
  CHECK(node->inputs() == std::vector<Variable>{x});
  CHECK(node->num_outputs() == 2);
  CHECK(node->output(1) == outputs[1]);  // the same variable, not a copy
  CHECK(outputs[1].label() == "split.1");
  CHECK(add(x, x).label() == "add");
}

TEST_CASE("apply: a handle to one output keeps the whole apply alive", "[graph][apply]") {
  std::weak_ptr<ApplyNode> watch;
  Variable second;
  {
    Variable x = shared(Array::from({1.0, 2.0}), "x");
    std::shared_ptr<ApplyNode> node = ApplyNode::make(std::make_shared<const PlusOneTimesTwo>(), {x});
    watch = node;
    second = node->output(1);
  }  // the apply pointer, the first output and the input handle are gone
  REQUIRE_FALSE(watch.expired());
  ApplyNode* owner = second.owner();
  CHECK(owner->output(0).index() == 0);
  CHECK(owner->input(0).name() == "x");  // the input lives as long as the apply
  Function f = compile({}, {owner->output(0)});
  CHECK(f()[0].to_vector() == std::vector<double>{2, 3});
  second = Variable{};
  CHECK_FALSE(watch.expired());  // the function holds its schedule
  f = compile({}, {constant(1.0)});
  CHECK(watch.expired());
}

TEST_CASE("apply: a null input is rejected with its position", "[graph][apply]") {
  CHECK_THROWS_WITH(ApplyNode::make(std::make_shared<const PlusOneTimesTwo>(), {Variable{}}), "split: input 1/1 is a null variable");
}

TEST_CASE("apply: an op without a gradient rule reports every input as undefined", "[graph][apply]") {
  const Variable x = input("x", DType::f64, {2});
  const Variable y = apply(std::make_shared<const PlusOneTimesTwo>(), {x})[0];
  const std::vector<InputGrad> grads = y.owner()->op().grad(*y.owner(), std::vector<Variable>{constant(1.0), Variable{}});
  REQUIRE(grads.size() == 1);
  CHECK(grads[0].kind == GradKind::undefined);
  CHECK(grads[0].reason == "split has no gradient");
}

}  // namespace graph_variable_test
