#!/usr/bin/env bash
# Installs, from Debian's package registry, whatever symbatch's build needs and this machine
# lacks. Sourced by example.sh and test.sh (which adds what only the tests need in
# symbatch_extra_packages); run as root (or with sudo available).
set -euo pipefail
symbatch_packages=(cmake g++ ninja-build libeigen3-dev catch2 librandom123-dev libbenchmark-dev gnuplot-nox
  ${symbatch_extra_packages[@]+"${symbatch_extra_packages[@]}"})
missing=()
for package in "${symbatch_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
