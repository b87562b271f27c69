// What `cdl micro` measures on an ensemble's parameters (issue 4, point 3).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "micro/network.hpp"
#include "micro/task.hpp"

namespace cdl::micro {

// One measurement of the ensemble. Observables a task does not have are NaN (accuracies for
// regression, alignment outside the teacher task).
struct Measurement {
  double m = 0;               // magnetization: mean over units of the mean of all parameters
  double loss = 0;            // mean over units of the data loss on the unit's own training data
  double loss_test = 0;       // mean over units of the data loss on the shared test data
  double accuracy = 0;        // mean over units of the test accuracy
  double accuracy_vote = 0;   // test accuracy of the units' plurality vote
  double consensus = 0;       // mean Euclidean distance between the parameters of two units
  double parameter_norm = 0;  // mean over units of ‖θ_i‖
  double alignment = 0;       // teacher: mean cosine of unit maps with their teachers' top mode
  // classes: mean over units of the test accuracy on the classes in the unit's own training
  // data, and on the other classes (private generalization); NaN where no unit has any.
  double accuracy_own = 0, accuracy_other = 0;
  // The model with the units' mean parameters θ̄ (the order parameter's direction; the model a
  // federated run deploys): its test accuracy (classes) and test loss.
  double accuracy_mean_model = 0, loss_test_mean_model = 0;
  double accuracy_center = 0;    // easgd: test accuracy of the centre variable (NaN otherwise)
  Eigen::ArrayXd unit_accuracy;  // [unit]
  Eigen::ArrayXd unit_m, unit_loss_test;  // [unit]: the mean parameter, the test loss
  Eigen::MatrixXd cross_accuracy;         // [unit i, unit j]: accuracy of i on the class of unit j
};

// Fraction of ‖C‖²_F in C's best rank-one approximation: σ₁² / Σ σ_k².
double rank_one_r2(const Eigen::MatrixXd& matrix);

template <class S>
class Evaluator {
 public:
  Evaluator(const Architecture& architecture, const TaskData<S>& data);
  // Everything above; the cross-accuracy matrix only when asked (classes task); the centre's
  // accuracy when a centre is given (easgd).
  Measurement measure(const Matrix<S>& theta, bool cross_accuracy,
                      const Vector<S>* centre = nullptr);
  // The threads that share the units (default 1); results do not depend on it.
  void set_threads(int threads);

 private:
  // One thread's buffers.
  struct Scratch {
    explicit Scratch(const Architecture& architecture) : network(architecture) {}
    NetworkWorkspace<S> network;
    Matrix<S> map;
  };
  Scratch make_scratch() const;
  // Data loss of unit `i` over the columns [first, first + count) of inputs, in chunks;
  // predictions (argmax) go to `predicted` when given.
  double loss_over(Scratch& scratch, const S* theta, const Matrix<S>& inputs,
                   const Matrix<S>& targets, const std::vector<int>& labels, Eigen::Index first,
                   Eigen::Index count, int* predicted) const;
  // The end-to-end linear map of a unit into scratch.map: exact for linear networks without
  // biases, else the Gaussian-input estimate E[f(x) xᵀ] over the test inputs (Stein:
  // E[∂f/∂x] for x ~ N(0, I)).
  void end_to_end_map(Scratch& scratch, const S* theta) const;
  Architecture architecture_;
  const TaskData<S>& data_;
  std::vector<Scratch> scratch_;  // one per thread
  Eigen::MatrixXi predictions_;   // [test sample, unit]
  // One model's test loss and, for classes, its test accuracy (NaN otherwise).
  std::pair<double, double> score_model(const S* theta);
  Matrix<S> mean_model_;                // θ̄, one column
  std::vector<int> model_predictions_;  // [test sample]
  std::vector<char> own_;  // classes: [unit × class] 1 where the unit trains on the class
  Matrix<S> identity_;
};

}  // namespace cdl::micro
