#include "micro/task.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "base/errors.hpp"
#include "base/parse.hpp"
#include "base/random.hpp"

namespace cdl::micro {

namespace {

using base::CounterRng;
using base::Purpose;

// Streams of the data generator, kept apart by the high bits of the `unit` counter.
enum class Stream : std::uint64_t {
  teacher_left = 0,
  teacher_right = 1,
  train_inputs = 2,
  train_noise = 3,
  test_inputs = 4,
  test_noise = 5,
  class_means = 6,
};

std::uint64_t stream(Stream s, std::uint64_t index) {
  return (static_cast<std::uint64_t>(s) << 40) | index;
}

// A matrix of independent standard normals from one stream of the data generator.
Eigen::MatrixXd normals(const CounterRng& rng, Stream s, std::uint64_t block, Eigen::Index rows,
                        Eigen::Index cols) {
  Eigen::MatrixXd out(rows, cols);
  for (Eigen::Index c = 0; c < cols; ++c)
    for (Eigen::Index r = 0; r < rows; ++r)
      out(r, c) = rng.normal(stream(s, block), static_cast<std::uint64_t>(c * rows + r));
  return out;
}

// An orthonormal basis of K directions in R^DIM (shared singular vectors of the teachers).
Eigen::MatrixXd orthonormal(const CounterRng& rng, Stream s, int dim, int k) {
  const Eigen::MatrixXd gaussian = normals(rng, s, 0, dim, k);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian);
  return qr.householderQ() * Eigen::MatrixXd::Identity(dim, k);
}

template <class S>
std::vector<Eigen::Index> class_ranges(const std::vector<int>& sorted_labels, int classes,
                                       std::vector<Eigen::Index>& count) {
  std::vector<Eigen::Index> first(static_cast<std::size_t>(classes), 0);
  count.assign(static_cast<std::size_t>(classes), 0);
  for (int label : sorted_labels) ++count[static_cast<std::size_t>(label)];
  for (int k = 1; k < classes; ++k) first[k] = first[k - 1] + count[k - 1];
  return first;
}

template <class S>
Matrix<S> one_hot(const std::vector<int>& labels, int classes) {
  Matrix<S> targets = Matrix<S>::Zero(classes, static_cast<Eigen::Index>(labels.size()));
  for (std::size_t k = 0; k < labels.size(); ++k)
    targets(labels[k], static_cast<Eigen::Index>(k)) = S(1);
  return targets;
}

template <class S>
void assign_units_to_classes(const TaskSpec& spec, TaskData<S>& data,
                             const std::vector<Eigen::Index>& train_first,
                             const std::vector<Eigen::Index>& train_count) {
  data.unit_first.resize(static_cast<std::size_t>(spec.units));
  data.unit_count.resize(static_cast<std::size_t>(spec.units));
  data.unit_class.resize(static_cast<std::size_t>(spec.units));
  data.disorder.resize(spec.units);
  for (int i = 0; i < spec.units; ++i) {
    const int k = i % data.classes;
    data.unit_class[i] = k;
    data.unit_first[i] = train_first[k];
    data.unit_count[i] = train_count[k];
    data.disorder[i] = k;
  }
}

template <class S>
TaskData<S> effective_task(const TaskSpec& spec, int run) {
  TaskData<S> data;
  data.loss = LossKind::mse;
  Eigen::ArrayXd delta(spec.units);
  // The same Δ_i as `cdl theory` draws for this seed and realization.
  spec.disorder.draw(CounterRng(spec.seed, Purpose::disorder, static_cast<std::uint64_t>(run)), run,
                     delta);
  data.disorder = delta;
  // One sample per unit, (x = 1, y = Δ_i); the test set is every unit's sample.
  auto inputs = std::make_shared<Matrix<S>>(Matrix<S>::Ones(1, spec.units));
  data.train_inputs = data.test_inputs = inputs;
  data.train_targets = delta.transpose().matrix().cast<S>();
  data.test_targets = data.train_targets;
  for (int i = 0; i < spec.units; ++i) {
    data.unit_first.push_back(i);
    data.unit_count.push_back(1);
  }
  return data;
}

template <class S>
TaskData<S> teacher_task(const TaskSpec& spec, int run) {
  const int dim = spec.data.dim, modes = spec.data.modes, n = spec.units;
  const CounterRng rng(spec.seed, Purpose::data, static_cast<std::uint64_t>(run));
  const Eigen::MatrixXd left = orthonormal(rng, Stream::teacher_left, dim, modes);
  const Eigen::MatrixXd right = orthonormal(rng, Stream::teacher_right, dim, modes);
  // s_ik: mode 0 uses the stream of `cdl theory`'s Δ_i; the other modes their own streams.
  Eigen::MatrixXd singular(n, modes);
  for (int k = 0; k < modes; ++k) {
    Eigen::ArrayXd column(n);
    const std::uint64_t key =
        static_cast<std::uint64_t>(run) + (static_cast<std::uint64_t>(k) << 32);
    spec.disorder.draw(CounterRng(spec.seed, Purpose::disorder, key), run, column);
    singular.col(k) = column.matrix();
  }
  TaskData<S> data;
  data.loss = LossKind::mse;
  data.input = data.output = dim;
  data.disorder = singular.col(0).array();
  data.top_left.resize(dim, n);
  data.top_right.resize(dim, n);
  auto train = std::make_shared<Matrix<S>>(dim, static_cast<Eigen::Index>(n) * spec.train_size);
  auto test = std::make_shared<Matrix<S>>(dim, static_cast<Eigen::Index>(n) * spec.test_size);
  data.train_targets.resize(dim, train->cols());
  data.test_targets.resize(dim, test->cols());
  for (int i = 0; i < n; ++i) {
    Eigen::Index top = 0;
    singular.row(i).cwiseAbs().maxCoeff(&top);
    const double sign = singular(i, top) < 0 ? -1.0 : 1.0;
    data.top_left.col(i) = (sign * left.col(top)).cast<S>();
    data.top_right.col(i) = right.col(top).cast<S>();
    const Eigen::MatrixXd teacher = left * singular.row(i).asDiagonal() * right.transpose();
    const auto unit = static_cast<std::uint64_t>(i);
    const Eigen::MatrixXd x_train = normals(rng, Stream::train_inputs, unit, dim, spec.train_size);
    const Eigen::MatrixXd y_train =
        teacher * x_train +
        spec.noise * normals(rng, Stream::train_noise, unit, dim, spec.train_size);
    const Eigen::MatrixXd x_test = normals(rng, Stream::test_inputs, unit, dim, spec.test_size);
    const Eigen::MatrixXd y_test =
        teacher * x_test + spec.noise * normals(rng, Stream::test_noise, unit, dim, spec.test_size);
    const Eigen::Index first = static_cast<Eigen::Index>(i) * spec.train_size;
    train->middleCols(first, spec.train_size) = x_train.cast<S>();
    data.train_targets.middleCols(first, spec.train_size) = y_train.cast<S>();
    test->middleCols(static_cast<Eigen::Index>(i) * spec.test_size, spec.test_size) =
        x_test.cast<S>();
    data.test_targets.middleCols(static_cast<Eigen::Index>(i) * spec.test_size, spec.test_size) =
        y_test.cast<S>();
    data.unit_first.push_back(first);
    data.unit_count.push_back(spec.train_size);
  }
  data.train_inputs = train;
  data.test_inputs = test;
  return data;
}

template <class S>
TaskData<S> synthetic_classes(const TaskSpec& spec, int run, LossKind loss) {
  const int dim = spec.data.dim, classes = spec.data.modes;
  const CounterRng rng(spec.seed, Purpose::data, static_cast<std::uint64_t>(run));
  // Class means ~ N(0, I): typical distances √(2·DIM) against unit noise, so all the data
  // together are well separable while one class alone teaches nothing about the others.
  const Eigen::MatrixXd means = normals(rng, Stream::class_means, 0, dim, classes);
  TaskData<S> data;
  data.loss = loss;
  data.input = dim;
  data.output = data.classes = classes;
  auto train =
      std::make_shared<Matrix<S>>(dim, static_cast<Eigen::Index>(classes) * spec.train_size);
  auto test = std::make_shared<Matrix<S>>(dim, static_cast<Eigen::Index>(classes) * spec.test_size);
  for (int k = 0; k < classes; ++k) {
    const auto block = static_cast<std::uint64_t>(k);
    const Eigen::MatrixXd x_train =
        normals(rng, Stream::train_inputs, block, dim, spec.train_size).colwise() + means.col(k);
    const Eigen::MatrixXd x_test =
        normals(rng, Stream::test_inputs, block, dim, spec.test_size).colwise() + means.col(k);
    train->middleCols(static_cast<Eigen::Index>(k) * spec.train_size, spec.train_size) =
        x_train.cast<S>();
    test->middleCols(static_cast<Eigen::Index>(k) * spec.test_size, spec.test_size) =
        x_test.cast<S>();
    data.train_labels.insert(data.train_labels.end(), static_cast<std::size_t>(spec.train_size), k);
    data.test_labels.insert(data.test_labels.end(), static_cast<std::size_t>(spec.test_size), k);
  }
  data.train_inputs = train;
  data.test_inputs = test;
  arrange_classes(spec, data);
  return data;
}

}  // namespace

