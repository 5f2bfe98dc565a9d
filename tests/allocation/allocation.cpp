// Proves that a compiled function allocates nothing per call in steady state, by counting
// every global operator new in this program.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "symbatch/symbatch.hpp"

// Replacing the global allocation functions is the point of this file: the matching
// delete operators below free what these malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t bytes) {
  ++allocations;
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t bytes, std::align_val_t align) {
  ++allocations;
  const std::size_t alignment = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return operator new(bytes); }
void* operator new[](std::size_t bytes, std::align_val_t align) { return operator new(bytes, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace symbatch;

TEST_CASE("function: no heap allocation per call in steady state", "[compile][allocation]") {
  Variable x = input("x", DType::f64, {Type::unknown, 3});
  Variable w = shared(Array::from({0.5, -1.0, 2.0}), "w");
  Variable y = sum(log1p(exp(x * w)), 1);
  Variable cost = sum(square(y)) + logsumexp(x);
  Variable dw = grad(cost, w);
  Function f = compile({x}, {cost, dw, y}, {.updates = {{w, w - dw * 0.001}}});
  const Array value = Array::from(std::vector<double>(12, 0.25), Shape{4, 3});
  for (int warmup = 0; warmup < 3; ++warmup) f({value});
  const long before = allocations.load();
  double total = 0;
  for (int call = 0; call < 100; ++call) total += f({value})[0].item();
  const long during = allocations.load() - before;
  CHECK(std::isfinite(total));
  CHECK(during == 0);
}

TEST_CASE("function: a held result is not overwritten by the next call", "[compile][allocation]") {
  Variable x = input("x", DType::f64, {2});
  Function f = compile({x}, {x * 2.0});
  const Array first = f({Array::from({1.0, 2.0})})[0];
  f({Array::from({10.0, 20.0})});
  CHECK(first.to_vector() == std::vector<double>{2.0, 4.0});
}

TEST_CASE("function: a minibatch ADVI step (draws, scaled logp, gradient, Adam) allocates nothing in steady state",
          "[compile][allocation][advi]") {
  const std::int64_t rows = 500, features = 4;
  std::vector<double> x(rows * features), y(rows);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<double>(i));
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::cos(static_cast<double>(i)) > 0 ? 1.0 : 0.0;
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement}) {
    const auto batch = minibatch(64, {shared(Array::from(x, Shape{rows, features}), "X"), shared(Array::from(y), "y")}, {.scheme = scheme});
    Model model;
    const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
    const Variable sigma = model.free("sigma", HalfNormal(1.0));
    model.observed("y", Normal(matmul(batch[0], beta), sigma), batch[1], TotalSize(rows));
    const MeanFieldObjective objective = mean_field_objective(model, 2);
    Function step = compile({}, {objective.loss}, {.updates = updates(Adam{}, objective.loss, objective.parameters), .seed = 1});
    for (int warmup = 0; warmup < 5; ++warmup) step();
    const long before = allocations.load();
    double total = 0;
    for (int call = 0; call < 100; ++call) total += step()[0].item();
    CHECK(std::isfinite(total));
    CHECK(allocations.load() - before == 0);
  }
}
