// Main example (grows into a minibatch ADVI training loop): evaluates a small graph over a
// minibatch-sized slice of generated data and prints it.
#include <cstring>
#include <iostream>
#include <symbatch/symbatch.hpp>

int main(int argc, char** argv) {
  using namespace symbatch;
  bool small = false;
  for (int i = 1; i < argc; ++i) small = small || std::strcmp(argv[i], "--small") == 0;
  const std::int64_t rows = small ? 100 : 100000;
  Array x_data = Array::arange(rows);
  Variable x = shared(x_data, "x");
  Variable batch = input("batch", DType::f64, {Type::unknown});
  Variable total = sum(square(batch - 1.0));
  Function f = compile({batch}, {total});
  std::cout << "sum((x - 1)^2) over rows 0..9: " << f({get_value(x).slice_rows(0, 10)})[0].item() << "\n";
}
