// The README's tour, compiled and run by the test suite so it cannot drift.
#include <cmath>
#include <cstring>
#include <iostream>

#include "symbatch/symbatch.hpp"

int main() {
  using namespace symbatch;
  // [tour]
  // Data: two arrays with the same rows, held by shared variables (replaceable with set_value).
  const std::int64_t n = 1000;
  Variable x = shared(Array::arange(n), "x");
  Variable y = shared(Array::arange(n), "y");

  // One minibatch call: both views come from ONE random node, so their rows always match.
  std::vector<Variable> batch = minibatch(32, {x, y});

  // A model whose observed term stands for all n rows: it is scaled by n / 32 on every call.
  Model model;
  Variable slope = model.free("slope", Normal(0.0, 10.0));
  Variable noise = model.free("noise", HalfNormal(1.0));  // sampled on the log scale
  model.observed("y", Normal(slope * batch[0], noise), batch[1], TotalSize(n));

  // logp and its gradient in one compiled function; each call draws a new batch.
  Variable logp = model.logp();
  std::vector<Variable> outputs{logp};
  for (const Variable& g : grad(logp, model.value_variables())) outputs.push_back(g);
  Function f = compile(model.value_variables(), outputs, {.seed = 42});
  const std::vector<Array>& result = f({Array::scalar(1.0), Array::scalar(0.0)});
  std::cout << "logp " << result[0].item() << ", d/dslope " << result[1].item() << "\n";

  // Or fit it: minibatch MAP with Adam.
  MapResult fit = find_map(model, {.iterations = 2000, .optimizer = Adam{.learning_rate = 0.05}});
  std::cout << "slope " << fit.point.at("slope").item() << "\n";
  // [tour]
  return std::abs(fit.point.at("slope").item() - 1.0) < 0.01 ? 0 : 1;
}
