/// @file draws.hpp
/// @brief Random variables as ops: `(rng, parameters...) -> (next_rng, draw)`, with an RNG
/// state held by a shared variable, and the draws symbatch offers (uniform, integers, normal,
/// permutation).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "symbatch/graph/apply.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/random/philox.hpp"

namespace symbatch::random {

/// @brief A new shared RNG state (Philox key `(seed, 0)`, counter zero) named `name`.
/// `compile(..., {.seed = s})` reseeds it; every compiled call advances it by default.
inline Variable rng(std::string name, std::uint64_t seed = 0) {
  return shared(Array::scalar(seed_rng_state(seed, 0)), std::move(name));
}

/// @brief The two outputs of a random variable: the RNG state to use next and the draw.
struct Draw {
  Variable next_rng;
  Variable value;
};

/// @brief Base of random ops: input 0 is the RNG state, output 0 the next state, output 1 the
/// draw. Random ops have no gradient; `grad` through one throws naming it.
class RandomOp : public Op {
 public:
  bool is_random() const override { return true; }
  /// A random draw is equal only to itself: two draws are never merged, even from one RNG
  /// state (merging two minibatch calls would silently align batches meant to be independent).
  bool equals(const Op& other) const final { return this == &other; }
  std::vector<InputGrad> grad(const ApplyNode& node, std::span<const Variable>) const override {
    return std::vector<InputGrad>(node.inputs().size(), InputGrad::undefined("random variable " + name() + " has no gradient"));
  }

