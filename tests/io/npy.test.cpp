#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "symbatch/io/npy.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace io_npy_test {

using namespace symbatch;

namespace {

/// A committed fixture written by NumPy (tests/io/fixtures/make_fixtures.py).
std::string fixture(const std::string& name) { return (std::filesystem::path(__FILE__).parent_path() / "fixtures" / name).string(); }

/// A fresh directory under the system's temporary directory, removed with its files at the end.
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

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// An .npy file built by hand from the format's definition: no padding unless the dict has it.
std::string handmade_npy(const std::string& dict, const std::string& data, int major_version = 1) {
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major_version) + '\0';
  const std::size_t length_bytes = major_version == 1 ? 2 : 4;
  for (std::size_t k = 0; k < length_bytes; ++k) bytes += static_cast<char>((dict.size() >> (8 * k)) & 0xff);
  return bytes + dict + data;
}

template <class T>
std::string bytes_of(std::initializer_list<T> values) {
  std::string bytes;
  for (T value : values) bytes.append(reinterpret_cast<const char*>(&value), sizeof(T));
  return bytes;
}

/// `function: path: what`, the form of every error about a file's contents.
std::string message(const std::string& function, const std::string& path, const std::string& what) { return function + ": " + path + ": " + what; }

}  // namespace

TEST_CASE("load_npy: reads the f64, i64 and bool files NumPy wrote, with their values", "[io][npy]") {
  const Array f64 = load_npy(fixture("f8_2x3.npy"));
  CHECK(f64.dtype() == DType::f64);
  CHECK(f64.shape() == Shape{2, 3});
  CHECK(f64.to_vector() == std::vector<double>{1.5, -2.25, 3e-300, 1e300, 0.1, -0.0});
  CHECK(std::signbit(f64.at(1, 2)));
  CHECK_FALSE(f64.borrowed());

  const Array i64 = load_npy(fixture("i8_vector.npy"));
  CHECK(i64.dtype() == DType::i64);
  CHECK(i64.to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0, 1, std::numeric_limits<std::int64_t>::max()});

  const Array flags = load_npy(fixture("bool_vector.npy"));
  CHECK(flags.dtype() == DType::boolean);
  CHECK(flags.to_vector<bool>() == std::vector<bool>{true, false, true, true});
}

TEST_CASE("load_npy: int32 files are widened to i64", "[io][npy]") {
  const Array widened = load_npy(fixture("i4_vector.npy"));
  CHECK(widened.dtype() == DType::i64);
  CHECK(widened.to_vector<std::int64_t>() == std::vector<std::int64_t>{-2147483648LL, -1, 0, 7, 2147483647LL});
}

TEST_CASE("load_npy and map_npy: float32 files are f32 arrays, or f64 copies when NpyOptions asks", "[io][npy]") {
  const std::string path = fixture("f4_vector.npy");
  // 0.1 rounded to float32 is 13421773 / 2^27 exactly.
  const std::vector<double> expected{0.5, -1.25, 13421773.0 / 134217728.0};
  const Array loaded = load_npy(path);
  CHECK(loaded.dtype() == DType::f32);
  CHECK_FALSE(loaded.borrowed());
  CHECK(loaded.to_vector() == expected);
  const Array converted = load_npy(path, {.convert_f32_to_f64 = true});
  CHECK(converted.dtype() == DType::f64);
  CHECK(converted.to_vector() == expected);
  const Array mapped = map_npy(path);
  CHECK(mapped.dtype() == DType::f32);
  CHECK(mapped.borrowed());  // a view of the mapping: no copy
  CHECK(mapped.shape() == Shape{3});
  CHECK(mapped.to_vector() == expected);
  CHECK(std::vector<float>(mapped.data<float>(), mapped.data<float>() + 3) == std::vector<float>{0.5f, -1.25f, 0.1f});
}

