#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "symbatch/compile/function.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/sort.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace minibatch_minibatch_test {

using namespace symbatch;

namespace {

const MinibatchScheme all_schemes[] = {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement,
                                       MinibatchScheme::without_replacement, MinibatchScheme::epoch_reshuffle};

Array negated_arange(std::int64_t n) {
  Array result = Array::arange(n);
  for (std::int64_t i = 0; i < n; ++i) result.data<double>()[i] = -static_cast<double>(i);
  return result;
}

bool inside(const Array& view, const Array& parent) {
  return view.raw_data() >= parent.buffer_begin() && view.raw_data() + view.bytes() <= parent.buffer_begin() + parent.buffer_bytes();
}

}  // namespace

TEST_CASE("minibatch: views of one call stay aligned under any seed, for every scheme", "[minibatch][alignment]") {
  const std::int64_t n = 103;
  for (MinibatchScheme scheme : all_schemes)
    for (std::uint64_t seed : {0u, 1u, 42u, 12345u}) {
      Variable a = shared(Array::arange(n), "A");
      Variable b = shared(negated_arange(n), "B");
      const auto views = minibatch(10, {a, b}, {.scheme = scheme});
      Function f = compile({}, views, {.seed = seed});
      for (int call = 0; call < 1000; ++call) {
        const auto& batch = f();
        REQUIRE(batch[0].size() == batch[1].size());
        for (std::int64_t k = 0; k < batch[0].size(); ++k) REQUIRE(batch[1].flat<double>(k) == -batch[0].flat<double>(k));
      }
    }
}

TEST_CASE("minibatch: a vector, a matrix and integer labels of different ranks and dtypes stay aligned", "[minibatch][alignment]") {
  const std::int64_t n = 50, d = 3;
  Array matrix = Array::empty(DType::f64, Shape{n, d});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) matrix.data<double>()[i * d + j] = static_cast<double>(i);
  for (MinibatchScheme scheme : all_schemes) {
    Variable vector = shared(Array::arange(n), "v");
    Variable rows = shared(matrix, "M");
    Variable labels = shared(Array::arange<std::int64_t>(n), "labels");
    const auto views = minibatch(7, {vector, rows, labels}, {.scheme = scheme});
    CHECK(views[1].rank() == 2);
    CHECK(views[2].dtype() == DType::i64);
    Function f = compile({}, views, {.seed = 9});
    for (int call = 0; call < 1000; ++call) {
      const auto& batch = f();
      for (std::int64_t k = 0; k < batch[0].size(); ++k) {
        const double row = batch[0].flat<double>(k);
        REQUIRE(batch[2].flat<std::int64_t>(k) == static_cast<std::int64_t>(row));
        for (std::int64_t j = 0; j < d; ++j) REQUIRE(batch[1].flat<double>(k * d + j) == row);
      }
    }
  }
}

TEST_CASE("minibatch: a circular slice that does not wrap is a zero-copy view, and a wrapping one joins two pieces", "[minibatch][view]") {
  const std::int64_t n = 20;
  Variable a = shared(Array::arange(n), "A");
  const Array parent = get_value(a);
  const auto views = minibatch(6, {a});
  Function f = compile({}, views, {.seed = 4});
  int wrapped = 0, viewed = 0;
  for (int call = 0; call < 200; ++call) {
    const Array batch = f()[0];
    const auto start = static_cast<std::int64_t>(batch.flat<double>(0));
    for (std::int64_t k = 0; k < 6; ++k) REQUIRE(batch.flat<double>(k) == static_cast<double>((start + k) % n));
    if (start + 6 <= n) {
      CHECK(inside(batch, parent));
      CHECK(batch.shares_buffer(parent));
      ++viewed;
    } else {
      CHECK_FALSE(batch.shares_buffer(parent));
      ++wrapped;
    }
  }
  CHECK(viewed > 0);
  CHECK(wrapped > 0);
}

