// How the units of an ensemble exchange parameters (docs/physics.md §1, "Schemes"). σ is the
// coupling strength of every scheme, so that it stays the sweep axis.
#pragma once

#include <string>

namespace cdl::micro {

struct Scheme {
  enum class Kind {
    diffusion,  // θ_i += τ (σ/N) Σ_j A_ij (θ_j − θ_i) every step
    dsgd,       // θ_i += τσ Σ_j W_ij (θ_j − θ_i), W Metropolis–Hastings on the graph
    fedavg,     // local steps; every K steps C N units move towards their mean by min(1, Kτσ),
                // the mean weighted by the units' sample counts (McMahan et al. 2017)
    easgd,      // every unit pulled by σ towards a centre, which moves by Nτσ towards their
                // mean: β = Nα of Zhang, Choromanska & LeCun (2015) with α = τσ
    gossip,     // one random edge per step averages by α = min(1/2, τσ|E|/N)
  };
  Kind kind = Kind::diffusion;
  long period = 1;             // fedavg: K, steps between averages
  double fraction = 1;         // fedavg: C, the fraction of units taking part in an average
  bool equal_weights = false;  // fedavg:K:C:equal, every unit weighing the same in the mean
  std::string to_string() const;
};

// diffusion | dsgd | fedavg:K[:C][:equal] | easgd | gossip; throws cdl::InputError naming `option`.
Scheme parse_scheme(const std::string& text, const std::string& option);

}  // namespace cdl::micro
