/// @file dtype.hpp
/// @brief Element types of symbatch arrays.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace symbatch {

/// @brief State of a counter-based Philox4x64-10 generator: a key and a counter.
///
/// It is the element type of arrays of dtype `DType::rng`. A random op reads the state,
/// draws from blocks `(j, counter[1], counter[2], counter[3])` for `j = 0, 1, ...` and returns
/// the state with `counter[1]` advanced by one, so every call consumes a fresh stream whatever
/// the number of blocks it used.
struct RngState {
  std::array<std::uint64_t, 2> key{};      ///< Philox key, set from `(seed, stream)`.
  std::array<std::uint64_t, 4> counter{};  ///< Philox counter; word 1 counts the calls.
  friend bool operator==(const RngState&, const RngState&) = default;
};

/// @brief The element type of an array or variable.
///
/// `f32` is a storage dtype for data (large data sets are usually float32): an f32 array can be
/// created, borrowed (a mapped float32 `.npy` file), sliced, gathered, transposed, reshaped,
/// compared and saved, and those ops keep f32 (slices stay zero-copy views). Everything that
/// computes reads an f32 element as the double it exactly equals and returns f64:
///
/// | op                                   | f32 input | result                      |
/// |--------------------------------------|-----------|-----------------------------|
/// | slice, take, circular window, transpose, reshape, concatenate | kept | f32 (a view or a copy) |
/// | elementwise (add, exp, ...), where   | widened by a `cast` node | f64 (bool for comparisons) |
/// | sum, mean                            | read in place, summed in double | f64   |
/// | max, logsumexp                       | widened by a `cast` node | f64              |
/// | matmul (one operand f32)             | widened per block of rows | f64             |
/// | cast                                 | to/from f64, i64, bool | the requested dtype |
/// | observed data of a distribution      | checked in place, read as f64 | f64 logp  |
///
/// Gradients are f64 only: `grad` refuses an f32 `wrt`, and every path through an f32 value is
/// disconnected. An op that does not take f32 says so when the graph is built, naming the op,
/// the input and the dtype (`sum_to: input 1/2 has dtype f32, expected f64 or i64`).
enum class DType : std::uint8_t {
  f64,      ///< IEEE double
  i64,      ///< signed 64-bit integer
  boolean,  ///< bool, one byte per element
  rng,      ///< an RngState (random generator state)
  f32,      ///< IEEE single, storage only: data arrays (a float32 `.npy` file) that ops read as f64
};

/// @brief Name of a dtype as printed in messages: `f64`, `i64`, `bool`, `rng`, `f32`.
constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::boolean: return "bool";
    case DType::rng: return "rng";
    case DType::f32: return "f32";
  }
  return "?";
}

/// @brief Size in bytes of one element of `dtype`.
constexpr std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f64: return sizeof(double);
    case DType::i64: return sizeof(std::int64_t);
    case DType::boolean: return sizeof(bool);
    case DType::rng: return sizeof(RngState);
    case DType::f32: return sizeof(float);
  }
  return 0;
}

/// @brief True for the dtypes that hold numbers (`f64`, `i64`, `bool`, `f32`). Arithmetic ops
/// compute in f64, i64 or bool; an f32 operand is read as f64 (see `ops/elemwise/kernel.hpp`).
constexpr bool is_numeric(DType dtype) { return dtype != DType::rng; }

/// @brief True for the floating dtypes (`f64`, and `f32`, which is storage only).
constexpr bool is_floating(DType dtype) { return dtype == DType::f64 || dtype == DType::f32; }

/// @brief The C++ element type that stores each dtype.
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else if constexpr (std::is_same_v<T, bool>) return DType::boolean;
  else if constexpr (std::is_same_v<T, RngState>) return DType::rng;
  else if constexpr (std::is_same_v<T, float>) return DType::f32;
  else static_assert(sizeof(T) == 0, "symbatch arrays hold double, std::int64_t, bool, RngState or float");
}

}  // namespace symbatch
