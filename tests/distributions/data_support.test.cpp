// Observed data are checked against their distribution's support once per data array, with an
// error naming the data, the row and the value (not the parameters).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/compile/function.hpp"
#include "symbatch/inference/logp_function.hpp"
#include "symbatch/model/model.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace distributions_data_support_test {

using namespace symbatch;

namespace {

const double not_a_number = std::nan("");

/// Compiles the logp of a model observing `data` with `distribution` and calls it once.
double logp_of(const Distribution& distribution, const Variable& data) {
  Model model;
  model.observed("y", distribution, data);
  Function f = compile({}, {model.logp()});
  return f()[0].item();
}

}  // namespace

TEST_CASE("data support: a value outside the support is named with its row on the first call", "[distributions][data]") {
  const Variable counts = shared(Array::from({0.0, 2.0, 5.0, 1.5, 3.0}), "counts");
  CHECK_THROWS_AS(logp_of(Poisson(3.0), counts), std::domain_error);
  CHECK_THROWS_WITH(logp_of(Poisson(3.0), counts),
                    "Model::observed: the data of 'y' hold 1.5 at row 3, outside the support of poisson (nonnegative integers)");
  CHECK_THROWS_WITH(logp_of(Poisson(3.0), shared(Array::from(std::vector<std::int64_t>{4, -1}), "k")),
                    "Model::observed: the data of 'y' hold -1 at row 1, outside the support of poisson (nonnegative integers)");
  CHECK_THROWS_WITH(logp_of(NegativeBinomial(3.0, 2.0), shared(Array::from({0.5}), "k")),
                    "Model::observed: the data of 'y' hold 0.5 at row 0, outside the support of negative_binomial (nonnegative integers)");
  CHECK_THROWS_WITH(logp_of(Binomial(10, 0.3), shared(Array::from({2.0, 7.25}), "k")),
                    "Model::observed: the data of 'y' hold 7.25 at row 1, outside the support of binomial (nonnegative integers)");
  CHECK_THROWS_WITH(logp_of(Bernoulli(0.3), shared(Array::from({1.0, 0.0, 2.0}), "b")),
                    "Model::observed: the data of 'y' hold 2 at row 2, outside the support of bernoulli (0 and 1)");
  CHECK_THROWS_WITH(logp_of(BernoulliLogit(0.3), shared(Array::from({0.5}), "b")),
                    "Model::observed: the data of 'y' hold 0.5 at row 0, outside the support of bernoulli_logit (0 and 1)");
  CHECK_THROWS_WITH(logp_of(Beta(2.0, 3.0), shared(Array::from({0.5, 1.5}), "x")),
                    "Model::observed: the data of 'y' hold 1.5 at row 1, outside the support of beta (the interval [0, 1])");
  CHECK_THROWS_WITH(logp_of(Uniform(-1.0, 2.5), shared(Array::from({-1.5}), "x")),
                    "Model::observed: the data of 'y' hold -1.5 at row 0, outside the support of uniform (the interval [-1, 2.5])");
  CHECK_THROWS_WITH(logp_of(Exponential(1.0), shared(Array::from({0.0, -1.0}), "x")),
                    "Model::observed: the data of 'y' hold -1 at row 1, outside the support of exponential (nonnegative real numbers)");
  CHECK_THROWS_WITH(logp_of(LogNormal(0.0, 1.0), shared(Array::from({1.0, 0.0}), "x")),
                    "Model::observed: the data of 'y' hold 0 at row 1, outside the support of lognormal (positive real numbers)");
  CHECK_THROWS_WITH(logp_of(Normal(0.0, 1.0), shared(Array::from({0.1, std::numeric_limits<double>::infinity()}), "x")),
                    "Model::observed: the data of 'y' hold inf at row 1, outside the support of normal (real numbers)");
}

TEST_CASE("data support: NaN in the data names the data, never the parameters", "[distributions][data]") {
  Model model;
  const Variable mu = model.free("mu", Normal(0.0, 1.0));
  model.observed("heights", Normal(mu, 1.0), shared(Array::from({1.2, not_a_number, 0.3}), "h"));
  LogpFunction logp(model);
  Eigen::VectorXd gradient;
  CHECK_THROWS_AS(logp(Eigen::VectorXd::Zero(1), &gradient), std::domain_error);
  CHECK_THROWS_WITH(logp(Eigen::VectorXd::Zero(1), &gradient),
                    "Model::observed: the data of 'heights' hold nan at row 1, outside the support of normal (real numbers)");
}

TEST_CASE("data support: the row of rank-2 data is its first index, and scalar data have no row", "[distributions][data]") {
  const Variable table = shared(Array::from(std::vector<double>{1, 0, 2, 3, 4, 5.5}, Shape{3, 2}), "table");
  CHECK_THROWS_WITH(logp_of(Poisson(2.0), table),
                    "Model::observed: the data of 'y' hold 5.5 at row 2, outside the support of poisson (nonnegative integers)");
  CHECK_THROWS_WITH(logp_of(Bernoulli(0.5), shared(Array::scalar(-1.0), "b")),
                    "Model::observed: the data of 'y' hold -1, outside the support of bernoulli (0 and 1)");
}

