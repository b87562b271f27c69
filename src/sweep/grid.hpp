// The sweep grid: couplings σ, depths, realizations and protocols (docs/physics.md §3).
#pragma once

#include <string>
#include <vector>

namespace cdl::sweep {

// Segments separated by commas, concatenated in order and kept as given (duplicates too):
// log:a:b:n → n values 10^a..10^b log-spaced, lin:a:b:n → n values a..b, or a plain number.
// Every σ must be finite and ≥ 0. Throws cdl::InputError naming `option` and the segment.
std::vector<double> parse_sigma_grid(const std::string& text, const std::string& option);

// Comma-separated non-negative integers.
std::vector<int> parse_depths(const std::string& text, const std::string& option);

enum class Protocol { nonadiabatic, adiabatic_up, adiabatic_down };
std::vector<Protocol> parse_protocols(const std::string& text, const std::string& option);
std::string name(Protocol protocol);

// The order in which a chain visits the grid's σ indices: as given for the non-adiabatic
// protocol (every point restarts), increasing σ for adiabatic_up and decreasing for
// adiabatic_down (stable, so duplicated σ are visited in grid order).
std::vector<int> visiting_order(Protocol protocol, const std::vector<double>& sigma);

}  // namespace cdl::sweep
