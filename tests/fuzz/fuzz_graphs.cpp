// Random-graph fuzzer: fusion and rewrites must not change what a graph computes.
//
// For each seed, a small random graph (elementwise chains with broadcasting over inputs of rank
// 0-3 with static and unknown dimensions, reductions, sum_to, where, matmul, slice/take,
// reshape/transpose; matmul by a vector then elementwise loops, which differentiation turns into
// the row-block rewrite's shape; some inputs are f32 data, read as f64 by the arithmetic ops and kept f32 by
// slice, take, transpose and reshape) is compiled four ways: fusion and rewrites on, each alone, and neither
// (the reference). Every function is called on several shapes in turn (shapes change between
// calls, some calls must throw), and the fuzzer checks:
// - values agree with the reference to 1e-12 times a magnitude bound (below), or all throw the
//   same message;
// - gradients of a random projection of the outputs agree the same way, and the reference's
//   gradient agrees with central finite differences along a random direction;
// - no call modifies an input array.
//
// The magnitude bound of each result is a graph built beside the original, op by op: for an
// op f of inputs a_i with bounds m_i, m(f) = |f| + sum_i |df/da_i| m_i (first-order error
// propagation, plus f's own rounding); a linear op with nonnegative coefficients (sum, sum_to,
// unreduce, slice, take, matmul, ...) is applied to the bounds themselves. The error of any
// evaluation order is then at most a few ulps times the bound, so a 1e-12 relative test does
// not fail on cancellation, and a wrong value (an O(1) relative error) still fails.
//
// Usage: fuzz_graphs [--seed-begin N] [--seed-end N] [--seconds S] [--verbose]
// On a failure it prints the seed and the graph and exits 1.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbatch/symbatch.hpp"

#include "magnitude.hpp"

using namespace symbatch;

namespace {

/// Platform-independent random numbers (splitmix64), so a seed names the same graph everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) { state_ = next(); }  // neighbouring seeds: unrelated streams
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  bool chance(double p) { return uniform() < p; }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double between(double a, double b) { return a + (b - a) * uniform(); }

 private:
  std::uint64_t state_;
};

struct Failure {
  std::string what;
};

/// A dimension's symbol: 0 is a static 1 (a broadcast axis); others index `Graph::symbols`.
struct Symbol {
  std::int64_t size = 0;  ///< static size, or -1: chosen per call, or -2: an op's result
  std::int64_t most = 0;  ///< for -2, the largest size it can have
};

struct Pooled {
  Variable variable;
  std::vector<int> symbols;  ///< one per axis
};

struct InputSpec {
  Variable variable;
  std::vector<int> symbols;
  bool kink = false;  ///< read by a non-smooth op (abs, max, a comparison): no finite differences
};

/// A random graph: inputs with symbolic shapes, outputs, and what the generator knows.
class Graph {
 public:
  explicit Graph(std::uint64_t seed) : random_(seed) {
    symbols_.push_back({1});
    const int base_rank = random_.below(4);
    for (int axis = 0; axis < base_rank; ++axis) base_.push_back(new_symbol());
    const int inputs = 1 + random_.below(4);
    for (int i = 0; i < inputs; ++i) pool_.push_back(new_input(sub_shape(base_), random_.chance(0.25) ? DType::f32 : DType::f64));
    if (random_.chance(0.3)) pool_.push_back(new_constant(sub_shape(base_)));  // constant subgraphs, for folding
    if (!base_.empty() && random_.chance(0.3)) {  // a linear predictor per row, then chains on it: the row-block shape
      const Pooled x = new_input({base_[0], new_symbol()});
      const Pooled w = new_input({x.symbols[1]});
      pool_.push_back({matmul(x.variable, w.variable), {base_[0]}});
    }
    const int steps = 3 + random_.below(22);
    for (int step = 0; step < steps; ++step) {
      Pooled grown = grow();
      // One symbol of 300 on several axes would make arrays of 300^2 or 300^3 elements (seed
      // 7013849 grew 27 million, and its eight compiled functions held 24 GiB between them).
      if (max_elements(grown.symbols) <= max_value_elements) pool_.push_back(std::move(grown));
    }
    const int count = 1 + random_.below(3);
    for (int k = 0; k < count; ++k) {
      // Mostly the latest values (long chains), sometimes an earlier one (shared producers).
      const std::size_t index = random_.chance(0.7) ? pool_.size() - 1 - static_cast<std::size_t>(k) % pool_.size()
                                                    : static_cast<std::size_t>(random_.below(static_cast<int>(pool_.size())));
      outputs.push_back(pool_[index].variable);
    }
  }

