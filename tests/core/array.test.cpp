// Array: factories, dtypes, C order, element access, zero-copy views and copy on write.
// Expected values are hand-computed: the element at multi-index (i0, ..., ik) of a C-order
// array of shape (d0, ..., dk) sits at flat index sum_a i_a * prod_{b > a} d_b.
#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "symbatch/core/array.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace core_array_test {

using namespace symbatch;

namespace {

/// `0, 1, ..., n-1` as doubles.
std::vector<double> iota(std::int64_t n) {
  std::vector<double> values(static_cast<std::size_t>(n));
  std::iota(values.begin(), values.end(), 0.0);
  return values;
}

/// True when `view`'s elements lie inside `parent`'s buffer.
bool inside_buffer(const Array& view, const Array& parent) {
  const std::byte* begin = parent.buffer_begin();
  const std::byte* end = begin + parent.buffer_bytes();
  return view.raw_data() >= begin && view.raw_data() + view.bytes() <= end;
}

}  // namespace

// --- Shape -----------------------------------------------------------------------------------

TEST_CASE("shape: size, strides and text of ranks 0 to 4", "[core][shape]") {
  CHECK(Shape{}.rank() == 0);
  CHECK(Shape{}.size() == 1);
  CHECK(Shape{}.str() == "()");
  CHECK(Shape{5}.str() == "(5,)");
  CHECK(Shape{3, 4}.str() == "(3, 4)");
  const Shape shape{2, 3, 4, 5};
  CHECK(shape.rank() == 4);
  CHECK(shape.size() == 120);
  const auto strides = shape.strides();
  CHECK(strides[0] == 60);
  CHECK(strides[1] == 20);
  CHECK(strides[2] == 5);
  CHECK(strides[3] == 1);
  CHECK(Shape{2, 0, 3}.size() == 0);
}

TEST_CASE("shape: a rank above max_rank or a negative dimension is rejected", "[core][shape]") {
  CHECK_NOTHROW(Shape{1, 1, 1, 1, 1, 1});
  CHECK_THROWS_WITH(Shape({1, 1, 1, 1, 1, 1, 1}), "Shape: rank 7 exceeds the maximum rank 6");
  CHECK_THROWS_AS(Shape({1, 1, 1, 1, 1, 1, 1}), std::invalid_argument);
  CHECK_THROWS_WITH(Shape({3, -2}), "Shape: dimension 1 is -2, but must be nonnegative");
}

TEST_CASE("shape: a size that overflows int64 is an error, not a wrapped product", "[core][shape][overflow]") {
  // 2^32 * 2^32 = 2^64 does not fit; 2^31 * 2^31 * 2 = 2^63 neither; 2^31 * 2^31 = 2^62 does.
  CHECK_THROWS_WITH(Shape({std::int64_t{1} << 32, std::int64_t{1} << 32}).size(),
                    "Shape: the size of (4294967296, 4294967296) overflows a 64-bit integer");
  CHECK_THROWS_AS(Shape({std::int64_t{1} << 32, std::int64_t{1} << 32}).size(), std::invalid_argument);
  CHECK_THROWS_WITH(Shape({std::int64_t{1} << 31, std::int64_t{1} << 31, 2}).size(),
                    "Shape: the size of (2147483648, 2147483648, 2) overflows a 64-bit integer");
  CHECK(Shape({std::int64_t{1} << 31, std::int64_t{1} << 31}).size() == std::int64_t{1} << 62);
  CHECK(Shape({INT64_MAX}).size() == INT64_MAX);
  // A zero dimension anywhere makes the size 0, even after a product that would overflow.
  CHECK(Shape({std::int64_t{1} << 62, std::int64_t{1} << 62, 0}).size() == 0);
  CHECK(Shape({0, std::int64_t{1} << 62, std::int64_t{1} << 62}).size() == 0);
  // Strides of such a shape are computed without signed overflow (they address no element).
  const auto strides = Shape({0, std::int64_t{1} << 62, 4}).strides();
  CHECK(strides[2] == 1);
  CHECK(strides[1] == 4);
}

