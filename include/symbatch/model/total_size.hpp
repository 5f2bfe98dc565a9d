/// @file total_size.hpp
/// @brief `TotalSize`: how much data an observed term stands for, and the scale it implies.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "symbatch/ops/shape.hpp"

namespace symbatch {

/// @brief Marks an axis that is not rescaled in a `TotalSize` list.
inline constexpr struct NoneTag {} none;
/// @brief Stands for as many `none` entries as needed in a `TotalSize` list.
inline constexpr struct EllipsisTag {} ellipsis;

/// @brief One entry of a `TotalSize` list: a size, `none` or `ellipsis`.
struct TotalSizeEntry {
  enum class Kind { size, none, ellipsis };
  TotalSizeEntry(std::int64_t size) : kind(Kind::size), size(size) {}
  TotalSizeEntry(int size) : kind(Kind::size), size(size) {}
  TotalSizeEntry(NoneTag) : kind(Kind::none) {}
  TotalSizeEntry(EllipsisTag) : kind(Kind::ellipsis) {}
  Kind kind;
  std::int64_t size = 0;
};

/// @brief The full-data size an observed minibatch term stands for (PyMC's `total_size`).
///
/// - `TotalSize(N)`: scale the first axis: `scale = N / batch.shape[0]`; for a scalar observed,
///   `scale = N`.
/// - `TotalSize{N0, none, N2}` / `TotalSize{N0, ellipsis, Nk}`: `scale = prod N_i / batch.shape[i]`
///   over the entries that are not `none`; entries after an ellipsis count from the last axis.
/// - `TotalSize::unscaled()`: scale 1, said explicitly (required for an unscaled minibatch view).
/// - `TotalSize()`: no total size (scale 1; an error on a minibatch view).
///
/// Shapes are read at run time, so variable-length batches are scaled by their own length.
class TotalSize {
 public:
  TotalSize() = default;
  TotalSize(std::int64_t size) : entries_{TotalSizeEntry(size)}, integer_(true) {}
  TotalSize(int size) : TotalSize(static_cast<std::int64_t>(size)) {}
  TotalSize(std::initializer_list<TotalSizeEntry> entries) : entries_(entries) {}
  static TotalSize unscaled() {
    TotalSize result;
    result.unscaled_ = true;
    return result;
  }

  bool absent() const { return entries_.empty() && !unscaled_; }
  bool is_unscaled() const { return unscaled_; }

  /// The scale for an observed term of `data`'s shape (a scalar graph). `function` and `name`
  /// go into error messages.
  Variable scale(const Variable& data, const std::string& function, const std::string& name) const {
    int ellipses = 0, sizes = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const TotalSizeEntry& entry = entries_[i];
      if (entry.kind == TotalSizeEntry::Kind::ellipsis) ++ellipses;
      else ++sizes;
      if (entry.kind == TotalSizeEntry::Kind::size && entry.size <= 0)
        throw_domain(function, "total_size entry ", i + 1, " of '", name, "' is ", entry.size, ", but must be positive");
    }
    if (ellipses > 1) throw_invalid(function, "total_size of '", name, "' has ", ellipses, " ellipses, at most one is allowed");
    if (entries_.empty()) return constant(1.0);
    const int rank = data.rank();
    if (integer_ && rank == 0) return constant(static_cast<double>(entries_[0].size));
    if (sizes > rank)
      throw_invalid(function, "total_size of '", name, "' has ", sizes, " sizes, but the observed variable has only ", rank, " axes");
    Variable scale = constant(1.0);
    int axis = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const TotalSizeEntry& entry = entries_[i];
      if (entry.kind == TotalSizeEntry::Kind::ellipsis) {
        axis = rank - static_cast<int>(entries_.size() - i - 1);  // later entries count from the end
        continue;
      }
      if (entry.kind == TotalSizeEntry::Kind::size)
        scale = scale * (static_cast<double>(entry.size) / cast(dim(data, axis), DType::f64));
      ++axis;
    }
    return scale;
  }

 private:
  std::vector<TotalSizeEntry> entries_;
  bool integer_ = false;
  bool unscaled_ = false;
};

}  // namespace symbatch