  std::vector<InputSpec> inputs;
  std::vector<Variable> outputs;

  /// Values for one call: sizes for the per-call symbols, sometimes a wrong size on purpose.
  std::vector<Array> values(Random& random) const {
    std::vector<std::int64_t> sizes(symbols_.size());
    // At most one axis of 300 (several blocks of the fused loop), so a call stays small.
    static constexpr std::int64_t choices[] = {1, 2, 3, 4, 5, 7, 2, 3, 300};
    bool long_axis = false;
    for (const Symbol& symbol : symbols_) long_axis = long_axis || symbol.size == 300;
    for (std::size_t s = 0; s < symbols_.size(); ++s) {
      sizes[s] = symbols_[s].size >= 0 ? symbols_[s].size : choices[random.below(long_axis ? 8 : 9)];
      long_axis = long_axis || sizes[s] == 300;
    }
    std::vector<Array> result;
    for (const InputSpec& input : inputs) {
      Shape shape;
      for (std::size_t axis = 0; axis < input.symbols.size(); ++axis) {
        std::int64_t size = sizes[static_cast<std::size_t>(input.symbols[axis])];
        if (input.variable.type().shape[axis] == Type::unknown) {
          if (random.chance(0.1)) size = 1;                       // broadcasts at run time, or must throw
          else if (random.chance(0.05)) size = 1 + random.below(6);  // most likely must throw
        }
        shape.push_back(size);
      }
      std::int64_t total = shape.size();
      Array value = Array::empty(input.variable.dtype(), shape);
      for (std::int64_t k = 0; k < total; ++k) {
        if (input.variable.dtype() == DType::f64) value.data<double>()[k] = random.between(-1.5, 1.5);
        else if (input.variable.dtype() == DType::f32) value.data<float>()[k] = static_cast<float>(random.between(-1.5, 1.5));
        else value.data<std::int64_t>()[k] = random.below(3);
      }
      result.push_back(std::move(value));
    }
    return result;
  }

