#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "symbatch/core/array.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace core_f32_test {

using namespace symbatch;

TEST_CASE("f32: the dtype is named f32 and stores 4-byte IEEE singles", "[core][f32]") {
  CHECK(dtype_name(DType::f32) == "f32");
  CHECK(dtype_size(DType::f32) == 4);
  CHECK(dtype_of<float>() == DType::f32);
  CHECK(is_numeric(DType::f32));
  CHECK(is_floating(DType::f32));
  CHECK(is_floating(DType::f64));
  CHECK_FALSE(is_floating(DType::i64));
}

TEST_CASE("f32: arrays are created, read as double exactly, copied and compared", "[core][f32]") {
  // 0.1f is 13421773 / 2^27 exactly; the largest finite float is (2 - 2^-23) 2^127.
  const std::vector<float> values{0.1f, -2.5f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), 0.0f, -0.0f};
  const Array x = Array::from(values, Shape{2, 3});
  CHECK(x.dtype() == DType::f32);
  CHECK(x.bytes() == 24);
  CHECK(x.at(0, 0) == 13421773.0 / 134217728.0);
  CHECK(x.at(0, 2) == 0x1.fffffep127);
  CHECK(x.at(1, 0) == 0x1p-149);
  CHECK(std::vector<float>(x.data<float>(), x.data<float>() + 6) == values);
  CHECK_THROWS_WITH(x.data<double>(), "Array::data: array has dtype f32, requested f64");
  const Array copied = x.copy();
  CHECK_FALSE(copied.shares_buffer(x));
  CHECK(copied.to_vector() == x.to_vector());
  const Array full = Array::full(Shape{3}, 1.5f);
  CHECK(full.to_vector() == std::vector<double>{1.5, 1.5, 1.5});
  CHECK(Array::zeros(DType::f32, Shape{2}).to_vector() == std::vector<double>{0, 0});
  CHECK(Array::arange<float>(3).to_vector<float>() == std::vector<float>{0, 1, 2});
}

TEST_CASE("f32: a row slice is a zero-copy view that keeps the dtype", "[core][f32]") {
  const Array x = Array::from(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{3, 2});
  const Array rows = x.slice_rows(1, 3);
  CHECK(rows.dtype() == DType::f32);
  CHECK(rows.shares_buffer(x));
  CHECK(rows.data<float>() == x.data<float>() + 2);
  CHECK(rows.to_vector() == std::vector<double>{3, 4, 5, 6});
}

TEST_CASE("f32: borrowed memory is viewed in place, aligned to 4 bytes", "[core][f32]") {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{0.25f, 8.0f, -1.0f, 3.0f});
  const auto* bytes = reinterpret_cast<const std::byte*>(owner->data());
  const Array view = Array::borrow(DType::f32, Shape{4}, bytes, owner);
  CHECK(view.borrowed());
  CHECK(view.data<float>() == owner->data());
  CHECK(view.to_vector() == std::vector<double>{0.25, 8, -1, 3});
  // 2 bytes in: not aligned for a float.
  CHECK_THROWS_AS(Array::borrow(DType::f32, Shape{1}, bytes + 2, owner), std::invalid_argument);
}

}  // namespace core_f32_test