TEST_CASE("minibatch: every row has inclusion probability B/N under the circular slice (chi-square)", "[minibatch][statistics]") {
  const std::int64_t n = 37, batch_size = 8, calls = 20000;  // N not a multiple of B
  Variable a = shared(Array::arange<std::int64_t>(n), "A");
  Function f = compile({}, minibatch(batch_size, {a}), {.seed = 21});
  std::vector<double> counts(static_cast<std::size_t>(n), 0);
  for (int call = 0; call < calls; ++call)
    for (std::int64_t row : f()[0].to_vector<std::int64_t>()) counts[static_cast<std::size_t>(row)] += 1;
  // Each row's count is B times the count of one start value (a multinomial over N starts), so
  // counts / B are multinomial counts: chi-square with N - 1 = 36 degrees of freedom.
  const double expected = static_cast<double>(calls) / static_cast<double>(n);
  double chi2 = 0;
  for (double count : counts) chi2 += (count / batch_size - expected) * (count / batch_size - expected) / expected;
  // P(chi2_36 > 67.99) = 0.001: the false-failure rate of this check
  CHECK(chi2 < 67.99);
}

TEST_CASE("minibatch: the N/B-scaled batch sum is unbiased for the total under every scheme", "[minibatch][statistics]") {
  const std::int64_t n = 50, batch_size = 8;
  double total = 0, sum_squares = 0;
  Array values = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) {
    values.data<double>()[i] = std::sin(0.7 * static_cast<double>(i)) + 2;
    total += values.data<double>()[i];
    sum_squares += values.data<double>()[i] * values.data<double>()[i];
  }
  for (MinibatchScheme scheme : all_schemes) {
    Variable a = shared(values, "A");
    const auto view = minibatch(batch_size, {a}, {.scheme = scheme, .last_batch = LastBatch::drop})[0];
    Function f = compile({}, {sum(view) * (static_cast<double>(n) / batch_size)}, {.seed = 17});
    const int calls = 6000;  // a multiple of the 6 batches per epoch of the reshuffle scheme
    double mean = 0;
    for (int call = 0; call < calls; ++call) mean += f()[0].item() / calls;
    // The per-call sd of the scaled sum is below N * sqrt(E[x^2]) / sqrt(B) = 50 * 2.2 / 2.8 ~ 40,
    // so the mean of 6000 calls has sd < 0.52: a 4.5 sd bound (false-failure rate below 1e-5).
    (void)sum_squares;
    INFO("scheme " << static_cast<int>(scheme));
    CHECK(std::abs(mean - total) < 2.35);
  }
}

TEST_CASE("minibatch: without replacement a batch never repeats a row", "[minibatch][statistics]") {
  Variable a = shared(Array::arange<std::int64_t>(30), "A");
  Function f = compile({}, minibatch(30, {a}, {.scheme = MinibatchScheme::without_replacement}), {.seed = 8});
  for (int call = 0; call < 300; ++call) {
    const std::vector<std::int64_t> rows = f()[0].to_vector<std::int64_t>();
    REQUIRE(std::set<std::int64_t>(rows.begin(), rows.end()).size() == 30);
  }
}

TEST_CASE("minibatch: an epoch of the reshuffle scheme visits every row exactly once", "[minibatch][statistics]") {
  for (LastBatch last : {LastBatch::keep_short, LastBatch::drop}) {
    const std::int64_t n = 23, batch_size = 5;
    Variable a = shared(Array::arange<std::int64_t>(n), "A");
    Function f = compile({}, minibatch(batch_size, {a}, {.scheme = MinibatchScheme::epoch_reshuffle, .last_batch = last}), {.seed = 2});
    const int per_epoch = last == LastBatch::keep_short ? 5 : 4;
    std::vector<std::int64_t> first_epoch;
    for (int epoch = 0; epoch < 3; ++epoch) {
      std::vector<std::int64_t> seen;
      for (int call = 0; call < per_epoch; ++call) {
        const std::vector<std::int64_t> rows = f()[0].to_vector<std::int64_t>();
        CHECK(static_cast<std::int64_t>(rows.size()) == (last == LastBatch::keep_short && call == 4 ? 3 : batch_size));
        seen.insert(seen.end(), rows.begin(), rows.end());
      }
      std::vector<std::int64_t> sorted = seen;
      std::sort(sorted.begin(), sorted.end());
      CHECK(std::set<std::int64_t>(sorted.begin(), sorted.end()).size() == sorted.size());  // no repeats
      if (last == LastBatch::keep_short) CHECK(static_cast<std::int64_t>(sorted.size()) == n);  // every row
      if (epoch == 0) first_epoch = seen;
      else CHECK(seen != first_epoch);  // a new permutation each epoch
    }
  }
}

