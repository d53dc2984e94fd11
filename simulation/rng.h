#pragma once

#include <random>

namespace fleetml::sim {

// The simulator's one random engine. Everything random in a simulation (trace offsets, device
// jitter, evaluation cases) draws from an Rng seeded by the caller, so a seed reproduces a run
// on the same standard library.
using Rng = std::mt19937_64;

}  // namespace fleetml::sim
