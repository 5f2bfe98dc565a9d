/// @file subtensor.hpp
/// @brief Row selection along axis 0: basic slicing `x[start:stop]` with symbolic bounds (a
/// zero-copy view), gather `take(x, indices)`, and their gradient partners `inc_slice` and
/// `scatter_add`.
#pragma once

#include "symbatch/ops/slice.hpp"
#include "symbatch/ops/take.hpp"