// --- factories and dtypes --------------------------------------------------------------------

TEST_CASE("array: a default array is a rank-0 f64 array without buffer", "[core][array]") {
  const Array array;
  CHECK(array.dtype() == DType::f64);
  CHECK(array.rank() == 0);
  CHECK_FALSE(array.has_buffer());
  CHECK_FALSE(array.unique());
  CHECK(array.raw_data() == nullptr);
  // Copying or reading it must not touch a null pointer.
  const Array copy = array.copy();
  CHECK_FALSE(copy.has_buffer());
  CHECK_THROWS_WITH(array.item(), "Array::flat: array has no buffer");
}

TEST_CASE("array: factories make the dtype, shape and values asked for", "[core][array]") {
  SECTION("zeros of each dtype") {
    const Array f = Array::zeros(DType::f64, Shape{2, 3});
    CHECK(f.dtype() == DType::f64);
    CHECK(f.shape() == Shape{2, 3});
    CHECK(f.to_vector() == std::vector<double>(6, 0.0));
    const Array i = Array::zeros(DType::i64, Shape{4});
    CHECK(i.dtype() == DType::i64);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>(4, 0));
    const Array b = Array::zeros(DType::boolean, Shape{3});
    CHECK(b.dtype() == DType::boolean);
    CHECK(b.to_vector<bool>() == std::vector<bool>{false, false, false});
    const Array r = Array::zeros(DType::rng, Shape{});
    CHECK(r.dtype() == DType::rng);
    CHECK(r.data<RngState>()[0] == RngState{});
  }
  SECTION("full") {
    const Array f = Array::full(Shape{2, 2}, 2.5);
    CHECK(f.dtype() == DType::f64);
    CHECK(f.to_vector() == std::vector<double>{2.5, 2.5, 2.5, 2.5});
    const Array i = Array::full<std::int64_t>(Shape{3}, -7);
    CHECK(i.dtype() == DType::i64);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{-7, -7, -7});
    const Array b = Array::full(Shape{2}, true);
    CHECK(b.dtype() == DType::boolean);
    CHECK(b.to_vector<bool>() == std::vector<bool>{true, true});
  }
  SECTION("scalar") {
    const Array f = Array::scalar(3.25);
    CHECK(f.rank() == 0);
    CHECK(f.size() == 1);
    CHECK(f.item() == 3.25);
    const Array i = Array::scalar<std::int64_t>(42);
    CHECK(i.dtype() == DType::i64);
    CHECK(i.item<std::int64_t>() == 42);
    const Array b = Array::scalar(true);
    CHECK(b.dtype() == DType::boolean);
    CHECK(b.item<bool>());
  }
  SECTION("from") {
    const Array v = Array::from({1.0, 2.0, 3.0});
    CHECK(v.shape() == Shape{3});
    CHECK(v.to_vector() == std::vector<double>{1, 2, 3});
    const Array m = Array::from(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
    CHECK(m.dtype() == DType::i64);
    CHECK(m.shape() == Shape{2, 3});
    CHECK(m.at<std::int64_t>(1, 0) == 4);
    const bool flags[] = {true, false, true, true};
    const Array b = Array::from(std::span<const bool>(flags), Shape{2, 2});
    CHECK(b.dtype() == DType::boolean);
    CHECK(b.at<bool>(0, 1) == false);
    CHECK(b.at<bool>(1, 0) == true);
    const Array bits = Array::from(std::vector<bool>{false, true, true});
    CHECK(bits.dtype() == DType::boolean);
    CHECK(bits.to_vector<bool>() == std::vector<bool>{false, true, true});
    CHECK(Array::from(std::vector<bool>{true, false}, Shape{1, 2}).at<bool>(0, 0));
    CHECK_THROWS_WITH(Array::from(std::vector<bool>{true}, Shape{2}), "Array::from: got 1 values for shape (2,) of size 2");
    // `from` copies: changing the source afterwards does not change the array.
    std::vector<double> source{1, 2};
    const Array copied = Array::from(source);
    source[0] = 9;
    CHECK(copied.to_vector() == std::vector<double>{1, 2});
  }
  SECTION("arange") {
    CHECK(Array::arange(4).to_vector() == std::vector<double>{0, 1, 2, 3});
    const Array i = Array::arange<std::int64_t>(3);
    CHECK(i.dtype() == DType::i64);
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2});
    CHECK(Array::arange(0).shape() == Shape{0});
  }
}

