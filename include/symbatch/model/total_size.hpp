/// @file total_size.hpp
/// @brief `TotalSize`: how much data an observed term stands for, and the scale it implies.
///
/// Every total_size error is a `std::invalid_argument`: a total size is a size (how many rows the
/// data stand for), and the house rule gives bad sizes and shapes `std::invalid_argument` and keeps
/// `std::domain_error` for bad values of the model's quantities (a negative scale parameter).
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/shape.hpp"

namespace symbatch {

/// @brief Marks an axis that is not rescaled in a `TotalSize` list.
inline constexpr struct NoneTag {} none;
/// @brief Stands for as many `none` entries as needed in a `TotalSize` list.
inline constexpr struct EllipsisTag {} ellipsis;

/// @brief An integer type other than `bool`: what a size may be given as.
template <class T>
concept SizeInteger = std::integral<T> && !std::same_as<T, bool>;

namespace detail {
/// `size` as an int64; a value above the int64 range (an unsigned type) is refused here, so a
/// huge `std::size_t` never wraps around to a negative size.
template <SizeInteger Integer>
std::int64_t size_as_int64(Integer size) {
  if (std::cmp_greater(size, std::numeric_limits<std::int64_t>::max())) throw_invalid("TotalSize", "size ", size, " exceeds the int64 range");
  return static_cast<std::int64_t>(size);
}
inline std::string count(std::size_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}
}  // namespace detail

/// @brief One entry of a `TotalSize` list: a size, `none` or `ellipsis`.
struct TotalSizeEntry {
  enum class Kind { size, none, ellipsis };
  template <SizeInteger Integer>
  TotalSizeEntry(Integer size) : kind(Kind::size), size(detail::size_as_int64(size)) {}
  TotalSizeEntry(NoneTag) : kind(Kind::none) {}
  TotalSizeEntry(EllipsisTag) : kind(Kind::ellipsis) {}
  Kind kind;
  std::int64_t size = 0;
};

/// @brief What the scale of a batched term reads at run time: the row count of the batch (the
/// selection the data depend on) and the row count of the whole array it selects from.
struct BatchRows {
  Variable rows;         ///< i64 scalar: rows of this call's batch
  Variable source_rows;  ///< i64 scalar: rows of the source array at this call
  std::string source;    ///< the source array's name, for messages
};

namespace detail {
/// Passes an explicit total size N through (as an f64 scalar) after checking it against the
/// source array's run-time row count: equal, or (for a declared population) at least as large.
class CheckTotalSize final : public Op {
 public:
  CheckTotalSize(std::int64_t size, bool population, std::string term, std::string source)
      : size_(size), population_(population), term_(std::move(term)), source_(std::move(source)) {}
  std::string name() const override { return "check_total_size"; }
  OpParameters parameters() const override { return {{"size", size_}, {"population", population_}, {"term", term_}, {"source", source_}}; }
  std::vector<Type> output_types(std::span<const Variable>) const override { return {Type{DType::f64, {}}}; }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const std::int64_t rows = in[0]->item<std::int64_t>();
    if (population_ && size_ < rows)
      throw_invalid("total_size", "'", term_, "' has the population size ", size_, ", but its source array '", source_, "' has ", rows,
                    " rows, more than the population");
    if (!population_ && size_ != rows)
      throw_invalid("total_size", "'", term_, "' has total_size ", size_, ", but its source array '", source_, "' has ", rows,
                    " rows; pass TotalSize::from_data() to follow the data, or TotalSize::population(", size_,
                    ") if the data are a sample of a larger population");
    out[0]->ensure(DType::f64, Shape{});
    out[0]->data<double>()[0] = static_cast<double>(size_);
  }
  std::vector<InputGrad> grad(const ApplyNode&, std::span<const Variable>) const override { return {InputGrad::disconnected()}; }

 private:
  std::int64_t size_;
  bool population_;
  std::string term_, source_;
};
}  // namespace detail

/// @brief The full-data size an observed minibatch term stands for (PyMC's `total_size`).
///
/// - `TotalSize(N)` (any integer type): scale the first axis: `scale = N / rows`, where `rows`
///   is the row count of the batch; for a scalar observed, `scale = N`. On data that depend on a
///   minibatch view or a random slice, N must equal the source array's row count at every call.
/// - `TotalSize::from_data()`: N is the source array's row count, read at every call.
/// - `TotalSize::population(N)`: N may exceed the source's rows (the data are a sample).
/// - `TotalSize{N0, none, N2}` / `TotalSize{N0, ellipsis, Nk}` (a list, one entry per axis):
///   `scale = prod N_i / shape[i]` over the entries that are not `none`; entries after an
///   ellipsis count from the last axis. `TotalSize{5}` is a list and needs an axis, while
///   `TotalSize(5)` scales a scalar term by 5.
/// - `TotalSize::unscaled()`: scale 1, said explicitly (required for an unscaled batch).
/// - `TotalSize()`: no total size (scale 1; an error on batched data).
///
/// Shapes are read at run time, so variable-length batches are scaled by their own length; an
/// empty batch (0 rows) has scale 0, so its term and gradient are 0 rather than NaN.
class TotalSize {
 public:
  TotalSize() = default;
  template <SizeInteger Integer>
  TotalSize(Integer size) : entries_{TotalSizeEntry(size)}, kind_(Kind::integer) {}
  TotalSize(std::initializer_list<TotalSizeEntry> entries) : entries_(entries), kind_(Kind::list) {}
  static TotalSize unscaled() { return TotalSize(Kind::unscaled); }
  /// The row count of the source array of the batch, read at every call.
  static TotalSize from_data() { return TotalSize(Kind::from_data); }
  /// A population of `size` rows, of which the source array holds a sample (size >= its rows).
  template <SizeInteger Integer>
  static TotalSize population(Integer size) {
    TotalSize result(size);
    result.kind_ = Kind::population;
    return result;
  }

