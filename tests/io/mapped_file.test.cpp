#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "symbatch/compile/function.hpp"
#include "symbatch/io/npy.hpp"
#include "symbatch/ops/elemwise.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace io_mapped_file_test {

using namespace symbatch;

namespace {

struct TemporaryDirectory {
  std::filesystem::path path;
  explicit TemporaryDirectory(const std::string& tag)
      : path(std::filesystem::temp_directory_path() / ("symbatch_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TemporaryDirectory() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// True when the kernel lists a mapping of `path` in this process (Linux's /proc/self/maps).
bool mapped_in_this_process(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.ends_with(" " + path)) return true;
  return false;
}

const std::string read_only_message =
    "Array::data: the array borrows read-only memory (a mapped file): read it through a const Array, or write into a copy()";

}  // namespace

TEST_CASE("map_npy: the mapping lives as long as any array or view uses it", "[io][npy][map]") {
  REQUIRE(std::filesystem::exists("/proc/self/maps"));
  TemporaryDirectory directory("npy_lifetime");
  const std::string path = directory.file("halves.npy");
  Array halves = Array::empty(DType::f64, Shape{1000});
  for (std::int64_t i = 0; i < 1000; ++i) halves.data<double>()[i] = 0.5 * static_cast<double>(i);
  save_npy(path, halves);

  Array slice;
  {
    const Array mapped = map_npy(path);
    CHECK(mapped_in_this_process(path));
    slice = mapped.slice_rows(900, 1000);
  }  // the original array is gone; the slice still reads the file's pages
  CHECK(mapped_in_this_process(path));
  CHECK(slice.borrowed());
  for (std::int64_t k = 0; k < 100; ++k) REQUIRE(slice.flat<double>(k) == 0.5 * static_cast<double>(900 + k));
  const Array reshaped = slice.reshaped(Shape{10, 10});
  slice.reset();
  CHECK(mapped_in_this_process(path));
  CHECK(reshaped.at(9, 9) == 499.5);
  const_cast<Array&>(reshaped).reset();
  CHECK_FALSE(mapped_in_this_process(path));
}

TEST_CASE("Array::borrow: a borrowed array is read-only, never unique, and ensure allocates afresh", "[io][array][map]") {
  TemporaryDirectory directory("npy_read_only");
  const std::string path = directory.file("values.npy");
  save_npy(path, Array::from({1.0, 2.0, 3.0}));

  Array mapped = map_npy(path);  // this array is the mapping's only holder
  CHECK(mapped.borrowed());
  CHECK_FALSE(mapped.unique());
  CHECK_THROWS_WITH(mapped.data<double>(), read_only_message);
  CHECK_THROWS_WITH(mapped.raw_data(), read_only_message);
  CHECK_THROWS_AS(mapped.data<double>(), std::invalid_argument);
  CHECK(std::as_const(mapped).data<double>()[2] == 3.0);

  Array copy = mapped.copy();
  CHECK_FALSE(copy.borrowed());
  CHECK(copy.unique());
  copy.data<double>()[0] = 42.0;

  const std::byte* mapping = mapped.buffer_begin();
  mapped.ensure(DType::f64, Shape{2});  // a size that would fit in the mapping
  CHECK(mapped.buffer_begin() != mapping);
  CHECK_FALSE(mapped.borrowed());
  mapped.data<double>()[0] = -1.0;
  CHECK(load_npy(path).to_vector() == std::vector<double>{1, 2, 3});
}

TEST_CASE("Array::borrow: the keep-alive lives until the last view is gone, and bad pointers are refused", "[io][array]") {
  auto storage = std::make_shared<std::vector<double>>(std::vector<double>{1, 2, 3, 4, 5, 6});
  const std::weak_ptr<std::vector<double>> watch = storage;
  Array view;
  {
    const Array matrix = Array::borrow(DType::f64, Shape{3, 2}, reinterpret_cast<const std::byte*>(storage->data()), storage);
    storage.reset();
    view = matrix.slice_rows(2, 3);
  }
  CHECK_FALSE(watch.expired());
  CHECK(view.to_vector() == std::vector<double>{5, 6});
  view.reset();
  CHECK(watch.expired());

  alignas(8) std::byte bytes[16] = {};
  CHECK_THROWS_WITH(Array::borrow(DType::f64, Shape{1}, nullptr, nullptr), "Array::borrow: data is null for shape (1,)");
  CHECK_THROWS_AS(Array::borrow(DType::i64, Shape{1}, bytes + 1, nullptr), std::invalid_argument);
  CHECK(Array::borrow(DType::boolean, Shape{1}, bytes + 1, nullptr).item<bool>() == false);
  CHECK(Array::borrow(DType::f64, Shape{0}, nullptr, nullptr).size() == 0);
}

TEST_CASE("map_npy: compiled functions never write into a mapping, even when it is their only holder", "[io][npy][map][compile]") {
  TemporaryDirectory directory("npy_compiled");
  const std::string path = directory.file("x.npy");
  const std::vector<double> original{1, 2, 3, 4};
  save_npy(path, Array::from(original));
  for (bool fuse : {false, true}) {
    // The shared variable is the mapping's only holder; the update swaps its value into the
    // function's own slot, where the next call computes `2 x + 1` again.
    const Variable x = shared(map_npy(path), "x");
    const Variable next = x * 2.0 + 1.0;
    Function step = compile({}, {next}, {.updates = {{x, next}}, .fuse = fuse});
    std::vector<double> expected = original;
    for (int call = 0; call < 4; ++call) {
      for (double& value : expected) value = 2 * value + 1;
      REQUIRE(step()[0].to_vector() == expected);
    }
    CHECK(get_value(x).to_vector() == expected);
    CHECK(load_npy(path).to_vector() == original);
  }
}

}  // namespace io_mapped_file_test