TEST_CASE("minibatch: the seed issue's hand-built slice stays aligned and changes length per call", "[minibatch][pymc6277]") {
  const std::int64_t n = 100;
  Variable a = shared(Array::arange(n), "A");
  Variable b = shared(negated_arange(n), "B");
  Variable state = random::rng("rng");
  const Variable endpoints = sort(random::uniform(state, 0.0, static_cast<double>(n), {2}).value);
  const Variable start = cast(slice(endpoints, 0, 1), DType::i64);
  const Variable stop = cast(slice(endpoints, 1, 2), DType::i64);
  const Variable begin = sum(start), end = sum(stop);  // the scalars of the one-element vectors
  Function f = compile({}, {slice(a, begin, end), slice(b, begin, end)}, {.seed = 3});
  std::set<std::int64_t> lengths;
  for (int call = 0; call < 200; ++call) {
    const auto& views = f();
    REQUIRE(views[0].size() == views[1].size());
    lengths.insert(views[0].size());
    for (std::int64_t k = 0; k < views[0].size(); ++k) REQUIRE(views[1].flat<double>(k) == -views[0].flat<double>(k));
  }
  CHECK(lengths.size() > 10);
}

TEST_CASE("minibatch: bad input gets a clear error", "[minibatch][errors]") {
  Variable a = shared(Array::arange(10), "A");
  Variable b = shared(Array::arange(9), "B");
  CHECK_THROWS_WITH(minibatch(2, {}), "minibatch: no arrays given");
  CHECK_THROWS_WITH(minibatch(2, {a, b}), "minibatch: arrays 'A' and 'B' have different leading dimensions (10 and 9)");
  CHECK_THROWS_WITH(minibatch(0, {a}), "minibatch: batch_size is 0, but must be positive");
  CHECK_THROWS_WITH(minibatch(-3, {a}), "minibatch: batch_size is -3, but must be positive");
  CHECK_THROWS_WITH(minibatch(std::int64_t{1} << 61, {a}, {.scheme = MinibatchScheme::with_replacement}),
                    "minibatch: batch_size is 2305843009213693952, but a batch of that many row numbers needs 2^63 bytes or more");
  CHECK_THROWS_WITH(minibatch(11, {a}), "minibatch: batch_size 11 exceeds the 10 rows of 'A'; the circular_slice scheme needs distinct rows");
  CHECK_THROWS_WITH(minibatch(11, {a}, {.scheme = MinibatchScheme::without_replacement}),
                    "minibatch: batch_size 11 exceeds the 10 rows of 'A'; the without_replacement scheme needs distinct rows");
  CHECK(minibatch(11, {a}, {.scheme = MinibatchScheme::with_replacement}).size() == 1);
  CHECK_THROWS_WITH(minibatch(1, {shared(Array::scalar(1.0), "s")}),
                    "minibatch: array 's' has rank 0; minibatch needs arrays with a leading dimension");
  Variable noisy = a + random::normal(random::rng("rng"), 0.0, 1.0, {10}).value;
  noisy.set_name("noisy");
  CHECK_THROWS_WITH(minibatch(2, {noisy}),
                    "minibatch: array 'noisy' depends on the random variable normal{shape=(10,)}; minibatch views must be views of fixed data");
  CHECK_THROWS_AS(minibatch(2, {a, b}), std::invalid_argument);
}

TEST_CASE("minibatch: lengths that differ only at run time are caught on the call, which can be retried", "[minibatch][errors]") {
  Variable a = shared(Array::arange(10), "A");
  Variable b = shared(Array::arange(10), "B");
  const auto views = minibatch(3, {a, b});
  Function f = compile({}, views, {.seed = 1});
  f();
  set_value(b, Array::arange(12));
  CHECK_THROWS_WITH(f(), "minibatch: arrays 'A' and 'B' have different leading dimensions (10 and 12)");
  set_value(a, Array::arange(12));
  CHECK(f()[0].size() == 3);
  // inputs whose lengths are unknown when the minibatch is built
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  Function g = compile({x, y}, minibatch(2, {x, y}), {.seed = 1});
  CHECK_THROWS_WITH(g({Array::arange(5), Array::arange(4)}), "minibatch: arrays 'x' and 'y' have different leading dimensions (5 and 4)");
  CHECK_THROWS_WITH(g({Array::arange(1), Array::arange(1)}),
                    "minibatch: batch_size 2 exceeds the 1 rows of 'x'; the circular_slice scheme needs distinct rows");
  CHECK(g({Array::arange(5), Array::arange(5)})[0].size() == 2);
}

