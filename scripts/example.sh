#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run the main example (a minibatch ADVI
# training loop on generated data). Extra arguments are passed to the example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cmake -S . -B build/example -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYMBATCH_BUILD_TESTS=OFF -DSYMBATCH_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/example --target linear_regression -j 2
mkdir -p out
./build/example/examples/linear_regression --out out "$@"
