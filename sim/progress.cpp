#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace cdl::sim {

Progress::Progress(long total, std::string unit, bool quiet)
    : total_(total),
      unit_(std::move(unit)),
      quiet_(quiet),
      terminal_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_line_(start_) {}

void Progress::advance(long amount) {
  done_ += amount;
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : 10;
  // A terminal bar is redrawn at most ten times a second; plain lines every 10 % or 10 s.
  const bool due = terminal_ ? now - last_line_ > std::chrono::milliseconds(100)
                             : decile > last_decile_ || now - last_line_ > std::chrono::seconds(10);
  if (due) draw(false);
  last_decile_ = decile;
}

void Progress::finish() {
  if (!quiet_ && terminal_) draw(true);
}

void Progress::draw(bool final) {
  last_line_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_line_ - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done_) / rate : 0;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1;
  if (terminal_) {
    constexpr int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%% %ld/%ld %s  %.0f/s  ETA %.0fs   %s",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 100 * fraction, done_, total_, unit_.c_str(), rate, eta, final ? "\n" : "");
  } else {
    std::fprintf(stderr, "progress: %ld/%ld %s (%.0f%%), %.0f/s, ETA %.0fs\n", done_, total_,
                 unit_.c_str(), 100 * fraction, rate, eta);
  }
  std::fflush(stderr);
}

}  // namespace cdl::sim