TEST_CASE("minibatch: shuffling once keeps rows aligned and makes windows of ordered data mixed", "[minibatch]") {
  const std::int64_t n = 1000;
  Variable a = shared(Array::arange(n), "A");
  Variable b = shared(negated_arange(n), "B");
  const auto views = minibatch(10, {a, b}, {.shuffle_once = true, .shuffle_seed = 5});
  Function f = compile({}, views, {.seed = 3});
  double spread = 0;
  for (int call = 0; call < 50; ++call) {
    const auto& batch = f();
    std::vector<double> rows = batch[0].to_vector();
    for (std::int64_t k = 0; k < 10; ++k) REQUIRE(batch[1].flat<double>(k) == -rows[static_cast<std::size_t>(k)]);
    spread += *std::max_element(rows.begin(), rows.end()) - *std::min_element(rows.begin(), rows.end());
  }
  // Without the shuffle a window spans 9 consecutive rows (or wraps); shuffled it spans most of the data.
  CHECK(spread / 50 > 500);
}

TEST_CASE("minibatch: views are found in a graph and replaced by the whole arrays", "[minibatch]") {
  Variable a = shared(Array::arange(10), "A");
  Variable b = shared(Array::arange(10), "B");
  const auto views = minibatch(4, {a, b});
  const Variable total = sum(views[0] * views[1]);
  const auto found = minibatch_views(std::span<const Variable>(&total, 1));
  REQUIRE(found.size() == 2);
  CHECK(found[0].source == found[1].source);
  CHECK(is_minibatch_source(*found[0].source));
  CHECK(as_minibatch_view(views[0])->array == a);
  CHECK_FALSE(as_minibatch_view(a));
  const Variable full = replace_minibatch_views(std::span<const Variable>(&total, 1))[0];
  Function f = compile({}, {full});
  CHECK(f()[0].item() == 285.0);  // sum of i^2 for i < 10
}

TEST_CASE("minibatch: shuffle_once never serves stale data after set_value, and works for lengths unknown at build time", "[minibatch][shuffle]") {
  const std::int64_t n = 50;
  Variable a = shared(Array::arange(n), "A");
  Variable b = shared(negated_arange(n), "B");
  const auto views = minibatch(5, {a, b}, {.shuffle_once = true, .shuffle_seed = 2});
  const Variable rows = minibatch_indices(views[0]);
  Function f = compile({}, {views[0], views[1], rows}, {.seed = 3});
  auto check_rows = [&](double factor, std::int64_t length) {
    for (int call = 0; call < 30; ++call) {
      const auto& r = f();
      for (std::int64_t k = 0; k < 5; ++k) {
        const std::int64_t row = r[2].flat<std::int64_t>(k);
        REQUIRE(row >= 0);
        REQUIRE(row < length);
        REQUIRE(r[0].flat<double>(k) == factor * static_cast<double>(row));  // the current data, read through the permutation
        REQUIRE(r[1].flat<double>(k) == -factor * static_cast<double>(row));
      }
    }
  };
  check_rows(1, n);
  Array a10 = Array::arange(n), b10 = negated_arange(n);
  for (std::int64_t i = 0; i < n; ++i) a10.data<double>()[i] *= 10, b10.data<double>()[i] *= 10;
  set_value(a, a10);
  set_value(b, b10);
  check_rows(10, n);
  set_value(a, Array::arange(80));  // another length: a permutation of its own length
  set_value(b, negated_arange(80));
  check_rows(1, 80);
  // arrays whose length is unknown when the minibatch is built (inputs)
  Variable x = input("x", DType::f64, {Type::unknown});
  Variable y = input("y", DType::f64, {Type::unknown});
  const auto inputs = minibatch(3, {x, y}, {.scheme = MinibatchScheme::without_replacement, .shuffle_once = true});
  Function g = compile({x, y}, {inputs[0], inputs[1], minibatch_indices(inputs[1])}, {.seed = 1});
  const auto& r = g({Array::arange(9), negated_arange(9)});
  for (std::int64_t k = 0; k < 3; ++k) {
    CHECK(r[0].flat<double>(k) == static_cast<double>(r[2].flat<std::int64_t>(k)));
    CHECK(r[1].flat<double>(k) == -r[0].flat<double>(k));
  }
}

