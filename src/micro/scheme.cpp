#include "micro/scheme.hpp"

#include "base/errors.hpp"
#include "base/parse.hpp"

namespace cdl::micro {

std::string Scheme::to_string() const {
  switch (kind) {
    case Kind::diffusion:
      return "diffusion";
    case Kind::dsgd:
      return "dsgd";
    case Kind::fedavg:
      return "fedavg:" + std::to_string(period) + ":" + base::format_double(fraction) +
             (equal_weights ? ":equal" : "");
    case Kind::easgd:
      return "easgd";
    case Kind::gossip:
      return "gossip";
  }
  return "";
}

Scheme parse_scheme(const std::string& text, const std::string& option) {
  Scheme scheme;
  const auto fields = base::split(text, ':');
  const std::string& name = fields[0];
  if (fields.size() == 1 && name == "diffusion") {
    scheme.kind = Scheme::Kind::diffusion;
  } else if (fields.size() == 1 && name == "dsgd") {
    scheme.kind = Scheme::Kind::dsgd;
  } else if (fields.size() == 1 && name == "easgd") {
    scheme.kind = Scheme::Kind::easgd;
  } else if (fields.size() == 1 && name == "gossip") {
    scheme.kind = Scheme::Kind::gossip;
  } else if (fields.size() >= 2 && fields.size() <= 4 && name == "fedavg") {
    scheme.kind = Scheme::Kind::fedavg;
    try {
      scheme.period = base::parse_integer(fields[1], option);
    } catch (const InputError&) {
      base::reject(option, text, "K must be a whole number of steps from 1 to 10^9");
    }
    if (scheme.period < 1 || scheme.period > 1000000000)
      base::reject(option, text, "K must be a whole number of steps from 1 to 10^9");
    if (fields.size() == 4) {
      if (fields[3] != "equal")
        base::reject(option, text, "the last field may only be 'equal' (fedavg:K:C:equal)");
      scheme.equal_weights = true;
    }
    if (fields.size() >= 3) {
      if (fields[2] == "equal")
        base::reject(option, text, "give C before equal, as in fedavg:K:1:equal");
      try {
        scheme.fraction = base::parse_double(fields[2], option);
      } catch (const InputError&) {
        base::reject(option, text, "C must be a number in (0, 1]");
      }
      if (!(scheme.fraction > 0 && scheme.fraction <= 1))
        base::reject(option, text, "C must lie in (0, 1]");
    }
  } else {
    base::reject(option, text, "expected diffusion, dsgd, fedavg:K[:C][:equal], easgd or gossip");
  }
  return scheme;
}

}  // namespace cdl::micro
