// The README's tour, compiled and run by the test suite so it cannot drift (a test also checks
// that the README shows exactly the lines between the [tour] markers).
#include <cmath>
#include <iostream>

#include "symbatch/symbatch.hpp"

int main() {
  using namespace symbatch;
  // [tour]
  // Data: two arrays with the same rows, held by shared variables (replaceable with set_value).
  const std::int64_t n = 1000;
  std::vector<double> xs(n), ys(n);
  for (std::int64_t i = 0; i < n; ++i) xs[i] = i / 100.0, ys[i] = 2 * xs[i] + std::sin(i);
  Variable x = shared(Array::from(xs), "x");
  Variable y = shared(Array::from(ys), "y");

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

  // Fit it: minibatch MAP with Adam...
  MapResult map = find_map(model, {.max_iterations = 2000, .optimizer = Adam{.learning_rate = 0.05}});
  std::cout << "MAP slope " << map.point.at("slope").item() << "\n";

  // ...or mean-field ADVI: posterior means and sds in the constrained space, and samples.
  FitResult advi = fit(model, {.max_iterations = 20000, .optimizer = Adam{.learning_rate = 0.02}});
  auto posterior = advi.approximation.moments();
  std::cout << "slope " << posterior.at("slope").mean.item() << " +- " << posterior.at("slope").sd.item()
            << ", noise " << posterior.at("noise").mean.item() << "\n";
  std::map<std::string, Array> draws = advi.approximation.sample(100);  // draws.at("noise"): shape (100,)
  // [tour]
  const bool ok = std::abs(map.point.at("slope").item() - 2) < 0.05 && std::abs(posterior.at("slope").mean.item() - 2) < 0.05 &&
                  std::abs(posterior.at("noise").mean.item() - 0.707) < 0.1 && draws.at("noise").shape() == Shape{100};
  return ok ? 0 : 1;
}
