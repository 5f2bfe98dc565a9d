/// @file elemwise.hpp
/// @brief Elementwise ops with NumPy broadcasting: the machinery (`ops/elemwise/kernel.hpp`),
/// `cast` (`ops/elemwise/cast.hpp`), `where` and `zeros_like` (`ops/elemwise/where.hpp`) and the
/// catalogue of functions with their gradients (`ops/elemwise/math.hpp`).
#pragma once

#include "symbatch/ops/elemwise/cast.hpp"
#include "symbatch/ops/elemwise/kernel.hpp"
#include "symbatch/ops/elemwise/math.hpp"
#include "symbatch/ops/elemwise/where.hpp"
