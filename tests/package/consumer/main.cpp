#include <iostream>
#include <symbatch/symbatch.hpp>

int main() {
  using namespace symbatch;
  Variable x = input("x", DType::f64, {3});
  Function f = compile({x}, {sum(x)});
  std::cout << "consumer: " << f({Array::from({1.0, 2.0, 3.0})})[0].item() << "\n";
}