 protected:
  /// Checks input 0 is a scalar RNG state and parameters are f64/i64 scalars or of `shape`.
  void check_inputs(std::span<const Variable> inputs, std::size_t parameters, const std::vector<std::int64_t>& shape) const {
    if (inputs.size() != parameters + 1) throw_invalid(name(), "expected ", parameters + 1, " inputs, got ", inputs.size());
    if (inputs[0].dtype() != DType::rng || inputs[0].rank() != 0)
      throw_invalid(name(), "input 1/", inputs.size(), " has type ", inputs[0].type().str(), ", expected an rng state rng()");
    for (std::size_t i = 1; i < inputs.size(); ++i)
      if (!(inputs[i].rank() == 0 || inputs[i].type().shape == shape))
        throw_invalid(name(), "input ", i + 1, "/", inputs.size(), " has shape ", inputs[i].type().shape_str(),
                      ", expected () or ", Type{DType::f64, shape}.shape_str());
  }
  /// Writes the next state (the call counter advanced) into output 0.
  static void write_next_state(const RngState& state, Array& out) {
    out.ensure(DType::rng, Shape{});
    out.data<RngState>()[0] = next_rng_state(state);
  }
  /// Parameter `index` at flat position `k` (scalars broadcast).
  static double parameter(InputValues in, std::size_t index, std::int64_t k) {
    const Array& value = *in[index];
    return value.flat<double>(value.size() == 1 ? 0 : k);
  }
};

namespace detail {

inline Shape to_shape(const std::vector<std::int64_t>& dims) { return Shape(std::span<const std::int64_t>(dims)); }

/// Draws of `shape` filled element by element by `Fn(stream, parameters...)`.
template <class Derived, DType Out, std::size_t Parameters>
class ElementwiseDraw : public RandomOp {
 public:
  explicit ElementwiseDraw(std::vector<std::int64_t> shape) : shape_(std::move(shape)) {}
  OpParameters parameters() const override { return {{"shape", shape_}}; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    for (std::int64_t dim : shape_)
      if (dim < 0) throw_invalid(name(), "shape entry ", dim, " is negative");
    (void)Array::byte_count(Out, to_shape(shape_));  // a shape too large to allocate is refused now
    check_inputs(inputs, Parameters, shape_);
    return {Type{DType::rng, {}}, Type{Out, shape_}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const RngState state = in[0]->data<RngState>()[0];
    PhiloxStream stream(state);
    Array& value = *out[1];
    value.ensure(Out, to_shape(shape_));
    static_cast<const Derived*>(this)->fill(stream, in, value);
    write_next_state(state, *out[0]);
  }

 protected:
  std::vector<std::int64_t> shape_;
};

}  // namespace detail

/// @brief Uniform reals on `[low, high)`: `low + (high - low) * u`, `u` the top 53 bits of a
/// Philox word times 2^-53. Throws `std::domain_error` for a non-finite bound, `low > high`, or
/// a width `high - low` that overflows to infinity.
class UniformOp final : public detail::ElementwiseDraw<UniformOp, DType::f64, 2> {
 public:
  using ElementwiseDraw::ElementwiseDraw;
  std::string name() const override { return "uniform"; }
  void fill(PhiloxStream& stream, InputValues in, Array& value) const {
    using symbatch::detail::format_number;
    double* out = value.data<double>();
    for (std::int64_t k = 0; k < value.size(); ++k) {
      const double low = parameter(in, 1, k), high = parameter(in, 2, k);
      check_finite(name(), "Lower bound", low);
      check_finite(name(), "Upper bound", high);
      if (!(low <= high)) throw_domain(name(), "Lower bound is ", format_number(low), ", but must be at most the upper bound ", format_number(high));
      const double width = high - low;
      if (!std::isfinite(width))
        throw_domain(name(), "the width of [", format_number(low), ", ", format_number(high), ") overflows a double");
      out[k] = low + width * stream.uniform();
    }
  }
};

/// @brief Integers uniform on `[low, high)`, without modulo bias (Lemire's method). The bounds
/// arrive as doubles and must be integers in `[-2^63, 2^63)`; the width `high - low` (up to
/// 2^64 - 1) is computed in unsigned arithmetic. Throws `std::domain_error` otherwise or when
/// `low >= high`.
class IntegersOp final : public detail::ElementwiseDraw<IntegersOp, DType::i64, 2> {
 public:
  using ElementwiseDraw::ElementwiseDraw;
  std::string name() const override { return "integers"; }
  void fill(PhiloxStream& stream, InputValues in, Array& value) const {
    std::int64_t* out = value.data<std::int64_t>();
    for (std::int64_t k = 0; k < value.size(); ++k) {
      const auto low = bound("Lower bound", parameter(in, 1, k)), high = bound("Upper bound", parameter(in, 2, k));
      if (!(low < high)) throw_domain(name(), "Lower bound is ", low, ", but must be below the upper bound ", high);
      const std::uint64_t width = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
      out[k] = static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + stream.below(width));
    }
  }

 private:
  /// `value` as an i64, refusing what the conversion would turn into undefined behaviour.
  std::int64_t bound(const char* label, double value) const {
    check_finite(name(), label, value);
    if (value != std::floor(value)) throw_domain(name(), label, " is ", symbatch::detail::format_number(value), ", but must be an integer");
    if (!(value >= -0x1p63 && value < 0x1p63))
      throw_domain(name(), label, " is ", symbatch::detail::format_number(value), ", but must be in [-2^63, 2^63)");
    return static_cast<std::int64_t>(value);
  }
};

/// @brief Normal draws `mu + sigma * z`, `z` standard normal by Box-Muller.
class NormalOp final : public detail::ElementwiseDraw<NormalOp, DType::f64, 2> {
 public:
  using ElementwiseDraw::ElementwiseDraw;
  std::string name() const override { return "normal"; }
  void fill(PhiloxStream& stream, InputValues in, Array& value) const {
    double* out = value.data<double>();
    for (std::int64_t k = 0; k < value.size(); ++k) {
      const double mu = parameter(in, 1, k), sigma = parameter(in, 2, k);
      check_positive(name(), "Scale parameter", sigma);
      out[k] = mu + sigma * stream.normal();
    }
  }
};

/// @brief A uniformly random permutation of `0..n-1` (Fisher-Yates), `n` an i64 scalar input.
/// Throws `std::domain_error` for a negative `n` or one whose i64 array would need 2^63 bytes
/// or more (when building the graph if `n` is a constant, else before drawing).
class PermutationOp final : public RandomOp {
 public:
  /// The largest length whose i64 array fits in 2^63 - 1 bytes.
  static constexpr std::int64_t max_length = INT64_MAX / static_cast<std::int64_t>(sizeof(std::int64_t));