 private:
  static constexpr std::int64_t max_value_elements = 1 << 17;
  /// The most elements a value over `symbols` can have in a call: per-call sizes are at most 7,
  /// except one of 300 when no symbol is 300 already (see `values`).
  std::int64_t max_elements(const std::vector<int>& symbols) const {
    bool long_axis = false;
    for (const Symbol& symbol : symbols_) long_axis = long_axis || symbol.size == 300;
    std::int64_t largest = 0;
    for (std::size_t long_one = 0; long_one < symbols_.size(); ++long_one) {
      std::int64_t elements = 1;
      for (int symbol : symbols) {
        const std::int64_t size = symbols_[static_cast<std::size_t>(symbol)].size;
        const bool may_be_long = !long_axis && size == -1 && static_cast<std::size_t>(symbol) == long_one;
        elements *= size >= 0 ? size : size == -2 ? symbols_[static_cast<std::size_t>(symbol)].most : may_be_long ? 300 : 7;
      }
      largest = std::max(largest, elements);
    }
    return largest;
  }
  int new_symbol() {
    const std::int64_t sizes[] = {-1, -1, 2, 3, 4, 5, 300};
    bool long_axis = false;
    for (const Symbol& symbol : symbols_) long_axis = long_axis || symbol.size == 300;
    symbols_.push_back({sizes[random_.below(long_axis ? 6 : 7)]});
    return static_cast<int>(symbols_.size()) - 1;
  }
  /// A shape that broadcasts to `shape`: a suffix of it, some axes replaced by 1.
  std::vector<int> sub_shape(const std::vector<int>& shape) {
    const std::size_t drop = shape.empty() ? 0 : static_cast<std::size_t>(random_.below(static_cast<int>(shape.size()) + 1));
    std::vector<int> result(shape.begin() + static_cast<std::ptrdiff_t>(random_.chance(0.6) ? 0 : drop), shape.end());
    for (int& symbol : result)
      if (random_.chance(0.15)) symbol = 0;
    return result;
  }
  Pooled new_input(std::vector<int> symbols, DType dtype = DType::f64) {
    std::vector<std::int64_t> declared;
    for (int symbol : symbols) {
      const std::int64_t size = symbols_[static_cast<std::size_t>(symbol)].size;
      declared.push_back(size < 0 || random_.chance(0.25) ? Type::unknown : size);
    }
    Variable variable = input("x" + std::to_string(inputs.size()), dtype, declared);
    inputs.push_back({variable, symbols});
    return {variable, std::move(symbols)};
  }
  /// A constant of a shape that broadcasts with `symbols`: per-call sizes become 1.
  Pooled new_constant(std::vector<int> symbols) {
    Shape shape;
    for (int& symbol : symbols) {
      if (symbols_[static_cast<std::size_t>(symbol)].size < 0) symbol = 0;
      shape.push_back(symbols_[static_cast<std::size_t>(symbol)].size);
    }
    Array value = Array::empty(DType::f64, shape);
    for (std::int64_t k = 0; k < value.size(); ++k) value.data<double>()[k] = random_.between(-1.5, 1.5);
    return {constant(std::move(value)), std::move(symbols)};
  }
  static bool broadcasts(const std::vector<int>& a, const std::vector<int>& b) {
    for (std::size_t k = 1; k <= std::min(a.size(), b.size()); ++k) {
      const int x = a[a.size() - k], y = b[b.size() - k];
      if (x != y && x != 0 && y != 0) return false;
    }
    return true;
  }
  static std::vector<int> broadcast(const std::vector<int>& a, const std::vector<int>& b) {
    std::vector<int> result = a.size() >= b.size() ? a : b;
    const std::vector<int>& other = a.size() >= b.size() ? b : a;
    for (std::size_t k = 1; k <= other.size(); ++k)
      if (result[result.size() - k] == 0) result[result.size() - k] = other[other.size() - k];
    return result;
  }
  const Pooled& pick() {
    // Recent values more often, so chains grow deep enough to fuse.
    const int n = static_cast<int>(pool_.size());
    return pool_[static_cast<std::size_t>(random_.chance(0.6) ? n - 1 - random_.below(std::min(n, 3)) : random_.below(n))];
  }
  /// A partner of `a` for a binary op: a pooled value that broadcasts with it, a constant, or a new input.
  Pooled partner(const Pooled& a) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      const Pooled& b = pick();
      if (broadcasts(a.symbols, b.symbols)) return b;
    }
    if (random_.chance(0.4) || inputs.size() >= 6) return {constant(random_.between(-2, 2)), {}};
    return new_input(sub_shape(a.symbols));
  }
  /// The input behind a pooled value, when it is one (non-smooth ops read only inputs).
  InputSpec* as_input(const Variable& variable) {
    for (InputSpec& input : inputs)
      if (input.variable == variable && input.variable.dtype() == DType::f64) return &input;
    return nullptr;
  }
  /// `x` read as f64 (sum_to, a gradient partner, does not take f32 data).
  static Variable as_f64(const Variable& x) { return x.dtype() == DType::f32 ? cast(x, DType::f64) : x; }
  /// A positive value made from `x`, so log, sqrt, pow and division stay in their domains.
  Variable positive(const Variable& x) {
    switch (random_.below(4)) {
      case 0: return exp(x * 0.5);
      case 1: return softplus(x) + 0.1;
      case 2: return square(x) + 1.0;
      default: return sigmoid(x) + 0.2;
    }
  }

  Pooled grow() {
    const Pooled a = pick();
    const int rank = static_cast<int>(a.symbols.size());
    const int choice = random_.below(100);
    if (choice < 30) {  // unary
      switch (random_.below(11)) {
        case 0: return {-a.variable, a.symbols};
        case 1: return {exp(sigmoid(a.variable) * 2.0 - 1.0), a.symbols};
        case 2: return {log(positive(a.variable)), a.symbols};
        case 3: return {log1p(sigmoid(a.variable)), a.symbols};
        case 4: return {expm1(a.variable * 0.5), a.symbols};
        case 5: return {sqrt(positive(a.variable)), a.symbols};
        case 6: return {square(a.variable), a.symbols};
        case 7: return {sigmoid(a.variable), a.symbols};
        case 8: return {softplus(a.variable), a.symbols};
        case 9: return {log_sigmoid(a.variable), a.symbols};
        default: return {lgamma(positive(a.variable) + 0.5), a.symbols};
      }
    }
    if (choice < 58) {  // binary, with broadcasting
      const Pooled b = partner(a);
      const std::vector<int> shape = broadcast(a.symbols, b.symbols);
      switch (random_.below(6)) {
        case 0: return {a.variable + b.variable, shape};
        case 1: return {a.variable - b.variable, shape};
        case 2: return {a.variable * b.variable, shape};
        case 3: return {a.variable / positive(b.variable), shape};
        case 4: return {pow(positive(a.variable), sigmoid(b.variable)), shape};
        default: return {b.variable * 0.5 - a.variable * b.variable, shape};
      }
    }
    if (choice < 64) {  // non-smooth ops, on graph inputs only (exact in every evaluation order)
      InputSpec* x = as_input(a.variable);
      if (!x) return {a.variable * 1.5 + 0.25, a.symbols};
      x->kink = true;
      switch (random_.below(3)) {
        case 0: return {abs(a.variable), a.symbols};
        case 1: return {maximum(a.variable, constant(random_.between(-0.5, 0.5))), a.symbols};
        default: {
          if (rank == 0) return {abs(a.variable), a.symbols};
          const int axis = random_.below(rank);
          std::vector<int> shape = a.symbols;
          shape.erase(shape.begin() + axis);
          return {max(a.variable, axis), shape};
        }
      }
    }
    if (choice < 72) {  // where over a comparison of an input
      const Pooled b = partner(a);  // first: a new input would move the specs `x` points into
      InputSpec* x = nullptr;
      for (int attempt = 0; attempt < 3 && !x; ++attempt) x = as_input(pick().variable);
      if (!x || !broadcasts(x->symbols, broadcast(a.symbols, b.symbols))) return {a.variable * b.variable, broadcast(a.symbols, b.symbols)};
      x->kink = true;
      const Variable threshold = constant(random_.between(-0.5, 0.5));
      const Variable condition = random_.chance(0.5) ? lt(x->variable, threshold) : ge(x->variable, threshold);
      return {where(condition, a.variable, b.variable), broadcast(x->symbols, broadcast(a.symbols, b.symbols))};
    }
    if (choice < 82) {  // reductions
      const bool all = rank == 0 || random_.chance(0.3);
      const std::optional<int> axis = all ? std::nullopt : std::optional<int>(random_.below(rank));
      std::vector<int> shape;
      if (axis) {
        shape = a.symbols;
        shape.erase(shape.begin() + *axis);
      }
      switch (random_.below(3)) {
        case 0: return {sum(a.variable, axis), shape};
        case 1: return {mean(a.variable, axis), shape};
        default: return {logsumexp(a.variable, axis), shape};
      }
    }
    if (choice < 90) {  // sum_to: a like that broadcasts to a, pooled, computed or a new input of any dtype
      for (int attempt = 0; attempt < 4; ++attempt) {
        const Pooled& like = pick();
        if (like.symbols.size() <= a.symbols.size() && broadcasts(like.symbols, a.symbols) &&
            broadcast(like.symbols, a.symbols) == a.symbols)
          return {sum_to(as_f64(a.variable), like.variable), like.symbols};
      }
      if (inputs.size() >= 6) return {sum(a.variable), {}};
      const int kind = random_.below(10);
      const Pooled like = new_input(sub_shape(a.symbols), kind < 3 ? DType::i64 : kind < 5 ? DType::f32 : DType::f64);
      return {sum_to(a.variable * 2.0, like.variable), like.symbols};
    }
    if (choice < 93 && rank >= 1 && rank <= 2 && inputs.size() < 6) {  // matmul by a new matrix or vector
      // f32 on either side (not both): the op widens the f32 operand block by block.
      const DType w_dtype = a.variable.dtype() != DType::f32 && random_.chance(0.3) ? DType::f32 : DType::f64;
      if (rank == 2 && random_.chance(0.4)) {  // X w: a linear predictor per row (the row-block rewrite's shape)
        const Pooled w = new_input({a.symbols.back()}, w_dtype);
        return {matmul(a.variable, w.variable), {a.symbols[0]}};
      }
      const int columns = random_.chance(0.5) && !base_.empty() ? base_.back() : new_symbol();
      const Pooled w = new_input({a.symbols.back(), columns}, w_dtype);
      std::vector<int> shape = a.symbols;
      shape.back() = columns;
      return {matmul(a.variable, w.variable), shape};
    }
    if (choice < 97 && rank >= 1) {  // slice or take along axis 0 (may be out of range at run time)
      std::vector<int> shape = a.symbols;
      symbols_.push_back({-2, 4});  // a size no input shares
      shape[0] = static_cast<int>(symbols_.size()) - 1;
      if (random_.chance(0.5)) {
        const std::int64_t start = random_.below(2);
        return {slice(a.variable, start, start + 1 + random_.below(3)), shape};
      }
      std::vector<std::int64_t> indices(static_cast<std::size_t>(1 + random_.below(4)));
      for (std::int64_t& index : indices) index = random_.below(3);
      return {take(a.variable, constant(Array::from(indices))), shape};
    }
    if (rank >= 2 && random_.chance(0.5)) {
      std::vector<int> shape = a.symbols;
      std::swap(shape[0], shape[1]);
      std::vector<int> permutation{1, 0};
      for (int axis = 2; axis < rank; ++axis) permutation.push_back(axis);
      return {transpose(a.variable, permutation), shape};
    }
    symbols_.push_back({-2, max_elements(a.symbols)});
    return {reshape(a.variable, {-1}), {static_cast<int>(symbols_.size()) - 1}};
  }

  Random random_;
  std::vector<Symbol> symbols_;
  std::vector<int> base_;
  std::vector<Pooled> pool_;
};