TEST_CASE("array: from rejects a value count that does not match the shape", "[core][array]") {
  CHECK_THROWS_WITH(Array::from(std::vector<double>{1, 2, 3}, Shape{2, 2}), "Array::from: got 3 values for shape (2, 2) of size 4");
  CHECK_THROWS_AS(Array::from(std::vector<double>{1, 2, 3}, Shape{2, 2}), std::invalid_argument);
}

TEST_CASE("array: buffers are 64-byte aligned", "[core][array]") {
  for (std::int64_t n : {0, 1, 3, 17, 1000}) {
    const Array array = Array::empty(DType::f64, Shape{n});
    CHECK(reinterpret_cast<std::uintptr_t>(array.buffer_begin()) % 64 == 0);
  }
}

// --- element access --------------------------------------------------------------------------

TEST_CASE("array: elements are stored in C order for ranks 0 to 4", "[core][array]") {
  SECTION("rank 0") {
    const Array a = Array::scalar(7.0);
    CHECK(a.at() == 7.0);
  }
  SECTION("rank 1") {
    const Array a = Array::from(iota(5));
    CHECK(a.at(3) == 3.0);
  }
  SECTION("rank 2") {
    const Array a = Array::from(iota(12), Shape{3, 4});
    CHECK(a.at(0, 3) == 3.0);
    CHECK(a.at(1, 0) == 4.0);
    CHECK(a.at(2, 1) == 9.0);  // 2*4 + 1
  }
  SECTION("rank 3") {
    const Array a = Array::from(iota(24), Shape{2, 3, 4});
    CHECK(a.at(1, 2, 3) == 23.0);  // 12 + 8 + 3
    CHECK(a.at(1, 0, 2) == 14.0);  // 12 + 0 + 2
    CHECK(a.at(0, 2, 0) == 8.0);
  }
  SECTION("rank 4") {
    const Array a = Array::from(iota(120), Shape{2, 3, 4, 5});
    CHECK(a.at(1, 2, 3, 4) == 119.0);  // 60 + 40 + 15 + 4
    CHECK(a.at(1, 0, 1, 2) == 67.0);   // 60 + 0 + 5 + 2
    CHECK(a.at(0, 1, 0, 0) == 20.0);
    CHECK(a.at<std::int64_t>(0, 0, 3, 1) == 16);  // converted to the requested type
  }
}

TEST_CASE("array: at converts between dtypes", "[core][array]") {
  const Array i = Array::from(std::vector<std::int64_t>{-3, 5});
  CHECK(i.at<double>(0) == -3.0);
  const Array f = Array::from({2.0, 0.0});
  CHECK(f.at<bool>(0) == true);
  CHECK(f.at<bool>(1) == false);
  const bool flags[] = {true};
  CHECK(Array::from(std::span<const bool>(flags), Shape{1}).at<double>(0) == 1.0);
}

TEST_CASE("array: at checks the index count and each index", "[core][array]") {
  const Array a = Array::from(iota(6), Shape{2, 3});
  CHECK_THROWS_WITH(a.at(1), "Array::at: got 1 indices for an array of rank 2");
  CHECK_THROWS_WITH(a.at(1, 3), "Array::at: index 3 is out of range for axis 1 of size 3");
  CHECK_THROWS_WITH(a.at(-1, 0), "Array::at: index -1 is out of range for axis 0 of size 2");
  CHECK_THROWS_AS(a.at(2, 0), std::invalid_argument);
}

