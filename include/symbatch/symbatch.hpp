/// @file symbatch.hpp
/// @brief Umbrella header: includes all of symbatch.
#pragma once

#include "symbatch/compile/function.hpp"
#include "symbatch/core/array.hpp"
#include "symbatch/core/eigen.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/graph/print.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"
