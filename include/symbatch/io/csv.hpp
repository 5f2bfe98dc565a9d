/// @file csv.hpp
/// @brief `load_csv(path, options)`: numeric columns of a small CSV file as an f64 matrix.
///
/// Fields follow RFC 4180: separated by the delimiter, optionally quoted with `"`, a doubled
/// `""` inside quotes standing for one quote, quoted fields may hold delimiters and newlines.
/// Lines end with `\n` or `\r\n`; blank lines are skipped; a UTF-8 byte-order mark is ignored.
/// Spaces and tabs around a field (outside quotes) are ignored. Numbers are read with
/// `std::from_chars` (exact: the nearest double, locale-free); a leading `+` is accepted.
/// Only the selected columns are read as numbers, so other columns may hold text.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "symbatch/core/array.hpp"
#include "symbatch/io/mapped_file.hpp"

namespace symbatch {

/// @brief What `load_csv` does with a missing value: an empty field, `NA`, or `nan` (any case).
enum class MissingValues {
  nan,    ///< read it as NaN
  error,  ///< throw, naming the line and column
};

/// @brief A column of a CSV file, chosen by its header name or its 0-based index.
struct CsvColumn {
  CsvColumn(const char* name) : key(std::string(name)) {}       // NOLINT: implicit, so `{"x1", "y"}` reads naturally
  CsvColumn(std::string name) : key(std::move(name)) {}          // NOLINT
  CsvColumn(std::int64_t index) : key(index) {}                  // NOLINT
  CsvColumn(int index) : key(static_cast<std::int64_t>(index)) {}  // NOLINT
  std::variant<std::string, std::int64_t> key;
};

/// @brief Options of `load_csv`.
struct CsvOptions {
  char delimiter = ',';
  bool header = true;                ///< the first row names the columns
  std::vector<CsvColumn> columns = {};  ///< the columns to read, in this order; empty: all
  MissingValues missing = MissingValues::nan;
};

/// @brief The numbers of a CSV file: `values` has shape (rows, columns), f64; `column_names`
/// are the header names of the columns read (empty strings without a header).
struct CsvTable {
  Array values;
  std::vector<std::string> column_names;
};

namespace detail {

/// Splits CSV text into records of fields (RFC 4180), keeping the line each record starts on.
class CsvRecords {
 public:
  CsvRecords(std::string_view text, char delimiter, const std::string& path) : text_(text), delimiter_(delimiter), path_(path) {
    if (text_.starts_with("\xEF\xBB\xBF")) position_ = 3;
  }

  /// Reads the next non-blank record into `fields`; false at the end of the text.
  bool next(std::vector<std::string>& fields, std::int64_t& line) {
    fields.clear();
    while (position_ < text_.size() && (text_[position_] == '\n' || text_[position_] == '\r')) {
      if (text_[position_] == '\n') ++line_;
      ++position_;
    }
    if (position_ >= text_.size()) return false;
    line = line_;
    for (;;) {
      fields.push_back(read_field());
      if (position_ >= text_.size()) return true;
      const char separator = text_[position_++];
      if (separator == delimiter_) continue;
      if (separator == '\r' && position_ < text_.size() && text_[position_] == '\n') ++position_;
      ++line_;
      return true;
    }
  }

 private:
  bool blank(char c) const { return (c == ' ' || c == '\t') && c != delimiter_; }
  bool end_of_field(char c) const { return c == delimiter_ || c == '\n' || c == '\r'; }

  std::string read_field() {
    while (position_ < text_.size() && blank(text_[position_])) ++position_;
    if (position_ >= text_.size() || text_[position_] != '"') {
      const std::size_t start = position_;
      while (position_ < text_.size() && !end_of_field(text_[position_])) ++position_;
      std::size_t stop = position_;
      while (stop > start && blank(text_[stop - 1])) --stop;
      return std::string(text_.substr(start, stop - start));
    }
    const std::int64_t opened_on = line_;
    std::string value;
    for (++position_;;) {
      const std::size_t quote = text_.find('"', position_);
      if (quote == std::string_view::npos)
        throw_invalid("load_csv", path_, " line ", opened_on, ": a quoted field is not closed before the end of the file");
      for (std::size_t k = position_; k < quote; ++k) line_ += text_[k] == '\n';
      value.append(text_.substr(position_, quote - position_));
      position_ = quote + 1;
      if (position_ < text_.size() && text_[position_] == '"') {
        value += '"';  // a doubled quote inside a quoted field
        ++position_;
        continue;
      }
      break;
    }
    while (position_ < text_.size() && blank(text_[position_])) ++position_;
    if (position_ < text_.size() && !end_of_field(text_[position_]))
      throw_invalid("load_csv", path_, " line ", line_, ": unexpected text after the closing quote of a quoted field");
    return value;
  }

