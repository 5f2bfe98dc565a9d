#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "symbatch/io/csv.hpp"

// The suite is a unity build: each file keeps its names in a namespace of its own.
namespace io_csv_test {

using namespace symbatch;

namespace {

/// Writes `text` to a file of a directory removed at the end of the test.
struct CsvFiles {
  std::filesystem::path directory = std::filesystem::temp_directory_path() / ("symbatch_csv_" + std::to_string(::getpid()));
  CsvFiles() {
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
  }
  ~CsvFiles() { std::filesystem::remove_all(directory); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string path = (directory / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
};

const std::string data_csv =
    "id,x1,x2,y\n"
    "a,1.5,-2,0\n"
    "b,0.1,1e-3,1\n"
    "c,-0,+3,1\n";

}  // namespace

TEST_CASE("load_csv: every column of a file with a header, with its names", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("numbers.csv", "x1,x2,y\n1.5,-2,0\n0.1,1e-3,1\n-0,+3,1\n");
  const CsvTable table = load_csv(path);
  CHECK(table.column_names == std::vector<std::string>{"x1", "x2", "y"});
  CHECK(table.values.dtype() == DType::f64);
  CHECK(table.values.shape() == Shape{3, 3});
  CHECK(table.values.to_vector() == std::vector<double>{1.5, -2, 0, 0.1, 1e-3, 1, -0.0, 3, 1});
  CHECK(std::signbit(table.values.at(2, 0)));
}

TEST_CASE("load_csv: columns chosen by name or index, in the order given, and other columns may hold text", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("data.csv", data_csv);
  const CsvTable by_name = load_csv(path, {.columns = {"y", "x1"}});
  CHECK(by_name.column_names == std::vector<std::string>{"y", "x1"});
  CHECK(by_name.values.shape() == Shape{3, 2});
  CHECK(by_name.values.to_vector() == std::vector<double>{0, 1.5, 1, 0.1, 1, -0.0});
  const CsvTable by_index = load_csv(path, {.columns = {2, 1}});
  CHECK(by_index.column_names == std::vector<std::string>{"x2", "x1"});
  CHECK(by_index.values.to_vector() == std::vector<double>{-2, 1.5, 1e-3, 0.1, 3, -0.0});
  CHECK(load_csv(path, {.columns = {"x2", 3}}).values.to_vector() == std::vector<double>{-2, 0, 1e-3, 1, 3, 1});
}

TEST_CASE("load_csv: a file without a header row", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("plain.csv", "1,2\n3,4\n5,6\n");
  const CsvTable table = load_csv(path, {.header = false});
  CHECK(table.values.shape() == Shape{3, 2});
  CHECK(table.values.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(table.column_names == std::vector<std::string>{"", ""});
  CHECK(load_csv(path, {.header = false, .columns = {1}}).values.to_vector() == std::vector<double>{2, 4, 6});
  CHECK_THROWS_WITH(load_csv(path, {.header = false, .columns = {"x"}}),
                    "load_csv: " + path + ": column 'x' is chosen by name, but CsvOptions::header is false");
}

TEST_CASE("load_csv: other delimiters", "[io][csv]") {
  CsvFiles files;
  const std::string semicolons = files.write("semicolons.csv", "a;b\n1,5;2\n");  // a decimal comma is not a number
  CHECK_THROWS_WITH(load_csv(semicolons, {.delimiter = ';'}), "load_csv: " + semicolons + " line 2, column 1 ('a'): cannot read '1,5' as a number");
  CHECK(load_csv(semicolons, {.delimiter = ';', .columns = {"b"}}).values.to_vector() == std::vector<double>{2});
  const std::string tabs = files.write("tabs.tsv", "a\tb\n1\t2\n\t4\n");
  const CsvTable table = load_csv(tabs, {.delimiter = '\t'});
  CHECK(table.column_names == std::vector<std::string>{"a", "b"});
  CHECK(table.values.at(0, 0) == 1);
  CHECK(std::isnan(table.values.at(1, 0)));  // an empty field: tabs are delimiters here, not blanks
  CHECK(table.values.at(1, 1) == 4);
}

TEST_CASE("load_csv: quoted fields (RFC 4180): delimiters, doubled quotes and newlines inside quotes", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("quoted.csv",
                                       "\"name, full\",\"x\"\n"
                                       "\"Smith, \"\"Jo\"\"\",\"2.5\"\n"
                                       "\"two\nlines\", 7 \n"
                                       "plain,abc\n");
  // The text of the first column, unquoted, shows in the message.
  CHECK_THROWS_WITH(load_csv(path, {.columns = {"name, full"}}),
                    "load_csv: " + path + " line 2, column 1 ('name, full'): cannot read 'Smith, \"Jo\"' as a number");
  // The third record starts on line 3 and spans two lines, so the malformed one is on line 5.
  CHECK_THROWS_WITH(load_csv(path, {.columns = {"x"}}), "load_csv: " + path + " line 5, column 2 ('x'): cannot read 'abc' as a number");
  const std::string good = files.write("good.csv", "\"name, full\",\"x\"\n\"Smith, \"\"Jo\"\"\",\"2.5\"\n\"two\nlines\", 7 \n");
  CHECK(load_csv(good, {.columns = {"x"}}).values.to_vector() == std::vector<double>{2.5, 7});

  const std::string unclosed = files.write("unclosed.csv", "x\n1\n\"2\n3\n");
  CHECK_THROWS_WITH(load_csv(unclosed), "load_csv: " + unclosed + " line 3: a quoted field is not closed before the end of the file");
  const std::string trailing = files.write("trailing.csv", "x,y\n\"1\"2,3\n");
  CHECK_THROWS_WITH(load_csv(trailing), "load_csv: " + trailing + " line 2: unexpected text after the closing quote of a quoted field");
}

TEST_CASE("load_csv: missing values (empty, NA, nan) are NaN, or an error naming line and column", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("missing.csv", "x1,x2\n1,\nNA,2\nnan,NaN\n4,5\n");
  const CsvTable table = load_csv(path);
  const std::vector<double> values = table.values.to_vector();
  CHECK(values[0] == 1);
  CHECK(std::isnan(values[1]));
  CHECK(std::isnan(values[2]));
  CHECK(values[3] == 2);
  CHECK(std::isnan(values[4]));
  CHECK(std::isnan(values[5]));
  CHECK(values[6] == 4);
  CHECK(values[7] == 5);
  CHECK_THROWS_WITH(load_csv(path, {.missing = MissingValues::error}),
                    "load_csv: " + path + " line 2, column 2 ('x2'): missing value (an empty field) and CsvOptions::missing is MissingValues::error");
  CHECK_THROWS_WITH(load_csv(path, {.columns = {"x1"}, .missing = MissingValues::error}),
                    "load_csv: " + path + " line 3, column 1 ('x1'): missing value ('NA') and CsvOptions::missing is MissingValues::error");
  const std::string no_header = files.write("missing_plain.csv", "1,2\n3,nan\n");
  CHECK_THROWS_WITH(load_csv(no_header, {.header = false, .missing = MissingValues::error}),
                    "load_csv: " + no_header + " line 2, column 2: missing value ('nan') and CsvOptions::missing is MissingValues::error");
  CHECK_THROWS_AS(load_csv(path, {.missing = MissingValues::error}), std::invalid_argument);
}

TEST_CASE("load_csv: numbers are read exactly (the nearest double), and malformed ones are named", "[io][csv]") {
  CsvFiles files;
  const std::string exact = files.write("exact.csv", "x\n0.1\n2.2250738585072014e-308\n1.7976931348623157e308\n+3\n -0.5 \ninf\n123456789012345678901234567890\n");
  CHECK(load_csv(exact).values.to_vector() ==
        std::vector<double>{0.1, 2.2250738585072014e-308, 1.7976931348623157e308, 3, -0.5, INFINITY, 123456789012345678901234567890.0});
  const std::string bad = files.write("data.csv", "x1,y,x2\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,abc\n");
  CHECK_THROWS_WITH(load_csv(bad), "load_csv: " + bad + " line 7, column 3 ('x2'): cannot read 'abc' as a number");
  CHECK_THROWS_AS(load_csv(bad), std::invalid_argument);
  for (const std::string field : {"1.5x", "--1", "+-1", "0x10", "1e", "+"}) {
    const std::string path = files.write("field.csv", "x\n" + field + "\n");
    CHECK_THROWS_WITH(load_csv(path), "load_csv: " + path + " line 2, column 1 ('x'): cannot read '" + field + "' as a number");
  }
  const std::string huge = files.write("huge.csv", "x\n1e400\n");
  CHECK_THROWS_WITH(load_csv(huge), "load_csv: " + huge + " line 2, column 1 ('x'): '1e400' is out of the range of a double");
}

TEST_CASE("load_csv: ragged rows are an error naming the line", "[io][csv]") {
  CsvFiles files;
  const std::string longer = files.write("longer.csv", "a,b\n1,2\n3,4,5\n");
  CHECK_THROWS_WITH(load_csv(longer), "load_csv: " + longer + " line 3: 3 fields, but the header has 2");
  const std::string shorter = files.write("shorter.csv", "1,2\n3,4\n5\n");
  CHECK_THROWS_WITH(load_csv(shorter, {.header = false}), "load_csv: " + shorter + " line 3: 1 field, but line 1 has 2");
}

TEST_CASE("load_csv: CRLF line ends, blank lines, a byte-order mark and no final newline", "[io][csv]") {
  CsvFiles files;
  const std::string path = files.write("windows.csv", "\xEF\xBB\xBFx,y\r\n1,2\r\n\r\n3,4");
  const CsvTable table = load_csv(path);
  CHECK(table.column_names == std::vector<std::string>{"x", "y"});
  CHECK(table.values.to_vector() == std::vector<double>{1, 2, 3, 4});
  const std::string header_only = files.write("header_only.csv", "x,y\n");
  CHECK(load_csv(header_only).values.shape() == Shape{0, 2});
}

TEST_CASE("load_csv: a missing or empty file and unknown columns get errors naming the file", "[io][csv]") {
  CsvFiles files;
  const std::string missing = (files.directory / "missing.csv").string();
  CHECK_THROWS_WITH(load_csv(missing), "load_csv: cannot open " + missing + ": No such file or directory");
  const std::string empty = files.write("empty.csv", "");
  CHECK_THROWS_WITH(load_csv(empty), "load_csv: " + empty + ": the file is empty, but CsvOptions::header says it starts with a header row");
  const std::string path = files.write("data.csv", data_csv);
  CHECK_THROWS_WITH(load_csv(path, {.columns = {"x3"}}), "load_csv: " + path + ": no column 'x3' in the header (its columns: 'id', 'x1', 'x2', 'y')");
  CHECK_THROWS_WITH(load_csv(path, {.columns = {4}}), "load_csv: " + path + ": column index 4 is out of range for 4 columns");
  CHECK_THROWS_WITH(load_csv(path, {.columns = {"id"}}), "load_csv: " + path + " line 2, column 1 ('id'): cannot read 'a' as a number");
  const std::string twice = files.write("twice.csv", "x,x\n1,2\n");
  CHECK_THROWS_WITH(load_csv(twice, {.columns = {"x"}}), "load_csv: " + twice + ": column name 'x' appears 2 times in the header");
}

}  // namespace io_csv_test
