// sweep::run_chain_points: the visiting order, other items' points, restarts and broken chains,
// with a stand-in for the physics that records what it was asked to do.
#include "sweep/chain_points.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cdl::sweep;

namespace {

const std::vector<double> sigma = {0.1, 0.3, 1.0, 3.0, 10.0};

std::int8_t flag(PointStatus status) { return static_cast<std::int8_t>(status); }

// "c2" for kind 'c' and point 2. Appended, not "c" + std::to_string(s): GCC 12 reports a false
// -Wrestrict on the inlined insert of that operator+.
std::string event(char kind, int s) { return std::string(1, kind).append(std::to_string(s)); }

// What run_chain_points did, in order: "c2" cleared point 2, "r" restarted, "p2" computed it.
struct Log {
  std::vector<std::string> events;
  std::vector<std::int8_t> status = std::vector<std::int8_t>(sigma.size(), -1);

  void run(Protocol protocol, const WorkItem& item, int failing = -1) {
    run_chain_points(
        protocol, sigma, item, status, [&](int s) { events.push_back(event('c', s)); },
        [&] { events.push_back("r"); },
        [&](int s) {
          events.push_back(event('p', s));
          return s == failing ? PointStatus::diverged : PointStatus::done;
        });
  }
};

WorkItem item_of(Protocol protocol, std::vector<int> points) {
  WorkItem item;
  item.chain.protocol = static_cast<int>(protocol);
  item.sigma = std::move(points);
  return item;
}

}  // namespace

TEST_CASE("a non-adiabatic item restarts before each of its own points", "[chain_points]") {
  Log log;
  log.run(Protocol::nonadiabatic, item_of(Protocol::nonadiabatic, {1, 3}));
  CHECK(log.events == std::vector<std::string>{"c0", "c1", "r", "p1", "c2", "c3", "r", "p3", "c4"});
  const auto done = flag(PointStatus::done), not_run = flag(PointStatus::not_run);
  CHECK(log.status == std::vector<std::int8_t>{not_run, done, not_run, done, not_run});
}

TEST_CASE("a failed non-adiabatic point does not stop the others", "[chain_points]") {
  Log log;
  log.run(Protocol::nonadiabatic, item_of(Protocol::nonadiabatic, {0, 1, 2, 3, 4}), 1);
  const auto done = flag(PointStatus::done);
  CHECK(log.status ==
        std::vector<std::int8_t>{done, flag(PointStatus::diverged), done, done, done});
}

TEST_CASE("an adiabatic chain continues without restarts and breaks after a failure",
          "[chain_points]") {
  SECTION("upwards") {
    Log log;
    log.run(Protocol::adiabatic_up, item_of(Protocol::adiabatic_up, {0, 1, 2, 3, 4}), 2);
    CHECK(log.events == std::vector<std::string>{"c0", "p0", "c1", "p1", "c2", "p2", "c3", "c4"});
    const auto done = flag(PointStatus::done), broken = flag(PointStatus::chain_broken);
    CHECK(log.status ==
          std::vector<std::int8_t>{done, done, flag(PointStatus::diverged), broken, broken});
  }
  SECTION("downwards: from the strongest coupling") {
    Log log;
    log.run(Protocol::adiabatic_down, item_of(Protocol::adiabatic_down, {4, 3, 2, 1, 0}), 3);
    CHECK(log.events == std::vector<std::string>{"c4", "p4", "c3", "p3", "c2", "c1", "c0"});
    const auto broken = flag(PointStatus::chain_broken);
    CHECK(log.status == std::vector<std::int8_t>{broken, broken, broken,
                                                 flag(PointStatus::diverged),
                                                 flag(PointStatus::done)});
  }
}

TEST_CASE("not_converged and not_run are not failures", "[chain_points]") {
  CHECK_FALSE(failed(PointStatus::done));
  CHECK_FALSE(failed(PointStatus::not_run));
  CHECK_FALSE(failed(PointStatus::not_converged));
  for (const auto status : {PointStatus::diverged, PointStatus::step_underflow,
                            PointStatus::step_budget, PointStatus::chain_broken})
    CHECK(failed(status));
}