  bool absent() const { return kind_ == Kind::absent; }
  bool is_unscaled() const { return kind_ == Kind::unscaled; }
  bool is_from_data() const { return kind_ == Kind::from_data; }

  /// The scale for an observed term of `data`'s shape (a scalar graph). `batch` gives the rows of
  /// the batch and of its source array when the data depend on one; `function` and `name` go
  /// into error messages.
  /// @throws std::invalid_argument for a size <= 0, two ellipses, more sizes than axes, or
  /// `from_data()` without a batch.
  Variable scale(const Variable& data, const std::string& function, const std::string& name, const std::optional<BatchRows>& batch = {}) const {
    int ellipses = 0;
    std::size_t sizes = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const TotalSizeEntry& entry = entries_[i];
      if (entry.kind == TotalSizeEntry::Kind::ellipsis) ++ellipses;
      else ++sizes;
      if (entry.kind == TotalSizeEntry::Kind::size && entry.size <= 0)
        throw_invalid(function, "total_size entry ", i + 1, " of '", name, "' is ", entry.size, ", but must be positive");
    }
    if (ellipses > 1) throw_invalid(function, "total_size of '", name, "' has ", ellipses, " ellipses, at most one is allowed");
    if (kind_ == Kind::absent || kind_ == Kind::unscaled) return constant(1.0);
    if (kind_ == Kind::from_data && !batch)
      throw_invalid(function, "TotalSize::from_data() for '", name,
                    "' needs data that depend on a minibatch view or a random slice of an array, whose length it reads");
    const int rank = data.rank();
    if (kind_ != Kind::list) {
      const Variable size = first_axis_size(name, batch);
      return rank == 0 ? size : factor(size, batch ? batch->rows : dim(data, 0));
    }
    if (rank == 0)
      throw_invalid(function, "total_size of '", name, "' has ", detail::count(sizes, "size", "sizes"),
                    ", but the observed variable is a scalar; TotalSize{N} is a list of sizes per axis, TotalSize(N) scales a scalar term by N");
    if (sizes > static_cast<std::size_t>(rank))
      throw_invalid(function, "total_size of '", name, "' has ", detail::count(sizes, "size", "sizes"), ", but the observed variable has only ",
                    detail::count(static_cast<std::size_t>(rank), "axis", "axes"));
    Variable scale = constant(1.0);
    int axis = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const TotalSizeEntry& entry = entries_[i];
      if (entry.kind == TotalSizeEntry::Kind::ellipsis) {
        axis = rank - static_cast<int>(entries_.size() - i - 1);  // later entries count from the end
        continue;
      }
      if (entry.kind == TotalSizeEntry::Kind::size) {
        // The first axis stands for the rows of the batch: its size is checked against the source.
        const bool rows_axis = axis == 0 && batch;
        scale = scale * factor(rows_axis ? first_axis_size(name, batch) : constant(static_cast<double>(entry.size)),
                               rows_axis ? batch->rows : dim(data, axis));
      }
      ++axis;
    }
    return scale;
  }

 private:
  enum class Kind { absent, unscaled, integer, population, from_data, list };
  explicit TotalSize(Kind kind) : kind_(kind) {}

  /// N for the first axis (f64 scalar): a constant, checked against the source's rows when
  /// there is a batch, or the source's rows themselves for `from_data()`.
  Variable first_axis_size(const std::string& name, const std::optional<BatchRows>& batch) const {
    if (kind_ == Kind::from_data) return cast(batch->source_rows, DType::f64);
    const std::int64_t size = entries_[0].size;
    if (!batch) return constant(static_cast<double>(size));
    return make_apply<detail::CheckTotalSize>({batch->source_rows}, size, kind_ == Kind::population, name, batch->source);
  }
  /// `size / rows`, and 0 for an empty batch (whose term is an empty sum): never N/0 * 0 = NaN.
  static Variable factor(const Variable& size, const Variable& rows) {
    const Variable count = cast(rows, DType::f64);
    return where(eq(count, constant(0.0)), constant(0.0), size / count);
  }

  std::vector<TotalSizeEntry> entries_;
  Kind kind_ = Kind::absent;
};

}  // namespace symbatch