TEST_CASE("load_npy and map_npy: rank-0 and zero-row arrays", "[io][npy]") {
  for (const Array& scalar : {load_npy(fixture("f8_scalar.npy")), map_npy(fixture("f8_scalar.npy"))}) {
    CHECK(scalar.rank() == 0);
    CHECK(scalar.item() == 2.5);
  }
  for (const Array& empty : {load_npy(fixture("f8_0x3.npy")), map_npy(fixture("f8_0x3.npy"))}) {
    CHECK(empty.shape() == Shape{0, 3});
    CHECK(empty.size() == 0);
  }
}

TEST_CASE("load_npy and map_npy: header versions 2.0 and 3.0", "[io][npy]") {
  CHECK(load_npy(fixture("f8_v2.npy")).to_vector() == std::vector<double>{1, 2, 3});
  CHECK(map_npy(fixture("f8_v2.npy")).to_vector() == std::vector<double>{1, 2, 3});
  CHECK(load_npy(fixture("f8_v3.npy")).to_vector() == std::vector<double>{4, 5});
  CHECK(map_npy(fixture("f8_v3.npy")).to_vector() == std::vector<double>{4, 5});
  // A 2.0 header longer than 1.0's 2-byte length allows (spaces inside the dict are legal).
  TemporaryDirectory directory("npy_v2");
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,)" + std::string(70000, ' ') + "}";
  write_bytes(directory.file("long.npy"), handmade_npy(dict + std::string(64 - (12 + dict.size()) % 64, ' '), bytes_of<std::int64_t>({-5, 6}), 2));
  CHECK(load_npy(directory.file("long.npy")).to_vector<std::int64_t>() == std::vector<std::int64_t>{-5, 6});
  CHECK(map_npy(directory.file("long.npy")).to_vector<std::int64_t>() == std::vector<std::int64_t>{-5, 6});
}

TEST_CASE("map_npy: the values load_npy reads, viewed in place in the file's pages", "[io][npy][map]") {
  for (const char* name : {"f8_2x3.npy", "i8_vector.npy", "bool_vector.npy", "f8_v3.npy"}) {
    const std::string path = fixture(name);
    const Array mapped = map_npy(path);
    const Array loaded = load_npy(path);
    CHECK(mapped.borrowed());
    CHECK(mapped.dtype() == loaded.dtype());
    CHECK(mapped.shape() == loaded.shape());
    CHECK(mapped.to_vector() == loaded.to_vector());
    // The elements are the file's last bytes, read through the mapping.
    const std::string file = read_bytes(path);
    CHECK(std::memcmp(mapped.raw_data(), file.data() + file.size() - mapped.bytes(), mapped.bytes()) == 0);
  }
}

TEST_CASE("map_npy: a Fortran-order file whose array has one long axis is read (same bytes as C order)", "[io][npy]") {
  for (const Array& column : {load_npy(fixture("f8_fortran_column.npy")), map_npy(fixture("f8_fortran_column.npy"))}) {
    CHECK(column.shape() == Shape{3, 1});
    CHECK(column.to_vector() == std::vector<double>{7, 8, 9});
  }
}

