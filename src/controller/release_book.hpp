#pragma once

// Release bookkeeping: what an environment serves, which releases succeeded there, and what it
// must keep running. What serves is a record of its own (store::ServingRecord), written in the
// transaction of the deployment commit that makes a version take all traffic, never inferred
// from which deployment was created last: a rollback racing queued releases finishes in another
// order than it was created in.
//
// Strand only (the store calls block briefly).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"
#include "runway/engine/state.hpp"
#include "runway/store/store.hpp"

namespace runway::controller {

class DeploymentRepository;

struct Serving {
  std::string version;  // "" = nothing serves yet
  engine::Colour colour = engine::Colour::Blue;
};

// (service, version) pairs.
using KeepList = std::vector<std::pair<std::string, std::string>>;

class ReleaseBook {
 public:
  explicit ReleaseBook(store::Store& store) : store_(store) {}

  // What `environment` serves: its serving record; in a store written before serving records
  // were kept, the newest Succeeded deployment.
  Result<Serving> current(const std::string& environment);

  // Distinct versions that Succeeded in `environment`, newest created first.
  Result<std::vector<std::string>> successfulReleases(const std::string& environment);

  // The serving record a commit of deployment `after` must carry, given the phases the input
  // passed through (`entered`): entering Succeeded makes its version serve (a promotion, a
  // rollback, a fast rollback); entering RolledBack gives all traffic back to its stable
  // version. nullopt when the commit changes nothing about what serves.
  static std::optional<store::ServingRecord> servingAfter(const engine::DeploymentState& after,
                                                          const std::vector<engine::Phase>& entered,
                                                          TimePoint now);

  // The (service, version) pairs `environment` must keep running: what serves, on every
  // service of its application in `config`, and whatever the intent of a deployment driving
  // the environment names (versions to run, split, pending retirements).
  KeepList keepList(const std::string& environment, const DeploymentRepository& deployments,
                    const config::Config& config);

 private:
  store::Store& store_;
};

}  // namespace runway::controller
