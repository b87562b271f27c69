// Counter-based random numbers: every draw is a pure function of (seed, purpose, realization,
// unit, index), so results do not depend on thread identity, order of execution or sharding.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace cdl::base {

// splitmix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What a stream of draws is used for; part of the key so that streams never overlap.
enum class Purpose : std::uint64_t {
  disorder = 1,
  initial_state = 2,
  graph = 3,
  data = 4,       // synthetic data sets and teachers
  batch = 5,      // minibatch order
  weights = 6,    // network weights (except balanced ones, which are initial states)
  exchange = 7,   // who exchanges parameters: fedavg's participants, gossip's edges
  partition = 8,  // which training samples each unit gets (--partition)
  failure = 9,    // which units and links fail when (--dropout, --link-failure, --crash)
};

class CounterRng {
 public:
  constexpr CounterRng(std::uint64_t seed, Purpose purpose, std::uint64_t realization)
      : key_(mix64(mix64(mix64(seed) ^ static_cast<std::uint64_t>(purpose)) ^ realization)) {}

  constexpr std::uint64_t key() const { return key_; }

  constexpr std::uint64_t bits(std::uint64_t unit, std::uint64_t index) const {
    return mix64(mix64(key_ ^ unit) + index);
  }
  // Uniform on [0, 1) with 53 random bits.
  constexpr double uniform(std::uint64_t unit, std::uint64_t index) const {
    return static_cast<double>(bits(unit, index) >> 11) * 0x1.0p-53;
  }
  // Standard normal by Box–Muller from two uniforms of the same (unit, index).
  double normal(std::uint64_t unit, std::uint64_t index) const {
    const double u1 = 1.0 - uniform(unit, 2 * index);  // in (0, 1]
    const double u2 = uniform(unit, 2 * index + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t key_;
};

}  // namespace cdl::base
