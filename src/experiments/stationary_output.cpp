#include "experiments/stationary_output.hpp"

#include <cstdint>
#include <numeric>

namespace cdl::experiments {

namespace {

using theory::Branch;
using theory::StationaryPoint;

// Writes `columns` over a `point` dimension scale in `group`.
void write_points(const h5::Group& group, const std::vector<std::int32_t>& depth,
                  const std::vector<const StationaryPoint*>& points, bool with_stability) {
  const std::size_t n = points.size();
  std::vector<std::int32_t> index(n);
  std::iota(index.begin(), index.end(), 0);
  const h5::Dataset point = group.create_scale<std::int32_t>("point", index);
  std::vector<double> sigma(n), m(n), lyapunov(n);
  std::vector<std::int8_t> stable(n);
  for (std::size_t k = 0; k < n; ++k) {
    sigma[k] = points[k]->sigma;
    m[k] = points[k]->m;
    lyapunov[k] = points[k]->lyapunov;
    stable[k] = points[k]->stable ? 1 : 0;
  }
  const auto column = [&](const std::string& name, const auto& values,
                          const std::string& long_name) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    const h5::Dataset d = group.create_dataset<T>(name, {n});
    d.write<T>(values);
    point.attach_to(d, 0);
    d.set_attribute("long_name", long_name);
  };
  column("depth", depth, "network depth D");
  column("sigma", sigma, "coupling strength sigma");
  column("m", m, "self-consistent mean field m*");
  column("lyapunov", lyapunov, "Lyapunov function per unit H/N");
  if (with_stability) column("stable", stable, "1 if linearly stable (secular equation)");
}

}  // namespace

void write_stationary_file(const std::string& path, const std::vector<StationaryResult>& results,
                           const Provenance& provenance) {
  h5::File file = h5::File::create(path);
  const h5::Group root = file.root();
  write_provenance(root, provenance);
  root.set_attribute("subcommand", std::string("stationary"));

  const auto branch_group = [&](const std::string& name, Branch StationaryResult::*member,
                                const std::string& description) {
    std::vector<std::int32_t> depth;
    std::vector<const StationaryPoint*> points;
    for (const auto& r : results)
      for (const auto& p : (r.*member).points) {
        depth.push_back(r.depth);
        points.push_back(&p);
      }
    const h5::Group group = root.create_group(name);
    group.set_attribute("description", description);
    write_points(group, depth, points, true);
  };
  branch_group("ordered", &StationaryResult::ordered,
               "every unit in its largest-phi well (the well of the sign of m > 0), continued "
               "in sigma by pseudo-arclength through folds");
  branch_group("symmetric", &StationaryResult::symmetric, "m = 0 with every unit at phi = 0");
  branch_group("history", &StationaryResult::history,
               "zero-temperature sweep up the sigma grid from the initial-state wells");

  std::vector<std::int32_t> fold_depth;
  std::vector<const StationaryPoint*> folds;
  for (const auto& r : results)
    for (const auto& f : r.ordered.folds) {
      fold_depth.push_back(r.depth);
      folds.push_back(&f);
    }
  const h5::Group fold_group = root.create_group("folds");
  fold_group.set_attribute("description",
                           std::string("turning points of the ordered branch in sigma"));
  write_points(fold_group, fold_depth, folds, false);

  const h5::Group critical = root.create_group("critical");
  critical.set_attribute("description",
                         std::string("sigma_c1: the history branch joins the ordered one (onset of "
                                     "collective learning); sigma_c2: the ordered branch folds "
                                     "back or reaches m = 0 (order lost); sigma_coexistence: "
                                     "equal H per unit of the stable ordered and symmetric "
                                     "branches. NaN where a coupling does not exist in the grid."));
  std::vector<std::int32_t> depths;
  std::vector<double> c1, c2, coexistence;
  for (const auto& r : results) {
    depths.push_back(r.depth);
    c1.push_back(r.critical.sigma_c1);
    c2.push_back(r.critical.sigma_c2);
    coexistence.push_back(r.critical.sigma_coexistence);
  }
  const h5::Dataset depth = critical.create_scale<std::int32_t>("depth", depths);
  for (const auto& [name, values] : {std::pair{"sigma_c1", &c1}, std::pair{"sigma_c2", &c2},
                                     std::pair{"sigma_coexistence", &coexistence}}) {
    const h5::Dataset d = critical.create_dataset<double>(name, {depths.size()});
    d.write<double>(*values);
    depth.attach_to(d, 0);
  }
  file.close();
}

}  // namespace cdl::experiments