  std::string name() const override { return "permutation"; }
  std::vector<Type> output_types(std::span<const Variable> inputs) const override {
    check_inputs(inputs, 1, {});
    if (inputs[1].dtype() != DType::i64) throw_invalid(name(), "input 2/2 has dtype ", dtype_name(inputs[1].dtype()), ", expected i64");
    std::int64_t length = Type::unknown;
    if (inputs[1].is_constant()) length = check_length(inputs[1].constant_value().item<std::int64_t>());
    return {Type{DType::rng, {}}, Type{DType::i64, {length}}};
  }
  void perform(InputValues in, OutputValues out, Scratch&) const override {
    const RngState state = in[0]->data<RngState>()[0];
    const std::int64_t n = check_length(in[1]->item<std::int64_t>());
    PhiloxStream stream(state);
    Array& value = *out[1];
    value.ensure(DType::i64, Shape{n});
    stream.permutation(value.data<std::int64_t>(), n);
    write_next_state(state, *out[0]);
  }

 private:
  std::int64_t check_length(std::int64_t n) const {
    if (n < 0) throw_domain(name(), "Length is ", n, ", but must be nonnegative");
    if (n > max_length) throw_domain(name(), "Length is ", n, ", but must be at most ", max_length, " (2^63 bytes of i64)");
    return n;
  }
};

namespace detail {
inline Draw make_draw(std::shared_ptr<const Op> op, std::vector<Variable> inputs) {
  auto node = ApplyNode::make(std::move(op), std::move(inputs));
  return {node->output(0), node->output(1)};
}
}  // namespace detail

/// @brief Uniform reals on `[low, high)` of the given shape.
inline Draw uniform(const Variable& rng, const Variable& low, const Variable& high, std::vector<std::int64_t> shape = {}) {
  return detail::make_draw(std::make_shared<const UniformOp>(std::move(shape)), {rng, cast(low, DType::f64), cast(high, DType::f64)});
}
inline Draw uniform(const Variable& rng, double low, double high, std::vector<std::int64_t> shape = {}) {
  return uniform(rng, constant(low), constant(high), std::move(shape));
}
/// @brief Integers uniform on `[low, high)` of the given shape.
inline Draw integers(const Variable& rng, const Variable& low, const Variable& high, std::vector<std::int64_t> shape = {}) {
  return detail::make_draw(std::make_shared<const IntegersOp>(std::move(shape)), {rng, cast(low, DType::f64), cast(high, DType::f64)});
}
inline Draw integers(const Variable& rng, std::int64_t low, std::int64_t high, std::vector<std::int64_t> shape = {}) {
  return integers(rng, constant(static_cast<double>(low)), constant(static_cast<double>(high)), std::move(shape));
}
/// @brief Normal draws with mean `mu` and standard deviation `sigma` of the given shape.
inline Draw normal(const Variable& rng, const Variable& mu, const Variable& sigma, std::vector<std::int64_t> shape = {}) {
  return detail::make_draw(std::make_shared<const NormalOp>(std::move(shape)), {rng, cast(mu, DType::f64), cast(sigma, DType::f64)});
}
inline Draw normal(const Variable& rng, double mu, double sigma, std::vector<std::int64_t> shape = {}) {
  return normal(rng, constant(mu), constant(sigma), std::move(shape));
}
/// @brief A random permutation of `0..n-1`.
inline Draw permutation(const Variable& rng, const Variable& n) {
  return detail::make_draw(std::make_shared<const PermutationOp>(), {rng, cast(n, DType::i64)});
}
inline Draw permutation(const Variable& rng, std::int64_t n) { return permutation(rng, constant(Array::scalar(n))); }

}  // namespace symbatch::random