std::string name(TaskKind task) {
  switch (task) {
    case TaskKind::effective:
      return "effective";
    case TaskKind::teacher:
      return "teacher";
    case TaskKind::classes:
      return "classes";
  }
  return "";
}

TaskKind parse_task_kind(const std::string& text, const std::string& option) {
  return base::parse_choice<TaskKind>(text, option,
                                      {{"effective", TaskKind::effective},
                                       {"teacher", TaskKind::teacher},
                                       {"classes", TaskKind::classes}});
}

std::string DataSpec::to_string() const {
  if (kind == Kind::idx) return "idx:" + dir + ":" + std::to_string(modes);
  if (kind == Kind::cifar) return "cifar:" + dir;
  return "synthetic:" + std::to_string(dim) + ":" + std::to_string(modes);
}

DataSpec parse_data(const std::string& text, const std::string& option) {
  DataSpec spec;
  const auto fields = base::split(text, ':');
  const auto whole = [&](const std::string& field, int low, const std::string& what) {
    const long long value = base::parse_integer(field, option);
    if (value < low || value > 100000000)
      base::reject(option, text, what + " must be an integer >= " + std::to_string(low));
    return static_cast<int>(value);
  };
  if (fields[0] == "synthetic" && fields.size() == 3) {
    spec.dim = whole(fields[1], 1, "DIM");
    spec.modes = whole(fields[2], 1, "K");
  } else if (fields[0] == "idx" && (fields.size() == 2 || fields.size() == 3)) {
    if (fields[1].empty()) base::reject(option, text, "idx:DIR needs a directory");
    spec.kind = DataSpec::Kind::idx;
    spec.dir = fields[1];
    spec.modes = fields.size() == 3 ? whole(fields[2], 2, "K") : 10;
    if (spec.modes > 256) base::reject(option, text, "IDX labels are bytes: K <= 256");
  } else if (fields[0] == "cifar" && fields.size() == 2) {
    if (fields[1].empty()) base::reject(option, text, "cifar:DIR needs a directory");
    spec.kind = DataSpec::Kind::cifar;
    spec.dir = fields[1];
    spec.modes = 10;
  } else {
    base::reject(option, text, "expected synthetic:DIM:K, idx:DIR[:K] or cifar:DIR");
  }
  return spec;
}