TEST_CASE("data support: constant data are checked when the model is built", "[distributions][data]") {
  Model model;
  CHECK_THROWS_AS(model.observed("k", Poisson(3.0), constant(Array::from({1.0, 2.5}))), std::domain_error);
  CHECK_THROWS_WITH(model.observed("k", Poisson(3.0), constant(Array::from({1.0, 2.5}))),
                    "Model::observed: the data of 'k' hold 2.5 at row 1, outside the support of poisson (nonnegative integers)");
  // the name was not taken and the model stays usable
  model.observed("k", Poisson(3.0), constant(Array::from({1.0, 2.0})));
  Function f = compile({}, {model.logp()});
  // scipy.stats.poisson(3).logpmf([1, 2]).sum()
  CHECK(f()[0].item() == Approx(-1.9013877113318902 + -1.4959226032237258).epsilon(1e-13));
}

TEST_CASE("data support: checked once per array, again after set_value, and data written in place are not rechecked",
          "[distributions][data]") {
  const Variable counts = shared(Array::from({1.0, 2.0, 0.0}), "counts");
  Model model;
  model.observed("k", Poisson(2.0), counts);
  Function f = compile({}, {model.logp()});
  // scipy.stats.poisson(2).logpmf([1, 2, 0]).sum()
  const double good = -1.3068528194400546 + -1.3068528194400546 + -2.0;
  CHECK(f()[0].item() == Approx(good).epsilon(1e-13));
  // The check is keyed on the array: writing into the checked array in place is not seen (the
  // density still gives -inf), a new array from set_value is checked.
  Array same = get_value(counts);
  same.data<double>()[1] = 2.5;
  CHECK(f()[0].item() == -std::numeric_limits<double>::infinity());
  set_value(counts, same.copy());
  CHECK_THROWS_WITH(f(), "Model::observed: the data of 'k' hold 2.5 at row 1, outside the support of poisson (nonnegative integers)");
  CHECK_THROWS_WITH(f(), "Model::observed: the data of 'k' hold 2.5 at row 1, outside the support of poisson (nonnegative integers)");
  set_value(counts, Array::from({1.0, 2.0, 0.0, 4.0}));
  // + scipy.stats.poisson(2).logpmf(4)
  CHECK(f()[0].item() == Approx(good + -2.4054651081081646).epsilon(1e-13));
}

TEST_CASE("data support: data given as an input are checked each time a new array comes", "[distributions][data]") {
  const Variable y = input("y", DType::f64, {Type::unknown});
  Model model;
  model.observed("y", Bernoulli(0.25), y);
  Function f = compile({y}, {model.logp()});
  const Array ones = Array::from({1.0, 1.0});
  CHECK(f({ones})[0].item() == Approx(2 * std::log(0.25)).epsilon(1e-14));
  CHECK(f({ones})[0].item() == Approx(2 * std::log(0.25)).epsilon(1e-14));
  CHECK_THROWS_WITH(f({Array::from({1.0, 0.0, 0.5})}),
                    "Model::observed: the data of 'y' hold 0.5 at row 2, outside the support of bernoulli (0 and 1)");
  CHECK(f({Array::from({0.0})})[0].item() == Approx(std::log(0.75)).epsilon(1e-14));
}

TEST_CASE("data support: a minibatch checks the whole array once and names the row of that array", "[distributions][data][minibatch]") {
  std::vector<double> values(100, 1.0);
  values[97] = 2.0;  // a row the first batch need not hold: the whole array is checked
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement}) {
    const Variable y = shared(Array::from(values), "y");
    const auto batch = minibatch(4, {y}, {.scheme = scheme});
    Model model;
    model.observed("clicks", Bernoulli(0.5), batch[0], TotalSize(100));
    Function f = compile({}, {model.logp()}, {.seed = 1});
    CHECK_THROWS_WITH(f(), "Model::observed: the data of 'clicks' hold 2 at row 97, outside the support of bernoulli (0 and 1)");
    values[97] = 0.0;
    set_value(y, Array::from(values));
    values[97] = 2.0;
    for (int call = 0; call < 5; ++call) CHECK(f()[0].item() == Approx(100 * std::log(0.5)).epsilon(1e-14));
    // the full-data graph checks the whole array too
    Function full = compile({}, {model.full_data_logp()});
    CHECK(full()[0].item() == Approx(100 * std::log(0.5)).epsilon(1e-14));
  }
}

TEST_CASE("data support: computed data are checked on every call", "[distributions][data]") {
  const Variable x = input("x", DType::f64, {Type::unknown});
  Model model;
  model.observed("k", Poisson(1.0), x * 0.5);
  Function f = compile({x}, {model.logp()});
  const Array even = Array::from({2.0, 4.0});
  // scipy.stats.poisson(1).logpmf([1, 2]).sum()
  CHECK(f({even})[0].item() == Approx(-1.0 + -1.6931471805599454).epsilon(1e-13));
  CHECK_THROWS_WITH(f({Array::from({2.0, 3.0})}),
                    "Model::observed: the data of 'k' hold 1.5 at row 1, outside the support of poisson (nonnegative integers)");
}

TEST_CASE("data support: values the dtype cannot leave the support with need no check", "[distributions][data]") {
  Model model;
  model.observed("flags", Bernoulli(0.5), shared(Array::from(std::vector<bool>{true, false}), "flags"));
  model.observed("z", Normal(0.0, 1.0), shared(Array::from(std::vector<std::int64_t>{0, 1}), "z"));
  const Variable logp = model.logp();
  Function f = compile({}, {logp});
  for (const ApplyNode* node : f.schedule()) CHECK(node->op().name() != "check_data");
  // 2 log 0.5 + log N(0) + log N(1)
  CHECK(f()[0].item() == Approx(2 * std::log(0.5) - 2 * 0.9189385332046727 - 0.5).epsilon(1e-14));
}

}  // namespace distributions_data_support_test
