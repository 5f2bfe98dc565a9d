// walk and the graph queries on it: ancestors, toposort, graph_inputs, depends_on, replace and
// clone. Orders are checked by their defining properties, not against one particular order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace graph_walk_test {

using namespace symbatch;

namespace {

/// Position of each variable in `order`; fails the test when one appears twice.
std::unordered_map<const VariableNode*, std::size_t> positions(const std::vector<Variable>& order) {
  std::unordered_map<const VariableNode*, std::size_t> where;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const bool fresh = where.emplace(order[i].get(), i).second;
    CHECK(fresh);
  }
  return where;
}

bool contains(const std::vector<Variable>& variables, const Variable& variable) {
  return std::find(variables.begin(), variables.end(), variable) != variables.end();
}

/// A diamond: `a = exp(x)` feeds `b = a * y` and `c = a + b`; the constant 2 scales the result.
struct Diamond {
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  Variable two = constant(2.0);
  Variable a = exp(x);
  Variable b = mul(a, y);
  Variable c = add(a, b);
  Variable d = mul(c, two);
};

}  // namespace

// --- walk, ancestors, toposort ---------------------------------------------------------------

TEST_CASE("walk: visits each reachable variable once, children before parents", "[graph][walk]") {
  const Diamond g;
  const Variable roots[] = {g.d};
  const std::vector<Variable> order = walk(roots, [](const Variable& v) {
    return v.owner() ? v.owner()->inputs() : std::vector<Variable>{};
  });
  CHECK(order.size() == 7);  // x y two a b c d
  const auto where = positions(order);
  for (const Variable& v : order)
    if (v.owner())
      for (const Variable& input : v.owner()->inputs()) CHECK(where.at(input.get()) < where.at(v.get()));
  CHECK(order.back() == g.d);
}

TEST_CASE("walk: the expand function decides what is visited", "[graph][walk]") {
  const Diamond g;
  const Variable roots[] = {g.c, g.b, g.c};
  // Expanding nothing yields the distinct roots in order.
  const std::vector<Variable> none = walk(roots, [](const Variable&) { return std::vector<Variable>{}; });
  CHECK(none == std::vector<Variable>{g.c, g.b});
  // Expanding only the first input of each apply follows one path.
  const Variable root[] = {g.c};
  const std::vector<Variable> first = walk(root, [](const Variable& v) {
    return v.owner() ? std::vector<Variable>{v.owner()->input(0)} : std::vector<Variable>{};
  });
  CHECK(first == std::vector<Variable>{g.x, g.a, g.c});
}

TEST_CASE("ancestors: every variable the roots depend on, inputs first", "[graph][walk]") {
  const Diamond g;
  const std::vector<Variable> all = ancestors({g.d});
  CHECK(all.size() == 7);
  for (const Variable& v : {g.x, g.y, g.two, g.a, g.b, g.c, g.d}) CHECK(contains(all, v));
  const std::vector<Variable> part = ancestors({g.b});
  CHECK(part.size() == 4);  // x a y b
  CHECK_FALSE(contains(part, g.c));
  CHECK(part.back() == g.b);
  // Several roots share their common ancestors.
  const std::vector<Variable> both = ancestors({g.b, g.c});
  CHECK(both.size() == 5);
  positions(both);
}

TEST_CASE("ancestors: the walk stops at blockers, which are included", "[graph][walk]") {
  const Diamond g;
  const Variable roots[] = {g.d};
  const Variable blockers[] = {g.c};
  const std::vector<Variable> stopped = ancestors(roots, blockers);
  CHECK(stopped.size() == 3);  // c two d
  CHECK(contains(stopped, g.c));
  CHECK_FALSE(contains(stopped, g.a));
  const Variable block_a[] = {g.a};
  const std::vector<Variable> around = ancestors(roots, block_a);
  CHECK(contains(around, g.y));
  CHECK(contains(around, g.a));
  CHECK_FALSE(contains(around, g.x));
}

TEST_CASE("toposort: each apply once, after the applies computing its inputs", "[graph][walk]") {
  const Diamond g;
  const Variable roots[] = {g.d, g.b};
  const std::vector<ApplyNode*> order = toposort(roots);
  CHECK(order.size() == 4);  // exp mul add mul
  std::unordered_map<const ApplyNode*, std::size_t> where;
  for (std::size_t i = 0; i < order.size(); ++i) CHECK(where.emplace(order[i], i).second);
  for (ApplyNode* node : order)
    for (const Variable& input : node->inputs())
      if (input.owner()) CHECK(where.at(input.owner()) < where.at(node));
  CHECK(order.front() == g.a.owner());
  CHECK(order.back() == g.d.owner());
  const Variable leaf[] = {g.x};
  CHECK(toposort(leaf).empty());
}

