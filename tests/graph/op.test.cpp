// Op identity: an op's type, name and declared parameters decide equality, hashing and its
// printed description; `op_as` is the one typed query.
#include <catch2/catch.hpp>

#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/reshape.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace graph_op_test {

using namespace symbatch;

TEST_CASE("op identity: equal type, name and parameters make equal ops with equal hashes", "[graph][op]") {
  const Reduce sum0(Reduction::sum, 0), other_sum0(Reduction::sum, 0), sum1(Reduction::sum, 1), max0(Reduction::max, 0);
  const Reduce sum_all(Reduction::sum, std::nullopt);
  CHECK(sum0.equals(other_sum0));
  CHECK(sum0.hash() == other_sum0.hash());
  CHECK_FALSE(sum0.equals(sum1));
  CHECK_FALSE(sum0.equals(max0));  // the reduction is part of the name
  CHECK_FALSE(sum0.equals(sum_all));
  CHECK(MatMul(true, false).equals(MatMul(true, false)));
  CHECK_FALSE(MatMul(true, false).equals(MatMul(false, true)));
  CHECK_FALSE(MatMul().equals(MatMul(false, true)));
  CHECK(Reshape({2, -1}).equals(Reshape({2, -1})));
  CHECK_FALSE(Reshape({2, -1}).equals(Reshape({-1, 2})));
  CHECK(Cast(DType::i64).equals(Cast(DType::i64)));
  CHECK_FALSE(Cast(DType::i64).equals(Cast(DType::boolean)));
  CHECK_FALSE(Cast(DType::i64).equals(sum0));
}

TEST_CASE("op identity: the description is the name and the declared parameters", "[graph][op]") {
  CHECK(Reduce(Reduction::sum, 0).describe() == "sum{axis=0}");
  CHECK(Reduce(Reduction::logsumexp, std::nullopt).describe() == "logsumexp");
  CHECK(Unreduce(1, true).describe() == "unreduce{axis=1, mean=true}");
  CHECK(Cast(DType::i64).describe() == "cast{dtype=i64}");
  CHECK(MatMul().describe() == "matmul");
  CHECK(MatMul(false, true).describe() == "matmul{transpose_b=true}");
  CHECK(Reshape({2, -1}).describe() == "reshape{shape=(2, -1)}");
  CHECK(Reshape({6}).describe() == "reshape{shape=(6,)}");
}

TEST_CASE("op identity: op_as is the typed query", "[graph][op]") {
  const Variable x = input("x", DType::f64, {3});
  const Variable total = sum(exp(x));
  const Op& op = total.owner()->op();
  REQUIRE(op_as<Reduce>(op) != nullptr);
  CHECK(op_as<Reduce>(op)->kind() == Reduction::sum);
  CHECK(op_is<Reduce>(op));
  CHECK_FALSE(op_is<MatMul>(op));
  CHECK(op_is<Elemwise<detail::ExpFn>>(total.owner()->input(0).owner()->op()));
}

}  // namespace graph_op_test