TEST_CASE("minibatch: shuffle_once visits every row once per pass of the circular window", "[minibatch][shuffle]") {
  // N = 12, B = 4: the windows at starts 0, 4, 8 of the permuted order cover every row exactly once.
  Variable a = shared(Array::arange(12), "A");
  const auto views = minibatch(4, {a}, {.shuffle_once = true, .shuffle_seed = 9});
  Function f = compile({}, {minibatch_indices(views[0])}, {.seed = 3});
  std::set<std::vector<std::int64_t>> windows;
  for (int call = 0; call < 400; ++call) {
    const auto& r = f();
    std::vector<std::int64_t> rows;
    for (std::int64_t k = 0; k < 4; ++k) rows.push_back(r[0].flat<std::int64_t>(k));
    windows.insert(rows);
  }
  REQUIRE(windows.size() == 12);  // one window per start (probability of missing one in 400 draws: 12 (11/12)^400 < 1e-13)
  std::map<std::int64_t, int> count;
  bool consecutive = true;
  for (const auto& rows : windows) {
    for (std::int64_t row : rows) ++count[row];
    for (std::size_t k = 1; k < rows.size(); ++k) consecutive = consecutive && (rows[k] - rows[k - 1] + 12) % 12 == 1;
  }
  REQUIRE(count.size() == 12);
  for (const auto& [row, times] : count) CHECK(times == 4);  // each row in exactly B windows: the order is a permutation
  CHECK_FALSE(consecutive);  // and not the original order
}

TEST_CASE("minibatch: minibatch_indices gives the original row numbers of the batch under every scheme", "[minibatch][indices]") {
  const std::int64_t n = 23;
  Array values = Array::empty(DType::f64, Shape{n});
  for (std::int64_t i = 0; i < n; ++i) values.data<double>()[i] = 2.0 * static_cast<double>(i) + 0.5;
  for (MinibatchScheme scheme : all_schemes)
    for (bool shuffled : {false, true}) {
      Variable a = shared(values, "A");
      const auto views = minibatch(7, {a}, {.scheme = scheme, .shuffle_once = shuffled});
      const Variable rows = minibatch_indices(views[0]);
      CHECK(rows.dtype() == DType::i64);
      if (scheme == MinibatchScheme::circular_slice && !shuffled) CHECK(rows.name() == "A_batch_indices");
      else CHECK(rows.name() == (shuffled ? "minibatch_rows" : "minibatch_draw"));  // the call's own row variable, not renamed
      Function f = compile({}, {views[0], rows}, {.seed = 6});
      for (int call = 0; call < 50; ++call) {  // 50 calls: the circular window wraps (start >= 17) on some of them
        const auto& r = f();
        REQUIRE(r[1].size() == r[0].size());
        for (std::int64_t k = 0; k < r[0].size(); ++k) REQUIRE(r[0].flat<double>(k) == 2.0 * static_cast<double>(r[1].flat<std::int64_t>(k)) + 0.5);
      }
    }
  Variable a = shared(values, "A");
  CHECK_THROWS_WITH(minibatch_indices(a), "minibatch_indices: 'A' is not a view returned by minibatch");
  CHECK_THROWS_WITH(minibatch_indices(slice(a, 0, 2)), "minibatch_indices: 'slice' is not a view returned by minibatch");
}

TEST_CASE("minibatch: an array with no rows says so under every scheme", "[minibatch][errors]") {
  for (MinibatchScheme scheme : all_schemes) {
    Variable empty = shared(Array::arange(0), "E");
    CHECK_THROWS_WITH(minibatch(37, {empty}, {.scheme = scheme}), "minibatch: array 'E' has no rows");
    Variable x = input("x", DType::f64, {Type::unknown});
    Function f = compile({x}, minibatch(37, {x}, {.scheme = scheme}), {.seed = 1});
    CHECK_THROWS_WITH(f({Array::arange(0)}), "minibatch: array 'x' has no rows");
  }
}

}  // namespace minibatch_minibatch_test
