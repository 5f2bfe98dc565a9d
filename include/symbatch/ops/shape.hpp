/// @file shape.hpp
/// @brief Forwarding header, kept so that code written for symbatch 0.1 still compiles: the shape
/// ops now live in one header each (`ops/dimensions.hpp`, `ops/reshape.hpp`,
/// `ops/transpose.hpp`, `ops/concatenate.hpp`). Include those instead; this header will be
/// removed in a later release.
#pragma once

#include "symbatch/ops/concatenate.hpp"
#include "symbatch/ops/dimensions.hpp"
#include "symbatch/ops/reshape.hpp"
#include "symbatch/ops/transpose.hpp"