  std::string_view text_;
  char delimiter_;
  const std::string& path_;
  std::size_t position_ = 0;
  std::int64_t line_ = 1;
};

/// True for the spellings of a missing value: empty, `NA`, or `nan` in any case.
inline bool is_missing_value(std::string_view field) {
  const auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  return field.empty() || field == "NA" || (field.size() == 3 && lower(field[0]) == 'n' && lower(field[1]) == 'a' && lower(field[2]) == 'n');
}

/// The 0-based indices of the selected columns among `count`, with their names.
inline std::vector<std::size_t> select_csv_columns(const std::vector<CsvColumn>& chosen, const std::vector<std::string>& header, std::size_t count,
                                                   bool has_header, const std::string& path) {
  std::vector<std::size_t> indices;
  if (chosen.empty())
    for (std::size_t k = 0; k < count; ++k) indices.push_back(k);
  for (const CsvColumn& column : chosen) {
    if (const auto* index = std::get_if<std::int64_t>(&column.key)) {
      if (*index < 0 || static_cast<std::size_t>(*index) >= count)
        throw_invalid("load_csv", path, ": column index ", *index, " is out of range for ", count, " columns");
      indices.push_back(static_cast<std::size_t>(*index));
      continue;
    }
    const std::string& name = std::get<std::string>(column.key);
    if (!has_header) throw_invalid("load_csv", path, ": column '", name, "' is chosen by name, but CsvOptions::header is false");
    std::vector<std::size_t> found;
    for (std::size_t k = 0; k < header.size(); ++k)
      if (header[k] == name) found.push_back(k);
    if (found.size() > 1) throw_invalid("load_csv", path, ": column name '", name, "' appears ", found.size(), " times in the header");
    if (found.empty()) {
      std::string names;
      for (const std::string& known : header) names += (names.empty() ? "'" : ", '") + known + "'";
      throw_invalid("load_csv", path, ": no column '", name, "' in the header (its columns: ", names, ")");
    }
    indices.push_back(found.front());
  }
  return indices;
}

}  // namespace detail

/// @brief Reads the chosen numeric columns of a CSV file (see the file comment for the syntax).
///
/// @throws std::invalid_argument naming the file when it cannot be opened (with the system's
/// reason), has no header row although `header` is set, rows with another number of fields
/// than the first (ragged rows), an unclosed quote, a chosen column that does not exist, a
/// missing value under `MissingValues::error`, or a field that is not a number:
/// `load_csv: data.csv line 7, column 3 ('x2'): cannot read 'abc' as a number`.
inline CsvTable load_csv(const std::string& path, const CsvOptions& options = {}) {
  const detail::InputFile file(path, "load_csv");
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  file.read_at(0, reinterpret_cast<std::byte*>(text.data()), text.size(), "load_csv");
  detail::CsvRecords records(text, options.delimiter, path);

  std::vector<std::string> fields, header;
  std::int64_t line = 0;
  bool have_record = records.next(fields, line);
  if (options.header) {
    if (!have_record) throw_invalid("load_csv", path, ": the file is empty, but CsvOptions::header says it starts with a header row");
    header = fields;
    have_record = records.next(fields, line);
  }
  const std::size_t count = options.header ? header.size() : fields.size();
  const std::string width_from = options.header ? "the header has " : "line " + std::to_string(line) + " has ";
  const std::vector<std::size_t> selected = detail::select_csv_columns(options.columns, header, count, options.header, path);

  std::vector<double> values;
  std::int64_t rows = 0;
  for (; have_record; have_record = records.next(fields, line), ++rows) {
    if (fields.size() != count)
      throw_invalid("load_csv", path, " line ", line, ": ", fields.size(), " field", fields.size() == 1 ? "" : "s", ", but ", width_from, count);
    for (std::size_t index : selected) {
      const std::string& field = fields[index];
      const auto where = [&] {
        return detail::concat(path, " line ", line, ", column ", index + 1, options.header ? " ('" + header[index] + "')" : "");
      };
      if (detail::is_missing_value(field)) {
        if (options.missing == MissingValues::error)
          throw_invalid("load_csv", where(), ": missing value (", field.empty() ? "an empty field" : "'" + field + "'",
                        ") and CsvOptions::missing is MissingValues::error");
        values.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      const bool plus = field.size() > 1 && field[0] == '+' && field[1] != '-';
      double value = 0;
      const auto [end, error] = std::from_chars(field.data() + plus, field.data() + field.size(), value);
      if (error == std::errc::result_out_of_range) throw_invalid("load_csv", where(), ": '", field, "' is out of the range of a double");
      if (error != std::errc() || end != field.data() + field.size()) throw_invalid("load_csv", where(), ": cannot read '", field, "' as a number");
      values.push_back(value);
    }
  }
  CsvTable table;
  table.values = Array::from(values, Shape{rows, static_cast<std::int64_t>(selected.size())});
  for (std::size_t index : selected) table.column_names.push_back(options.header ? header[index] : std::string());
  return table;
}

}  // namespace symbatch
