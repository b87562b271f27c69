// The sweep grid: σ segments, depths, protocols and their visiting order.
#include "sweep/grid.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "base/distribution.hpp"
#include "base/errors.hpp"

using namespace cdl::sweep;
namespace base = cdl::base;

TEST_CASE("the published coupling grid has 60 values with the joints twice") {
  const auto sigma = parse_sigma_grid("log:-2.2:-1:15,log:-1:1:30,log:1:2.2:15", "sigma");
  REQUIRE(sigma.size() == 60);
  CHECK(sigma.front() == Approx(std::pow(10.0, -2.2)));
  CHECK(sigma[14] == Approx(0.1));
  CHECK(sigma[15] == Approx(0.1));
  CHECK(sigma[44] == Approx(10.0));
  CHECK(sigma[45] == Approx(10.0));
  CHECK(sigma.back() == Approx(std::pow(10.0, 2.2)));
  CHECK(sigma[1] / sigma[0] == Approx(std::pow(10.0, 1.2 / 14)));
}

TEST_CASE("grid segments concatenate in order and keep what is given") {
  CHECK(parse_sigma_grid("lin:0:1:5", "sigma") == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(parse_sigma_grid("3,1,2", "sigma") == std::vector<double>{3, 1, 2});
  CHECK(parse_sigma_grid("log:0:0:1,0.5", "sigma") == std::vector<double>{1, 0.5});
  for (const char* bad : {"", "log:-1:1", "log:a:1:5", "lin:0:1:0", "1,,2", "-0.5", "nan", "inf",
                          "exp:0:1:3", "1e-3x", "log:0:400:2"})
    CHECK_THROWS_AS(parse_sigma_grid(bad, "sigma"), cdl::InputError);
}

TEST_CASE("bad input messages name the option and the value") {
  try {
    parse_sigma_grid("log:-1:1", "sigma");
    FAIL("accepted");
  } catch (const cdl::InputError& e) {
    const std::string message = e.what();
    CHECK(message.find("--sigma") != std::string::npos);
    CHECK(message.find("log:-1:1") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("depths and protocols parse strictly") {
  CHECK(parse_depths("0,1,2", "depths") == std::vector<int>{0, 1, 2});
  CHECK_THROWS_AS(parse_depths("0,-1", "depths"), cdl::InputError);
  CHECK_THROWS_AS(parse_depths("1.5", "depths"), cdl::InputError);
  CHECK(parse_protocols("adiabatic_down,nonadiabatic", "protocols") ==
        std::vector<Protocol>{Protocol::adiabatic_down, Protocol::nonadiabatic});
  CHECK_THROWS_AS(parse_protocols("adiabatic", "protocols"), cdl::InputError);
  CHECK_THROWS_AS(parse_protocols("nonadiabatic,nonadiabatic", "protocols"), cdl::InputError);
}

TEST_CASE("adiabatic protocols visit σ in increasing or decreasing order, stably") {
  const std::vector<double> sigma{0.5, 0.1, 2.0, 0.1};
  CHECK(visiting_order(Protocol::nonadiabatic, sigma) == std::vector<int>{0, 1, 2, 3});
  CHECK(visiting_order(Protocol::adiabatic_up, sigma) == std::vector<int>{1, 3, 0, 2});
  CHECK(visiting_order(Protocol::adiabatic_down, sigma) == std::vector<int>{2, 0, 1, 3});
}

TEST_CASE("distributions draw with the requested moments and are counter-based") {
  const int n = 200000;
  Eigen::ArrayXd x(n);
  const base::CounterRng rng(3, base::Purpose::disorder, 0);
  base::parse_distribution("normal:0.5:2", "disorder", {"normal"}).draw(rng, 0, x);
  CHECK(x.mean() == Approx(0.5).margin(5 * 2 / std::sqrt(n)));
  CHECK(std::sqrt((x - x.mean()).square().mean()) == Approx(2).epsilon(0.01));
  base::parse_distribution("uniform:-1.7:2.3", "init", {"uniform"}).draw(rng, 0, x);
  CHECK(x.minCoeff() >= -1.7);
  CHECK(x.maxCoeff() < 2.3);
  CHECK(x.mean() == Approx(0.3).margin(0.01));
  base::parse_distribution("bimodal:1.5:0.25", "disorder", {"bimodal"}).draw(rng, 0, x);
  CHECK((x.abs() == 1.5).all());
  CHECK((x > 0).cast<double>().mean() == Approx(0.25).margin(0.01));
  // The first units' values do not depend on how many units are drawn.
  Eigen::ArrayXd few(10);
  base::parse_distribution("bimodal:1.5:0.25", "disorder", {"bimodal"}).draw(rng, 0, few);
  CHECK((few == x.head(10)).all());
  for (const char* bad :
       {"normal:0", "normal:0:-1", "uniform:2:1", "bimodal:1:2", "gamma:1:1", "normal:0:nan"})
    CHECK_THROWS_AS(base::parse_distribution(bad, "disorder", {"normal", "uniform", "bimodal"}),
                    cdl::InputError);
  CHECK_THROWS_AS(base::parse_distribution("file:/nonexistent", "disorder", {"file"}),
                  cdl::InputError);
}