/// What one call gave: results, or the message it threw.
struct Outcome {
  std::vector<Array> results;
  std::optional<std::string> error;
};

Outcome call(Function& function, const std::vector<Array>& values) {
  Outcome outcome;
  try {
    for (const Array& result : function(values)) outcome.results.push_back(result.copy());
  } catch (const std::exception& error) {
    outcome.error = error.what();
  }
  return outcome;
}

std::string shapes_of(const std::vector<Array>& values) {
  std::string text;
  for (const Array& value : values) text += (text.empty() ? "" : " ") + value.shape().str();
  return text;
}

/// Checks `got` against the reference `want` elementwise with the bounds `bound`.
void compare(const std::string& what, const Array& got, const Array& want, const Array& bound) {
  if (!(got.shape() == want.shape()))
    throw Failure{what + ": shape " + got.shape().str() + ", reference " + want.shape().str()};
  for (std::int64_t k = 0; k < want.size(); ++k) {
    const double x = got.flat<double>(k), y = want.flat<double>(k), m = bound.flat<double>(k);
    if (std::isnan(x) && std::isnan(y)) continue;
    if (x == y || !std::isfinite(m)) continue;
    if (!(std::abs(x - y) <= 1e-12 * m)) {
      std::ostringstream text;
      text.precision(17);
      text << what << "[" << k << "]: " << x << ", reference " << y << ", bound " << m;
      throw Failure{text.str()};
    }
  }
}

