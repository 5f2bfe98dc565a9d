#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "support/gradcheck.hpp"
#include "symbatch/ops/sort.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace ops_sort_test {

using namespace symbatch;

TEST_CASE("sort: values ascend along the last axis with NaN last", "[ops][sort]") {
  Variable x = input("x", DType::f64, {2, 4});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Function f = compile({x}, {sort(x), argsort(x)});
  const auto& r = f({Array::from(std::vector<double>{3, nan, -1, 2, 5, 5, 0, -7}, Shape{2, 4})});
  const std::vector<double> sorted = r[0].to_vector();
  CHECK(sorted[0] == -1);
  CHECK(sorted[1] == 2);
  CHECK(sorted[2] == 3);
  CHECK(std::isnan(sorted[3]));
  CHECK(std::vector<double>(sorted.begin() + 4, sorted.end()) == std::vector<double>{-7, 0, 5, 5});
  // stable: the two 5s keep their order (positions 0 and 1 of the second row)
  CHECK(r[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 3, 0, 1, 3, 2, 0, 1});
}

TEST_CASE("sort: integers sort too and errors are pinned", "[ops][sort]") {
  Variable x = input("x", DType::i64, {3});
  Function f = compile({x}, {sort(x)});
  CHECK(f({Array::from(std::vector<std::int64_t>{4, -2, 9})})[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 4, 9});
  CHECK_THROWS_WITH(sort(input("s")), "sort: input 1/1 has rank 0, expected rank >= 1");
  CHECK_THROWS_WITH(sort(input("b", DType::boolean, {2})), "sort: input 1/1 has dtype bool, expected f64 or i64");
}

TEST_CASE("sort: the gradient follows each value to its sorted position", "[ops][sort][grad]") {
  testing::check_grad([](const std::vector<Variable>& x) { return sort(x[0]); }, {Array::from({0.3, -1.2, 2.5, 0.9})});
  testing::check_grad([](const std::vector<Variable>& x) { return sort(x[0]); },
                      {Array::from(std::vector<double>{0.3, -1.2, 2.5, 0.9, 4.0, -3.0}, Shape{2, 3})});
}

}  // namespace ops_sort_test