TEST_CASE("array: item reads the single element of a size-1 array", "[core][array]") {
  CHECK(Array::from({4.5}).item() == 4.5);
  CHECK(Array::from(std::vector<double>{-1.0}, Shape{1, 1}).item() == -1.0);
  CHECK_THROWS_WITH(Array::from({1.0, 2.0}).item(), "Array::item: array of shape (2,) has 2 elements, expected 1");
  CHECK_THROWS_WITH(Array::zeros(DType::f64, Shape{0, 3}).item(), "Array::item: array of shape (0, 3) has 0 elements, expected 1");
}

TEST_CASE("array: data checks the requested element type", "[core][array]") {
  Array a = Array::from({1.0});
  CHECK_NOTHROW(a.data<double>());
  CHECK_THROWS_WITH(a.data<std::int64_t>(), "Array::data: array has dtype f64, requested i64");
  const Array b = Array::scalar(true);
  CHECK_THROWS_WITH(b.data<double>(), "Array::data: array has dtype bool, requested f64");
  CHECK_THROWS_WITH(Array::zeros(DType::rng, Shape{}).item(), "Array::flat: rng arrays hold no numbers");
}

// --- views -----------------------------------------------------------------------------------

TEST_CASE("array: slice_rows is a zero-copy view inside the parent's buffer", "[core][array][view]") {
  const Array parent = Array::from(iota(12), Shape{4, 3});
  const Array view = parent.slice_rows(1, 3);
  CHECK(view.shape() == Shape{2, 3});
  CHECK(view.shares_buffer(parent));
  CHECK(inside_buffer(view, parent));
  CHECK(view.offset() == 3);
  CHECK(view.raw_data() == parent.raw_data() + 3 * sizeof(double));
  CHECK(view.to_vector() == std::vector<double>{3, 4, 5, 6, 7, 8});
  CHECK(view.at(1, 2) == 8.0);

  SECTION("a view of a view adds the offsets") {
    const Array inner = view.slice_rows(1, 2);
    CHECK(inner.offset() == 6);
    CHECK(inner.shares_buffer(parent));
    CHECK(inside_buffer(inner, parent));
    CHECK(inner.to_vector() == std::vector<double>{6, 7, 8});
  }
  SECTION("empty and full slices") {
    const Array empty = parent.slice_rows(4, 4);
    CHECK(empty.shape() == Shape{0, 3});
    CHECK(empty.size() == 0);
    CHECK(inside_buffer(empty, parent));
    const Array all = parent.slice_rows(0, 4);
    CHECK(all.raw_data() == parent.raw_data());
    CHECK(all.shape() == parent.shape());
  }
  SECTION("a write through the parent is seen by the view") {
    Array writer = parent;  // same buffer
    writer.data<double>()[4] = -1.0;
    CHECK(view.at(0, 1) == -1.0);
  }
  SECTION("rank 1 and rank 3 slices") {
    const Array vector = Array::from(iota(5));
    CHECK(vector.slice_rows(2, 5).to_vector() == std::vector<double>{2, 3, 4});
    const Array cube = Array::from(iota(24), Shape{2, 3, 4});
    const Array second = cube.slice_rows(1, 2);
    CHECK(second.shape() == Shape{1, 3, 4});
    CHECK(second.offset() == 12);
    CHECK(second.at(0, 2, 3) == 23.0);
  }
}