/// True when some variable of the reference graph throws `message` on `values`: when a graph
/// has two failing ops, fusion may schedule the other first, which is not a bug.
bool raises(const std::vector<Variable>& inputs, const std::vector<Variable>& outputs, const std::vector<Array>& values,
            const std::string& message) {
  const CompileOptions plain{.rewrites = {.merge = false, .fold_constants = false, .identities = false}, .fuse = false};
  for (const Variable& variable : ancestors(outputs))
    if (variable.owner()) {
      Function function = compile(inputs, {variable}, plain);
      const Outcome outcome = call(function, values);
      if (outcome.error == message) return true;
    }
  return false;
}

struct Config {
  const char* name;
  CompileOptions options;
};

/// One graph, checked on several calls; throws Failure.
/// What the fuzzer tried, for its summary line.
struct Tally {
  std::size_t graphs = 0, calls = 0, throwing_calls = 0, fused_graphs = 0, sibling_graphs = 0, f32_graphs = 0, f32_matmul_graphs = 0;
  std::size_t row_block_graphs = 0;
};

void check_graph(const Graph& graph, std::uint64_t seed, bool verbose, Tally& tally) {
  std::vector<Variable> inputs;
  for (const InputSpec& input : graph.inputs) inputs.push_back(input.variable);
  const std::size_t n_out = graph.outputs.size();
  // The projection of each output: an input of the output's type, valued after the reference call.
  std::vector<Variable> projections;
  Variable cost = constant(0.0);
  for (std::size_t k = 0; k < n_out; ++k) {
    projections.push_back(input("r" + std::to_string(k), DType::f64, graph.outputs[k].type().shape));
    cost = cost + sum(graph.outputs[k] * projections.back());
  }
  std::vector<Variable> wrt;
  for (const Variable& x : inputs)
    if (x.dtype() == DType::f64) wrt.push_back(x);
  const std::vector<Variable> grads = grad(cost, wrt);
  std::vector<Variable> all_inputs = inputs;
  all_inputs.insert(all_inputs.end(), projections.begin(), projections.end());
  std::vector<Variable> with_grads = graph.outputs;
  with_grads.insert(with_grads.end(), grads.begin(), grads.end());
  std::vector<Variable> bounded = with_grads;
  for (const Variable& bound : fuzz::magnitudes(with_grads)) bounded.push_back(bound);

  const CompileOptions plain_options{.rewrites = {.merge = false, .fold_constants = false, .identities = false}, .fuse = false};
  const Config configs[] = {{"fuse+rewrites", {.row_blocks = true}},
                            {"fuse", {.rewrites = plain_options.rewrites}},
                            {"rewrites", {.fuse = false}}};
  Function reference = compile(inputs, graph.outputs, plain_options);
  Function reference_grad = compile(all_inputs, bounded, plain_options);
  std::vector<Function> forward, backward;
  for (const Config& config : configs) {
    forward.push_back(compile(inputs, graph.outputs, config.options));
    backward.push_back(compile(all_inputs, with_grads, config.options));
  }
  bool fused = false, siblings = false, row_block = false;
  for (const Function* function : {&forward[0], &backward[0]})
    for (const ApplyNode* node : function->schedule()) {
      row_block = row_block || node->op().name() == "row_block";
      fused = fused || node->op().name() == "fused";
      siblings = siblings || (node->op().name() == "fused" && node->num_outputs() > 1);
    }
  bool single = false, single_matmul = false;
  for (const Variable& x : inputs) single = single || x.dtype() == DType::f32;
  for (const ApplyNode* node : backward[0].schedule())
    if (node->op().name() == "matmul")
      for (const Variable& x : node->inputs()) single_matmul = single_matmul || x.dtype() == DType::f32;
  tally.f32_graphs += single;
  tally.f32_matmul_graphs += single_matmul;
  tally.fused_graphs += fused;
  tally.sibling_graphs += siblings;
  tally.row_block_graphs += row_block;

  Random random(seed ^ 0xABCDEF12345ull);
  std::vector<std::vector<Array>> scenarios;
  for (int s = 0; s < 4; ++s) scenarios.push_back(graph.values(random));
  scenarios.push_back(scenarios[0]);  // back to the first shapes
  for (const std::vector<Array>& values : scenarios) {
    std::vector<Array> originals;
    for (const Array& value : values) originals.push_back(value.copy());
    const auto unchanged = [&](const char* who) {
      for (std::size_t i = 0; i < values.size(); ++i)
        if (std::memcmp(values[i].raw_data(), originals[i].raw_data(), values[i].bytes()) != 0)
          throw Failure{std::string(who) + " modified input " + std::to_string(i + 1)};
    };
    const std::string where_ = "shapes " + shapes_of(values) + ": ";
    const Outcome want = call(reference, values);
    unchanged("reference");
    ++tally.calls;
    for (std::size_t c = 0; c < forward.size(); ++c) {
      const Outcome got = call(forward[c], values);
      unchanged(configs[c].name);
      ++tally.calls;
      if (got.error != want.error && !(got.error && want.error && raises(inputs, graph.outputs, values, *got.error)))
        throw Failure{where_ + configs[c].name + " " + (got.error ? "threw '" + *got.error + "'" : "returned") + ", reference " +
                      (want.error ? "threw '" + *want.error + "'" : "returned")};
    }
    if (verbose) std::cout << "  " << where_ << (want.error ? "throws: " + *want.error : "ok") << "\n";
    if (want.error) {
      ++tally.throwing_calls;
      continue;
    }
    std::vector<Array> full = values;
    for (std::size_t k = 0; k < n_out; ++k) {
      Array r = Array::empty(DType::f64, want.results[k].shape());
      for (std::int64_t e = 0; e < r.size(); ++e) r.data<double>()[e] = random.between(-1, 1);
      full.push_back(std::move(r));
    }
    const Outcome truth = call(reference_grad, full);
    ++tally.calls;
    if (truth.error) throw Failure{where_ + "the reference gradient threw '" + *truth.error + "' where the outputs did not"};
    const std::size_t n = with_grads.size();
    for (std::size_t c = 0; c < backward.size(); ++c) {
      const Outcome got = call(backward[c], full);
      ++tally.calls;
      if (got.error) throw Failure{where_ + configs[c].name + " gradient threw '" + *got.error + "'"};
      for (std::size_t k = 0; k < n; ++k)
        compare(where_ + configs[c].name + (k < n_out ? " output " : " gradient ") + std::to_string(k < n_out ? k + 1 : k - n_out + 1),
                got.results[k], truth.results[k], truth.results[n + k]);
    }
    for (std::size_t k = 0; k < n_out; ++k) compare(where_ + "forward output " + std::to_string(k + 1), want.results[k], truth.results[k], truth.results[n + k]);

    // Central differences of the projected cost along a random direction of the smooth inputs.
    bool finite = true;
    for (std::size_t k = 0; k < n; ++k)
      for (std::int64_t e = 0; e < truth.results[k].size(); ++e)
        finite = finite && std::isfinite(truth.results[n + k].flat<double>(e)) && std::abs(truth.results[n + k].flat<double>(e)) < 1e6;
    if (!finite) continue;
    std::vector<Array> direction;
    double predicted = 0, scale = 0;
    std::size_t g = 0;
    for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
      Array v = Array::zeros(values[i].dtype(), values[i].shape());
      if (values[i].dtype() == DType::f64) {
        const Array& gradient = truth.results[n_out + g++];
        if (!graph.inputs[i].kink)
          for (std::int64_t e = 0; e < v.size(); ++e) {
            v.data<double>()[e] = random.between(-1, 1);
            predicted += gradient.flat<double>(e) * v.data<double>()[e];
            scale += std::abs(gradient.flat<double>(e) * v.data<double>()[e]);
          }
      }
      direction.push_back(std::move(v));
    }
    double cost_bound = 0;
    for (std::size_t k = 0; k < n_out; ++k)
      for (std::int64_t e = 0; e < truth.results[n + k].size(); ++e) cost_bound += truth.results[n + k].flat<double>(e) * std::abs(full[values.size() + k].flat<double>(e));
    bool agreed = false;
    double estimate = 0;
    for (double h : {1e-5, 1e-6, 1e-4}) {
      double sides[2];
      for (int side = 0; side < 2; ++side) {
        std::vector<Array> moved;
        for (std::size_t i = 0; i < values.size(); ++i) {
          Array value = values[i].copy();
          if (value.dtype() == DType::f64)
            for (std::int64_t e = 0; e < value.size(); ++e) value.data<double>()[e] += (side ? h : -h) * direction[i].flat<double>(e);
          moved.push_back(std::move(value));
        }
        const Outcome at = call(reference, moved);
        if (at.error) throw Failure{where_ + "the reference threw '" + *at.error + "' at a perturbed point"};
        double total = 0;
        for (std::size_t k = 0; k < n_out; ++k)
          for (std::int64_t e = 0; e < at.results[k].size(); ++e) total += at.results[k].flat<double>(e) * full[values.size() + k].flat<double>(e);
        sides[side] = total;
      }
      estimate = (sides[1] - sides[0]) / (2 * h);
      agreed = agreed || std::abs(estimate - predicted) <= 1e-4 * scale + 1e-11 * cost_bound / h + 1e-9;
    }
    if (!agreed) {
      std::ostringstream text;
      text.precision(17);
      text << where_ << "directional derivative " << predicted << ", finite differences " << estimate;
      throw Failure{text.str()};
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t begin = 0, end = 1000;
  double seconds = 0;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "fuzz_graphs: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--seed-begin") begin = std::stoull(next());
    else if (arg == "--seed-end") end = std::stoull(next());
    else if (arg == "--seconds") seconds = std::stod(next());
    else if (arg == "--verbose") verbose = true;
    else {
      std::cerr << "usage: fuzz_graphs [--seed-begin N] [--seed-end N] [--seconds S] [--verbose]\n";
      return 2;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  for (std::uint64_t seed = begin; seed < end; ++seed) {
    if (seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) break;
    std::optional<Graph> graph;
    try {
      graph.emplace(seed);
    } catch (const std::invalid_argument& error) {
      // A construction-time error is a graph the generator should not build; report it too.
      std::cerr << "seed " << seed << ": building the graph threw: " << error.what() << "\n";
      return 1;
    }
    if (verbose) {
      std::cout << "seed " << seed << "\n";
      print(std::span<const Variable>(graph->outputs), std::cout);
    }
    try {
      check_graph(*graph, seed, verbose, tally);
    } catch (const Failure& failure) {
      std::cerr << "seed " << seed << ": " << failure.what << "\n";
      print(std::span<const Variable>(graph->outputs), std::cerr);
      return 1;
    } catch (const std::exception& error) {
      std::cerr << "seed " << seed << ": unexpected exception: " << error.what() << "\n";
      print(std::span<const Variable>(graph->outputs), std::cerr);
      return 1;
    }
    ++tally.graphs;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fuzz_graphs: seeds " << begin << ".." << begin + tally.graphs << ", " << tally.graphs << " graphs (" << tally.fused_graphs
            << " with fused loops, " << tally.sibling_graphs << " with sibling loops, " << tally.row_block_graphs << " with row blocks, " << tally.f32_graphs << " with f32 inputs, "
            << tally.f32_matmul_graphs << " with an f32 matmul operand), " << tally.calls << " calls (" << tally.throwing_calls
            << " inputs that throw), " << elapsed << " s, no failure\n";
  return 0;
}
