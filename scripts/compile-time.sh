#!/usr/bin/env bash
# Prints what symbatch costs a user at compile time: the wall time and peak memory of compiling
# one translation unit that includes symbatch/symbatch.hpp (examples/tour.cpp), at -O2 and -O0,
# with the build's own flags. Run from the project root after scripts/deps.sh (or test.sh).
# Compile time depends on the machine's load: run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for level in -O2 -O0; do
  /usr/bin/time -f "%e %M" -o "$out/time" \
    g++ -std=c++20 "$level" -DNDEBUG -Iinclude -I/usr/include/eigen3 -c examples/tour.cpp -o "$out/tour.o"
  read -r seconds kilobytes < "$out/time"
  printf 'COMPILE tour %s %.1f s, peak %d MB\n' "$level" "$seconds" $((kilobytes / 1024))
done