TEST_CASE("array: slice_rows rejects out-of-range rows and rank 0", "[core][array][view]") {
  const Array a = Array::from(iota(4));
  CHECK_THROWS_WITH(a.slice_rows(2, 5), "Array::slice_rows: rows [2, 5) are out of range for 4 rows");
  CHECK_THROWS_WITH(a.slice_rows(3, 2), "Array::slice_rows: rows [3, 2) are out of range for 4 rows");
  CHECK_THROWS_WITH(a.slice_rows(-1, 2), "Array::slice_rows: rows [-1, 2) are out of range for 4 rows");
  CHECK_THROWS_WITH(Array::scalar(1.0).slice_rows(0, 1), "Array::slice_rows: cannot slice a rank-0 array");
}

TEST_CASE("array: reshaped is a view with the same elements in C order", "[core][array][view]") {
  const Array a = Array::from(iota(6), Shape{2, 3});
  const Array b = a.reshaped(Shape{3, 2});
  CHECK(b.shares_buffer(a));
  CHECK(b.raw_data() == a.raw_data());
  CHECK(b.at(2, 0) == 4.0);
  CHECK(a.reshaped(Shape{6}).to_vector() == iota(6));
  CHECK(Array::from({5.0}).reshaped(Shape{}).item() == 5.0);
  // A reshaped slice keeps the slice's offset.
  const Array row = a.slice_rows(1, 2).reshaped(Shape{3});
  CHECK(row.to_vector() == std::vector<double>{3, 4, 5});
  CHECK_THROWS_WITH(a.reshaped(Shape{4}), "Array::reshaped: cannot reshape (2, 3) into (4,)");
}

