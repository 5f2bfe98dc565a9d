// The thread-safety contract of compiled functions (see `Function`): one function is used by one
// thread at a time, and a concurrent call throws; distinct functions that share no mutable
// shared variable may run at once, and `own_rng_states` makes two functions over one minibatch
// graph such a pair. Part of the suite, and also a program of its own (symbatch_thread_test), so
// that scripts/test.sh can build and run just these tests under ThreadSanitizer.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/random/draws.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace threads_threads_test {

using namespace symbatch;

namespace {

/// Every output of `calls` calls, flattened in order.
std::vector<double> run(Function& f, int calls) {
  std::vector<double> values;
  for (int call = 0; call < calls; ++call)
    for (const Array& result : f())
      for (const double value : result.to_vector()) values.push_back(value);
  return values;
}

/// The identity, which signals when a call has entered it and waits for a go-ahead: it holds one
/// call inside the function for as long as the test needs.
class HoldOp final : public Op {
 public:
  HoldOp(std::atomic<bool>& entered, std::atomic<bool>& release) : entered_(entered), release_(release) {}
  std::string name() const override { return "hold"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override { return {inputs[0].type()}; }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    entered_.store(true);
    while (!release_.load()) std::this_thread::yield();
    *out[0] = in[0]->copy();
  }

 private:
  std::atomic<bool>& entered_;
  std::atomic<bool>& release_;
};

}  // namespace

TEST_CASE("threads: two functions with their own RNG states over one minibatch graph run on two threads as they do in turn",
          "[threads][own]") {
  const std::int64_t rows = 200;
  std::vector<double> x(rows * 2), y(rows);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(i % 7);
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::epoch_reshuffle}) {
    INFO("scheme " << static_cast<int>(scheme));
    const auto batch = minibatch(16, {shared(Array::from(x, Shape{rows, 2}), "X"), shared(Array::from(y), "y")}, {.scheme = scheme});
    const Variable noise = random::normal(random::rng("noise"), 0.0, 1.0, {3}).value;
    const std::vector<Variable> outputs{sum(batch[0], 0), sum(batch[1]), noise};
    // Each function also updates a shared variable of its own: distinct mutable state is fine.
    auto build = [&](std::uint64_t seed, const Variable& total) {
      return compile({}, outputs, {.updates = {{total, add(total, sum(batch[1]))}}, .seed = seed, .own_rng_states = true});
    };
    const Variable total_1 = shared(Array::scalar(0.0), "total_1"), total_2 = shared(Array::scalar(0.0), "total_2");
    const int calls = 300;
    Function in_turn_1 = build(1, total_1), in_turn_2 = build(2, total_2);
    const std::vector<double> expected_1 = run(in_turn_1, calls), expected_2 = run(in_turn_2, calls);
    const double expected_total_1 = get_value(total_1).item(), expected_total_2 = get_value(total_2).item();
    set_value(total_1, Array::scalar(0.0));
    set_value(total_2, Array::scalar(0.0));

    Function parallel_1 = build(1, total_1), parallel_2 = build(2, total_2);
    std::vector<double> got_1, got_2;
    std::thread first([&] { got_1 = run(parallel_1, calls); });
    std::thread second([&] { got_2 = run(parallel_2, calls); });
    first.join();
    second.join();
    CHECK(got_1 == expected_1);
    CHECK(got_2 == expected_2);
    CHECK(got_1 != got_2);
    CHECK(get_value(total_1).item() == expected_total_1);
    CHECK(get_value(total_2).item() == expected_total_2);
  }
}

TEST_CASE("threads: a function called while another thread is inside it throws, and works afterwards", "[threads][exclusive]") {
  std::atomic<bool> entered{false}, release{false};
  const Variable x = input("x");
  const Variable state = random::rng("rng");
  const Variable held = ApplyNode::make(std::make_shared<const HoldOp>(entered, release), {x})->output(0);
  Function f = compile({x}, {add(held, random::uniform(state, 0.0, 1.0).value)}, {.seed = 9});
  const std::string message = "Function: called from two threads at once; a Function is not thread-safe (compile one per thread)";

  std::exception_ptr failure;
  double first_result = 0;
  std::thread inside([&] {
    try {
      first_result = f({Array::scalar(10.0)})[0].item();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  while (!entered.load()) std::this_thread::yield();
  CHECK_THROWS_WITH(f({Array::scalar(20.0)}), message);
  CHECK_THROWS_AS(f({Array::scalar(20.0)}), std::invalid_argument);
  CHECK_THROWS_WITH(f.advance(), message);
  CHECK_THROWS_WITH(f.reseed(1), message);
  release.store(true);
  inside.join();
  CHECK_FALSE(failure);
  // The refused calls changed nothing: the held call drew the first uniform of seed 9, the
  // next call draws the second.
  const double second_result = f({Array::scalar(20.0)})[0].item();
  Function reference = compile({x}, {add(x, random::uniform(random::rng("other"), 0.0, 1.0).value)}, {.seed = 9});
  CHECK(first_result == reference({Array::scalar(10.0)})[0].item());
  CHECK(second_result == reference({Array::scalar(20.0)})[0].item());
}

TEST_CASE("threads: a row reduction over a thread pool gives one thread's bits, also from two functions at once", "[threads][row_reduction]") {
  Array x_data = Array::empty(DType::f64, Shape{3000, 4}), y_data = Array::empty(DType::f64, Shape{3000});
  for (std::int64_t k = 0; k < x_data.size(); ++k) x_data.data<double>()[k] = std::sin(0.37 * static_cast<double>(k));
  for (std::int64_t k = 0; k < y_data.size(); ++k) y_data.data<double>()[k] = std::cos(0.11 * static_cast<double>(k));
  const Variable x = shared(x_data, "X"), y = shared(y_data, "y");
  // Two models over the same data, one per thread count; each compiled twice with its own RNG states.
  const auto build = [&](int threads) {
    const std::vector<Variable> views = minibatch(1000, {x, y}, {.scheme = MinibatchScheme::with_replacement});
    auto model = std::make_shared<Model>();
    const Variable w = model->free("w", Normal(0.0, 1.0), {.shape = {4}});
    model->observed("obs", Normal(matmul(views[0], w), 1.0), views[1], TotalSize(3000));
    model->set_row_reduction({.chunk_rows = 64, .threads = threads});
    const Variable logp = model->logp();
    const Variable gradient = grad(logp, model->value_variables())[0];
    const Variable start = constant(Array::from(std::vector<double>{0.1, -0.2, 0.3, 0.4}));
    const std::vector<Variable> outputs = replace(std::vector<Variable>{logp, gradient}, {{model->value_variables()[0], start}});
    return std::pair{model, outputs};
  };
  auto [one_model, one_outputs] = build(1);
  auto [pool_model, pool_outputs] = build(3);
  Function reference = compile({}, one_outputs, {.seed = 2, .own_rng_states = true});
  const std::vector<double> expected = run(reference, 20);
  Function first = compile({}, pool_outputs, {.seed = 2, .own_rng_states = true});
  Function second = compile({}, pool_outputs, {.seed = 2, .own_rng_states = true});
  std::vector<double> got_first, got_second;
  std::thread other([&] { got_second = run(second, 20); });  // both share the model's pool: run() serialises them
  got_first = run(first, 20);
  other.join();
  CHECK(got_first == expected);
  CHECK(got_second == expected);
}

}  // namespace threads_threads_test
