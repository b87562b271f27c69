// The start-up guard of `cdl` (sim/cpu_guard.cpp): before any other code of the program runs, it
// checks that this CPU has every instruction-set extension the binary was compiled for
// (-march=native, CMake option CDL_NATIVE) and otherwise exits with status 2 and one line on
// stderr naming the missing ones, instead of dying of SIGILL later without a word.
#pragma once

namespace cdl::sim {

// The instruction set this binary was compiled for, for `cdl --version`: "x86-64 with sse3 ssse3
// ... (-march=native)" (the extensions the guard checks), or "generic x86-64 (-DCDL_NATIVE=OFF)".
const char* built_for();

}  // namespace cdl::sim