TEST_CASE("load_npy and map_npy: files NumPy wrote that symbatch does not read are refused, saying why", "[io][npy][errors]") {
  for (const std::string function : {"load_npy", "map_npy"}) {
    const auto read = [&](const std::string& path) { return function == "load_npy" ? load_npy(path) : map_npy(path); };
    const std::string big = fixture("f8_big_endian.npy");
    CHECK_THROWS_WITH(read(big), message(function, big,
                                         "big-endian data ('>f8') are not supported; convert the file in NumPy: "
                                         "np.save(path, a.astype('<f8'))"));
    const std::string fortran = fixture("f8_fortran_2x3.npy");
    CHECK_THROWS_WITH(read(fortran), message(function, fortran,
                                             "the array is stored in Fortran (column-major) order, which is not supported; "
                                             "convert the file in NumPy: np.save(path, np.ascontiguousarray(a))"));
    const std::string int8 = fixture("i1_vector.npy");
    CHECK_THROWS_WITH(read(int8), message(function, int8,
                                          "unsupported dtype '|i1' (int8); symbatch reads float64, float32, int64, int32 "
                                          "(widened to int64) and bool"));
    const std::string structured = fixture("structured.npy");
    CHECK_THROWS_WITH(read(structured), message(function, structured,
                                                "unsupported dtype: a structured dtype (a list of fields); symbatch reads "
                                                "float64, float32, int64, int32 (widened to int64) and bool"));
    CHECK_THROWS_AS(read(big), std::invalid_argument);
  }
  const std::string int32 = fixture("i4_vector.npy");
  CHECK_THROWS_WITH(map_npy(int32), message("map_npy", int32,
                                            "int32 data ('<i4') cannot be viewed in place, because symbatch stores integers as "
                                            "int64: use load_npy, which widens them, or convert the file in NumPy: "
                                            "np.save(path, a.astype('<i8'))"));
}

TEST_CASE("load_npy and map_npy: a missing, empty, foreign, truncated or lying file gets an error naming it", "[io][npy][errors]") {
  TemporaryDirectory directory("npy_errors");
  const auto file = [&](const std::string& name, const std::string& bytes) {
    write_bytes(directory.file(name), bytes);
    return directory.file(name);
  };
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  const std::string two_doubles = bytes_of<double>({1.0, 2.0});
  const std::string missing = directory.file("missing.npy");
  const std::string empty = file("empty.npy", "");
  const std::string text = file("text.npy", "x1,x2\n1,2\n");
  const std::string preamble = file("preamble.npy", std::string("\x93NUMPY\x01\x00\x76", 9));
  const std::string header = file("header.npy", handmade_npy(dict, "").substr(0, 40));
  const std::string version = file("version.npy", std::string("\x93NUMPY\x04\x00", 8) + std::string(4, '\0'));
  const std::string data = file("data.npy", handmade_npy(dict, two_doubles.substr(0, 12)));
  const std::string longer = file("longer.npy", handmade_npy(dict, two_doubles + two_doubles));
  const std::string garbage = file("garbage.npy", handmade_npy("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,), }", two_doubles));
  const std::string no_shape = file("no_shape.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False}", two_doubles));
  const std::string negative = file("negative.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", ""));
  const std::string huge = file("huge.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""));
  const std::string rank7 = file("rank7.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1), }", ""));
  const std::string bad_bool = file("bad_bool.npy", handmade_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x02\x00", 3)));
  const std::string directory_path = directory.path.string();

  for (const std::string function : {"load_npy", "map_npy"}) {
    const auto read = [&](const std::string& path) { return function == "load_npy" ? load_npy(path) : map_npy(path); };
    CHECK_THROWS_WITH(read(missing), function + ": cannot open " + missing + ": No such file or directory");
    CHECK_THROWS_WITH(read(directory_path), function + ": cannot read " + directory_path + ": it is a directory");
    const std::string not_npy = "not a NumPy .npy file (it does not start with the magic string \\x93NUMPY)";
    CHECK_THROWS_WITH(read(empty), message(function, empty, not_npy));
    CHECK_THROWS_WITH(read(text), message(function, text, not_npy));
    CHECK_THROWS_WITH(read(preamble), message(function, preamble, "truncated header: the file has only 9 bytes, fewer than the 10-byte preamble of format 1.0"));
    CHECK_THROWS_WITH(read(header), message(function, header, "truncated header: the header should end at byte 67, but the file has only 40 bytes"));
    CHECK_THROWS_WITH(read(version), message(function, version, "unsupported .npy format version 4.0 (symbatch reads 1.0, 2.0 and 3.0)"));
    CHECK_THROWS_WITH(read(data), message(function, data,
                                          "truncated data: shape (2,) of '<f8' needs 16 bytes after the 67-byte header, but the file "
                                          "has only 12"));
    CHECK_THROWS_WITH(read(longer), message(function, longer,
                                            "the header does not match the file's size: shape (2,) of '<f8' needs 16 bytes after the "
                                            "67-byte header, but the file has 32"));
    CHECK_THROWS_WITH(read(garbage), message(function, garbage,
                                             "malformed header: expected True or False at character 35 of the header \"{'descr': '<f8', "
                                             "'fortran_order': Maybe, 'shape': (2,), }\""));
    CHECK_THROWS_WITH(read(no_shape), message(function, no_shape, "malformed header: it lacks the key 'shape'"));
    CHECK_THROWS_WITH(read(negative), message(function, negative,
                                              "malformed header: expected a nonnegative integer in the shape at character 52 of the "
                                              "header \"{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }\""));
    CHECK_THROWS_WITH(read(huge), message(function, huge, "the header's shape (4294967296, 4294967296) is too large"));
    CHECK_THROWS_WITH(read(rank7), message(function, rank7, "the array has more than 6 dimensions, symbatch's maximum rank"));
    CHECK_THROWS_WITH(read(bad_bool), message(function, bad_bool, "element 1 of the bool data is the byte 2, but a bool must be 0 or 1"));
    CHECK_THROWS_AS(read(missing), std::invalid_argument);
    CHECK_THROWS_AS(read(data), std::invalid_argument);
  }
}