TEST_CASE("array: copy owns a new buffer with the viewed elements only", "[core][array]") {
  const Array parent = Array::from(iota(12), Shape{4, 3});
  const Array copy = parent.slice_rows(2, 4).copy();
  CHECK_FALSE(copy.shares_buffer(parent));
  CHECK(copy.unique());
  CHECK(copy.offset() == 0);
  CHECK(copy.shape() == Shape{2, 3});
  CHECK(copy.buffer_bytes() == 6 * sizeof(double));
  CHECK(copy.to_vector() == std::vector<double>{6, 7, 8, 9, 10, 11});
  Array writable = copy;
  writable.data<double>()[0] = 100;
  CHECK(parent.at(2, 0) == 6.0);
  const Array ints = Array::from(std::vector<std::int64_t>{1, 2}).copy();
  CHECK(ints.dtype() == DType::i64);
  CHECK(ints.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
}

// --- ensure: copy on write -------------------------------------------------------------------

TEST_CASE("array: ensure reuses a buffer it owns alone when it is large enough", "[core][array][ensure]") {
  Array a = Array::zeros(DType::f64, Shape{4, 2});
  REQUIRE(a.unique());
  const std::byte* buffer = a.buffer_begin();
  a.ensure(DType::f64, Shape{3});  // smaller
  CHECK(a.buffer_begin() == buffer);
  CHECK(a.shape() == Shape{3});
  a.ensure(DType::i64, Shape{8});  // same bytes, other dtype
  CHECK(a.buffer_begin() == buffer);
  CHECK(a.dtype() == DType::i64);
  a.ensure(DType::f64, Shape{9});  // larger: a new buffer
  CHECK(a.shape() == Shape{9});
  CHECK(a.buffer_bytes() >= 9 * sizeof(double));

  SECTION("a sole-owner view is reused from the start of the buffer") {
    Array view = Array::from(iota(10)).slice_rows(5, 10);
    REQUIRE(view.unique());
    const std::byte* begin = view.buffer_begin();
    view.ensure(DType::f64, Shape{10});
    CHECK(view.buffer_begin() == begin);
    CHECK(view.offset() == 0);
    CHECK(view.raw_data() == begin);
  }
}

TEST_CASE("array: ensure on a shared buffer allocates and leaves the other owners intact", "[core][array][ensure]") {
  SECTION("a copied handle") {
    Array a = Array::from({1.0, 2.0, 3.0});
    const Array held = a;
    a.ensure(DType::f64, Shape{3});
    CHECK_FALSE(a.shares_buffer(held));
    a.data<double>()[0] = -5;
    CHECK(held.to_vector() == std::vector<double>{1, 2, 3});
  }
  SECTION("a view of the buffer") {
    Array a = Array::from(iota(6), Shape{3, 2});
    const Array view = a.slice_rows(1, 2);
    a.ensure(DType::f64, Shape{3, 2});
    CHECK_FALSE(a.shares_buffer(view));
    std::fill_n(a.data<double>(), 6, 0.0);
    CHECK(view.to_vector() == std::vector<double>{2, 3});
  }
  SECTION("a view writing itself") {
    const Array parent = Array::from(iota(6), Shape{3, 2});
    Array view = parent.slice_rows(0, 1);
    view.ensure(DType::f64, Shape{1, 2});
    CHECK_FALSE(view.shares_buffer(parent));
    view.data<double>()[0] = 50;
    CHECK(parent.at(0, 0) == 0.0);
  }
  SECTION("an array without buffer") {
    Array a;
    a.ensure(DType::boolean, Shape{2, 2});
    CHECK(a.has_buffer());
    CHECK(a.unique());
    CHECK(a.dtype() == DType::boolean);
    CHECK(a.bytes() == 4);
  }
}

TEST_CASE("array: a shape whose bytes reach 2^63 is refused before allocating", "[core][array][overflow]") {
  const std::int64_t huge = std::int64_t{1} << 61;  // 2^61 f64 elements are 2^64 bytes
  CHECK_THROWS_WITH(Array::full(Shape{huge}, 0.0), "Array: shape (2305843009213693952,) of f64 needs 2^63 bytes or more");
  CHECK_THROWS_AS(Array::full(Shape{huge}, 0.0), std::invalid_argument);
  CHECK_THROWS_WITH(Array::empty(DType::i64, Shape{std::int64_t{1} << 60}),
                    "Array: shape (1152921504606846976,) of i64 needs 2^63 bytes or more");
  CHECK_THROWS_WITH(Array::zeros(DType::rng, Shape{std::int64_t{1} << 58, 2}),
                    "Array: shape (288230376151711744, 2) of rng needs 2^63 bytes or more");
  CHECK_THROWS_WITH(Array::empty(DType::f64, Shape{std::int64_t{1} << 40, std::int64_t{1} << 40}),
                    "Shape: the size of (1099511627776, 1099511627776) overflows a 64-bit integer");
  CHECK_THROWS_WITH(Array::arange(huge), "Array: shape (2305843009213693952,) of f64 needs 2^63 bytes or more");
  // The largest count below the limit passes the check (byte_count allocates nothing).
  CHECK(Array::byte_count(DType::f64, Shape{INT64_MAX / 8}) == std::size_t{9223372036854775800u});
  CHECK(Array::byte_count(DType::boolean, Shape{INT64_MAX}) == std::size_t{9223372036854775807u});
  CHECK_THROWS_WITH(Array::byte_count(DType::f64, Shape{INT64_MAX / 8 + 1}),
                    "Array: shape (1152921504606846976,) of f64 needs 2^63 bytes or more");
  SECTION("ensure leaves the array as it was") {
    Array a = Array::from({1.0, 2.0});
    const std::byte* buffer = a.buffer_begin();
    CHECK_THROWS_WITH(a.ensure(DType::f64, Shape{huge / 4, 4}), "Array: shape (576460752303423488, 4) of f64 needs 2^63 bytes or more");
    CHECK(a.buffer_begin() == buffer);
    CHECK(a.shape() == Shape{2});
    CHECK(a.to_vector() == std::vector<double>{1, 2});
  }
}

TEST_CASE("array: reset drops the buffer reference", "[core][array]") {
  Array a = Array::from({1.0, 2.0});
  Array b = a;
  CHECK_FALSE(b.unique());
  a.reset();
  CHECK_FALSE(a.has_buffer());
  CHECK(b.unique());
}

}  // namespace core_array_test