template <class S>
void arrange_classes(const TaskSpec& spec, TaskData<S>& data) {
  const int classes = data.classes;
  std::vector<Eigen::Index> train_count;
  const auto train_first = class_ranges<S>(data.train_labels, classes, train_count);
  data.test_class_first = class_ranges<S>(data.test_labels, classes, data.test_class_count);
  if (data.loss == LossKind::mse) {
    data.train_targets = one_hot<S>(data.train_labels, classes);
    data.test_targets = one_hot<S>(data.test_labels, classes);
  }
  for (int i = 0; i < std::min(spec.units, classes); ++i)
    if (train_count[i] == 0)
      base::reject("data", spec.data.to_string(),
                   "class " + std::to_string(i) + " of unit " + std::to_string(i) +
                       " has no training images");
  assign_units_to_classes(spec, data, train_first, train_count);
}

template <class S>
TaskData<S> make_task_data(const TaskSpec& spec, int run, const TaskData<S>* idx) {
  switch (spec.kind) {
    case TaskKind::effective:
      return effective_task<S>(spec, run);
    case TaskKind::teacher:
      return teacher_task<S>(spec, run);
    case TaskKind::classes:
      if (idx) return *idx;  // shares the images; only the small per-unit tables are copied
      return synthetic_classes<S>(spec, run, spec.loss);
  }
  throw RuntimeError("unknown task");
}

template void arrange_classes<float>(const TaskSpec&, TaskData<float>&);
template void arrange_classes<double>(const TaskSpec&, TaskData<double>&);
template TaskData<float> make_task_data<float>(const TaskSpec&, int, const TaskData<float>*);
template TaskData<double> make_task_data<double>(const TaskSpec&, int, const TaskData<double>*);

}  // namespace cdl::micro