TEST_CASE("map_npy: data that do not start at a multiple of the element size are loaded, not mapped", "[io][npy][map]") {
  TemporaryDirectory directory("npy_alignment");
  const std::string path = directory.file("unaligned.npy");
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";  // 57 bytes: the data start at 67
  write_bytes(path, handmade_npy(dict, bytes_of<double>({0.25, -8.0})));
  CHECK(load_npy(path).to_vector() == std::vector<double>{0.25, -8.0});
  CHECK_THROWS_WITH(map_npy(path), message("map_npy", path,
                                           "the data start at byte 67, not a multiple of the 8-byte element size, so they cannot "
                                           "be viewed in place; use load_npy"));
}

TEST_CASE("save_npy: what it writes reads back with its dtype, shape and values", "[io][npy][save]") {
  TemporaryDirectory directory("npy_save");
  const std::string path = directory.file("saved.npy");
  const std::vector<Array> arrays = {
      Array::from(std::vector<double>{1.5, -0.0, 1e-310, std::numeric_limits<double>::infinity(), 7, 8}, Shape{2, 3}),
      Array::from(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 3}),
      Array::from(std::vector<bool>{true, false, false}),
      Array::scalar(-4.0),
      Array::zeros(DType::f64, Shape{0, 3}),
      Array::arange(64).reshaped(Shape{2, 1, 2, 2, 4, 2}),
      Array::from(std::vector<float>{0.1f, -3.5f, 1e-40f, std::numeric_limits<float>::infinity()}, Shape{2, 2}),
  };
  for (const Array& array : arrays) {
    save_npy(path, array);
    for (const Array& back : {load_npy(path), map_npy(path)}) {
      CHECK(back.dtype() == array.dtype());
      CHECK(back.shape() == array.shape());
      CHECK(std::memcmp(back.raw_data(), array.raw_data(), array.bytes()) == 0);
    }
    const std::string bytes = read_bytes(path);
    const std::size_t data_offset = bytes.size() - array.bytes();
    CHECK(data_offset % 64 == 0);
    CHECK(bytes[data_offset - 1] == '\n');
    CHECK(bytes[6] == '\x01');  // format 1.0
  }
  // A view saves its own elements, not its whole buffer.
  save_npy(path, arrays[5].slice_rows(1, 2));
  CHECK(load_npy(path).to_vector() == Array::arange(64).slice_rows(32, 64).to_vector());
}

