/// @file variable.hpp
/// @brief Forwarding header, kept so that code written for symbatch 0.1 still compiles: random
/// variables now live in `random/draws.hpp` (one name, one thing: `graph/variable.hpp` is the
/// graph's `Variable`). Include that instead; this header will be removed in a later release.
#pragma once

#include "symbatch/random/draws.hpp"
