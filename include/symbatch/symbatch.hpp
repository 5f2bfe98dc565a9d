/// @file symbatch.hpp
/// @brief Umbrella header: includes all of symbatch.
#pragma once

#include "symbatch/compile/function.hpp"
#include "symbatch/core/array.hpp"
#include "symbatch/core/eigen.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/distributions/discrete.hpp"
#include "symbatch/grad/grad.hpp"
#include "symbatch/graph/print.hpp"
#include "symbatch/graph/walk.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/inference/map.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"
#include "symbatch/ops/elemwise.hpp"
#include "symbatch/ops/reduce.hpp"
#include "symbatch/ops/shape.hpp"
#include "symbatch/ops/sort.hpp"
#include "symbatch/ops/subtensor.hpp"
#include "symbatch/optim/optimizers.hpp"
#include "symbatch/random/variable.hpp"