TEST_CASE("save_npy: writes the same bytes as NumPy", "[io][npy][save]") {
  TemporaryDirectory directory("npy_same_bytes");
  for (const char* name : {"f8_2x3.npy", "i8_vector.npy", "bool_vector.npy", "f8_scalar.npy", "f8_0x3.npy", "f4_vector.npy"}) {
    const std::string path = directory.file(name);
    save_npy(path, load_npy(fixture(name)));
    CHECK(read_bytes(path) == read_bytes(fixture(name)));
  }
}

TEST_CASE("save_npy: a header too long for format 1.0 is written as 2.0, data still 64-byte aligned", "[io][npy][save]") {
  const std::string dict(70000, ' ');
  const std::string bytes = detail::npy_wrap_header(dict);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x02\x00", 8));
  std::uint32_t length = 0;
  std::memcpy(&length, bytes.data() + 8, 4);
  CHECK(12 + length == bytes.size());
  CHECK(bytes.size() % 64 == 0);
  CHECK(bytes.back() == '\n');
  const std::string short_bytes = detail::npy_wrap_header("{}");
  CHECK(short_bytes.size() == 64);
  CHECK(short_bytes[6] == '\x01');
}

TEST_CASE("save_npy: saving over a mapped file leaves the mapping with the old contents", "[io][npy][save][map]") {
  TemporaryDirectory directory("npy_replace");
  const std::string path = directory.file("data.npy");
  save_npy(path, Array::from({1.0, 2.0, 3.0}));
  const Array mapped = map_npy(path);
  save_npy(path, Array::from({4.0, 5.0}));
  CHECK(mapped.to_vector() == std::vector<double>{1, 2, 3});
  CHECK(load_npy(path).to_vector() == std::vector<double>{4, 5});
}

TEST_CASE("save_npy: errors name the file and the reason", "[io][npy][save][errors]") {
  TemporaryDirectory directory("npy_save_errors");
  const Array values = Array::from({1.0, 2.0});
  CHECK_THROWS_WITH(save_npy(directory.file("rng.npy"), Array::zeros(DType::rng, Shape{})),
                    "save_npy: array has dtype rng, which an .npy file cannot hold (f64, i64, bool and f32 can be saved)");
  CHECK_THROWS_WITH(save_npy(directory.file("none.npy"), Array()),
                    "save_npy: array has no buffer (a default-constructed Array holds no elements)");
  const std::string no_directory = directory.file("missing/x.npy");
  CHECK_THROWS_WITH(save_npy(no_directory, values), "save_npy: cannot create " + no_directory + ": No such file or directory");
  CHECK_THROWS_AS(save_npy(no_directory, values), std::invalid_argument);
  std::filesystem::create_directory(directory.path / "taken");
  const std::string taken = directory.file("taken");
  CHECK_THROWS_WITH(save_npy(taken, values), "save_npy: cannot replace " + taken + ": Is a directory");
  CHECK(std::filesystem::is_empty(directory.path / "taken"));
  CHECK(std::distance(std::filesystem::directory_iterator(directory.path), {}) == 1);  // no temporary left behind
}

TEST_CASE("save_npy: a failed write (the file size limit) is reported and leaves no file", "[io][npy][save][errors]") {
  TemporaryDirectory directory("npy_write_error");
  const std::string path = directory.file("big.npy");
  // The limit is set in a child process, so this process keeps its own limits and signals.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // write then fails with EFBIG instead of killing the process
    const rlimit limit{1000, 1000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int code = 1;
    try {
      save_npy(path, Array::zeros(DType::f64, Shape{1000}));
    } catch (const std::invalid_argument& error) {
      code = std::string(error.what()) == "save_npy: cannot write " + path + ": File too large" ? 0 : 2;
    }
    std::_Exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::filesystem::is_empty(directory.path));
}

}  // namespace io_npy_test
