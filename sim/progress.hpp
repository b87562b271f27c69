// Progress of a sweep on stderr: a bar with rate and ETA on a terminal, a plain line every
// ~10 % (and at most every 10 s apart) otherwise, nothing when quiet.
#pragma once

#include <chrono>
#include <string>

namespace cdl::sim {

class Progress {
 public:
  Progress(long total, std::string unit, bool quiet);
  void advance(long amount);
  void finish();

 private:
  void draw(bool final);
  long total_, done_ = 0;
  std::string unit_;
  bool quiet_, terminal_;
  int last_decile_ = 0;
  std::chrono::steady_clock::time_point start_, last_line_;
};

}  // namespace cdl::sim