TEST_CASE("graph_inputs: the variables without owner, each once", "[graph][walk]") {
  const Diamond g;
  const Variable s = shared(Array::from({1.0}), "s");
  const Variable e = add(g.d, s);
  const Variable roots[] = {e, g.c};
  const std::vector<Variable> found = graph_inputs(roots);
  CHECK(found.size() == 4);
  for (const Variable& v : {g.x, g.y, g.two, s}) CHECK(contains(found, v));
  const Variable just_x[] = {g.x};
  CHECK(graph_inputs(just_x) == std::vector<Variable>{g.x});
}

TEST_CASE("depends_on: true for the variable itself and its ancestors only", "[graph][walk]") {
  const Diamond g;
  CHECK(depends_on(g.d, g.x));
  CHECK(depends_on(g.d, g.two));
  CHECK(depends_on(g.c, g.a));
  CHECK(depends_on(g.a, g.a));
  CHECK_FALSE(depends_on(g.a, g.y));
  CHECK_FALSE(depends_on(g.b, g.c));
  CHECK_FALSE(depends_on(g.x, g.a));
}

TEST_CASE("walk: a chain of 100,000 applies is walked, sorted and freed without recursion", "[graph][walk]") {
  const Variable x = input("x", DType::f64, {2});
  Variable y = x;
  for (int i = 0; i < 100'000; ++i) y = add(y, x);
  const Variable roots[] = {y};
  CHECK(ancestors(roots).size() == 100'001);
  CHECK(toposort(roots).size() == 100'000);
  CHECK(graph_inputs(roots) == std::vector<Variable>{x});
  CHECK(depends_on(y, x));
  y = Variable{};  // dropping the last handle frees the whole chain
  SUCCEED("freed");
}

// --- replace and clone -----------------------------------------------------------------------

TEST_CASE("replace: substitutes variables and shares the subgraphs that do not change", "[graph][walk][replace]") {
  const Diamond g;
  const Variable z = input("z", DType::f64, {Type::unknown});
  const Variable e = add(g.d, exp(g.y));  // exp(y) does not depend on x
  const Variable replaced = replace(e, {{g.x, z}});
  CHECK_FALSE(replaced == e);
  CHECK(depends_on(replaced, z));
  CHECK_FALSE(depends_on(replaced, g.x));
  CHECK(depends_on(replaced, g.y));
  // exp(y) is the same variable in both graphs; everything above x is new.
  const Variable old_exp_y = e.owner()->input(1);
  CHECK(replaced.owner()->input(1) == old_exp_y);
  const std::vector<Variable> new_nodes = ancestors({replaced});
  for (const Variable& v : {g.a, g.b, g.c, g.d}) CHECK_FALSE(contains(new_nodes, v));
  CHECK(contains(new_nodes, g.two));
  // The original graph is untouched.
  CHECK(depends_on(e, g.x));
  CHECK_FALSE(depends_on(e, z));
  // Values: e = 2 (exp x + exp x * y) + exp y, evaluated at the replacement.
  Function f = compile({z, g.y}, {replaced});
  const auto& result = f({Array::from({0.0, 1.0}), Array::from({1.0, 2.0})});
  CHECK(result[0].at(0) == Approx(2 * (1 + 1) + std::exp(1.0)));
  CHECK(result[0].at(1) == Approx(2 * (std::exp(1.0) + 2 * std::exp(1.0)) + std::exp(2.0)));
}

TEST_CASE("replace: a graph that does not depend on the replaced variable is returned as is", "[graph][walk][replace]") {
  const Diamond g;
  const Variable other = input("other", DType::f64, {Type::unknown});
  CHECK(replace(g.b, {{other, g.x}}) == g.b);
  // Replacing an intermediate variable keeps what is below it.
  const Variable w = input("w", DType::f64, {Type::unknown});
  const Variable swapped = replace(g.d, {{g.c, w}});
  CHECK(swapped.owner()->input(0) == w);
  CHECK(swapped.owner()->input(1) == g.two);
  CHECK(ancestors({swapped}).size() == 3);
}

TEST_CASE("replace: types are inferred afresh from the replacements", "[graph][walk][replace]") {
  const Variable x = input("x", DType::f64, {Type::unknown, 3});
  const Variable y = exp(add(x, constant(1.0)));
  CHECK(y.type().str() == "f64(?, 3)");
  const Variable fixed = input("fixed", DType::f64, {5, 3});
  const Variable z = replace(y, {{x, fixed}});
  CHECK(z.type().str() == "f64(5, 3)");
  CHECK(z.owner()->input(0).type().str() == "f64(5, 3)");
  // A replacement whose shape does not fit an op is reported by that op.
  const Variable v = input("v", DType::f64, {4});
  const Variable u = add(input("u", DType::f64, {4}), v);
  CHECK_THROWS_WITH(replace(u, {{v, input("w", DType::f64, {3})}}),
                    "add: input 2/2 has shape (3,), which does not broadcast with (4,)");
}

TEST_CASE("replace: several replacements at once, names kept", "[graph][walk][replace]") {
  const Diamond g;
  g.c.set_name("c");
  const Variable p = input("p", DType::f64, {Type::unknown});
  const Variable q = input("q", DType::f64, {Type::unknown});
  const Variable roots[] = {g.d, g.b};
  const std::vector<Variable> out = replace(roots, {{g.x, p}, {g.y, q}});
  REQUIRE(out.size() == 2);
  const std::vector<Variable> inputs = graph_inputs(out);
  CHECK(inputs.size() == 3);  // p q two
  CHECK(contains(inputs, p));
  CHECK(contains(inputs, q));
  CHECK(out[0].owner()->input(0).name() == "c");
  // b is shared by both new roots, as it was in the old graph.
  CHECK(ancestors({out[0]}).size() == 7);
  CHECK(contains(ancestors({out[0]}), out[1]));
}

TEST_CASE("replace: a replacement may be built from the variable it replaces", "[graph][walk][replace]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  const Variable y = mul(x, constant(3.0));
  const Variable z = replace(y, {{x, exp(x)}});  // z = 3 exp(x), not an endless substitution
  CHECK(ancestors({z}).size() == 4);
  Function f = compile({x}, {z});
  CHECK(f({Array::from({0.0})})[0].item() == 3.0);
}

TEST_CASE("replace: dtype or rank changes are rejected", "[graph][walk][replace]") {
  const Diamond g;
  CHECK_THROWS_WITH(replace(g.d, {{g.x, input("n", DType::i64, {Type::unknown})}}),
                    "replace: cannot replace 'x' of type f64(?,) by 'n' of type i64(?,)");
  CHECK_THROWS_WITH(replace(g.d, {{g.a, input("m", DType::f64, {2, 2})}}),
                    "replace: cannot replace 'exp' of type f64(?,) by 'm' of type f64(2, 2)");
}

TEST_CASE("clone: new applies throughout, the same graph inputs", "[graph][walk][clone]") {
  const Diamond g;
  const Variable s = shared(Array::from({3.0}), "s");
  const Variable e = add(g.d, s);
  e.set_name("e");
  const Variable roots[] = {e, g.b};
  const std::vector<Variable> copies = clone(roots);
  REQUIRE(copies.size() == 2);
  const std::vector<Variable> old_nodes = ancestors(roots);
  const std::vector<Variable> new_nodes = ancestors(copies);
  CHECK(new_nodes.size() == old_nodes.size());
  std::unordered_set<const ApplyNode*> old_applies;
  for (const Variable& v : old_nodes)
    if (v.owner()) old_applies.insert(v.owner());
  for (const Variable& v : new_nodes)
    if (v.owner()) CHECK_FALSE(old_applies.count(v.owner()));
  const std::vector<Variable> old_inputs = graph_inputs(roots);
  const std::vector<Variable> new_inputs = graph_inputs(copies);
  CHECK(std::unordered_set<Variable>(old_inputs.begin(), old_inputs.end()) ==
        std::unordered_set<Variable>(new_inputs.begin(), new_inputs.end()));
  CHECK(copies[0].name() == "e");
  CHECK(copies[0].type() == e.type());
  CHECK(contains(new_nodes, copies[1]));  // the clone of b is shared as it was

  Function original = compile({g.x, g.y}, {e});
  Function copy = compile({g.x, g.y}, {copies[0]});
  const Array x = Array::from({0.5, -1.0}), y = Array::from({2.0, 3.0});
  CHECK(original({x, y})[0].to_vector() == copy({x, y})[0].to_vector());
}

TEST_CASE("replace: a null variable on either side is an error naming the replacement", "[graph][walk][errors]") {
  const Variable x = input("x"), y = input("y");
  const Variable z = x * 2.0;
  CHECK_THROWS_WITH(replace(z, {{Variable{}, y}}), "replace: replacement 1/1 has a null variable to replace");
  CHECK_THROWS_WITH(replace(z, {{x, y}, {y, Variable{}}}), "replace: replacement 2/2 has a null replacement");
}

}  // namespace graph_walk_test
