#!/usr/bin/env bash
# Quick start 2: install what is missing, build and run the test suite, then build and run it
# again under AddressSanitizer and UndefinedBehaviorSanitizer (any report fails the run), and
# last build and run the thread tests alone under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
jobs=${SYMBATCH_JOBS:-2}

echo "== release build and tests"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSYMBATCH_BUILD_TESTS=ON >/dev/null
cmake --build build/release -j "$jobs"
(cd build/release && ctest --output-on-failure -j "$jobs")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="$sanitize" \
  -DSYMBATCH_BUILD_BENCHMARKS=OFF -DSYMBATCH_SANITIZED=ON >/dev/null
cmake --build build/sanitize -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/sanitize && ctest --output-on-failure -j "$jobs")

echo "== ThreadSanitizer build and run of the thread tests"
tsan="-fsanitize=thread -fno-omit-frame-pointer"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DCMAKE_CXX_FLAGS="$tsan" -DCMAKE_EXE_LINKER_FLAGS="$tsan" \
  -DSYMBATCH_BUILD_EXAMPLES=OFF -DSYMBATCH_BUILD_BENCHMARKS=OFF -DSYMBATCH_SANITIZED=ON >/dev/null
cmake --build build/tsan --target symbatch_thread_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/tsan/tests/symbatch_thread_test
