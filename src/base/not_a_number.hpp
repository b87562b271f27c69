// The quiet NaN that marks a value not computed (a point not done, an undefined estimate).
#pragma once

#include <limits>

namespace cdl::base {

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

}  // namespace cdl::base
