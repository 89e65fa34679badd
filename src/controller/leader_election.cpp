#include "runway/controller/leader_election.hpp"

#include <spdlog/spdlog.h>

namespace runway::controller {

Result<std::unique_ptr<LeaderElection>> LeaderElection::start(LeaderElectionOptions options) {
  if (options.holder.empty() || options.lease.empty()) {
    return fail(ErrorCode::InvalidArgument, "leader election needs a lease name and a holder");
  }
  if (options.ttl < std::chrono::milliseconds(300)) {
    return fail(ErrorCode::InvalidArgument, "the lease TTL must be at least 300ms");
  }
  if (!options.store || !options.clock || !options.on_elected || !options.on_deposed) {
    return fail(ErrorCode::InvalidArgument, "leader election needs a store, a clock and both callbacks");
  }
  if (options.follower_poll <= Duration{0}) options.follower_poll = options.ttl / 3;
  std::unique_ptr<LeaderElection> election(new LeaderElection(std::move(options)));
  election->thread_ = std::thread([raw = election.get()] { raw->run(); });
  return election;
}

LeaderElection::~LeaderElection() { stop(); }

store::Fence LeaderElection::fence(std::int64_t term) {
  return store::Fence{options_.lease, options_.holder, term, [this] { fenced(); }};
}

void LeaderElection::fenced() {
  {
    std::lock_guard lock(mutex_);
    fenced_ = true;
  }
  wake_.notify_all();
}

void LeaderElection::resign() {
  {
    std::lock_guard lock(mutex_);
    resigned_ = true;
  }
  wake_.notify_all();
}

LeadershipStatus LeaderElection::status() const {
  std::lock_guard lock(mutex_);
  return LeadershipStatus{leading_, lease_, options_.holder,
                          leading_ ? std::optional<TimePoint>(elected_at_) : std::nullopt};
}

void LeaderElection::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LeadershipStatus LeaderElection::freshStatus() {
  auto status = this->status();
  if (status.lease && status.lease->expires_at > options_.clock->now()) return status;
  if (auto read = options_.store->getLease(options_.lease); read && *read) {
    std::lock_guard lock(mutex_);
    // Another thread may have read a newer one meanwhile: keep the higher term.
    if (!lease_ || (*read)->term >= lease_->term) lease_ = *read;
    return LeadershipStatus{leading_, lease_, options_.holder,
                            leading_ ? std::optional<TimePoint>(elected_at_) : std::nullopt};
  }
  return status;
}

bool LeaderElection::leading() const {
  std::lock_guard lock(mutex_);
  return leading_;
}

void LeaderElection::depose(const std::string& why) {
  spdlog::warn("leader election: stepping down ({}); the controller stops", why);
  {
    std::lock_guard lock(mutex_);
    leading_ = false;
  }
  // An activation still starting sees leading() false and gives up; then the leader's work is
  // stopped before anything else happens here (no renewal, no new term).
  if (activation_.joinable()) activation_.join();
  options_.on_deposed();
}

void LeaderElection::run() {
  while (true) {
    bool leading = false;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) break;
      leading = leading_;
      if (fenced_ || resigned_) {
        const bool resigned = resigned_;
        fenced_ = resigned_ = false;
        if (leading) {
          lock.unlock();
          depose(resigned ? "it could not start leading" : "a write was refused: another server holds the lease");
          // Given back (refused when another server holds it already): another server may
          // take over now rather than when it expires.
          (void)options_.store->releaseLease(options_.lease, options_.holder);
          if (resigned) {
            // Let another server try first.
            std::unique_lock held(mutex_);
            wake_.wait_for(held, options_.ttl, [this] { return stopping_; });
          }
          continue;
        }
      }
    }
    const TimePoint asked_at = options_.clock->now();
    auto acquired = options_.store->acquireLease(options_.lease, options_.holder, options_.ttl, asked_at);
    std::optional<store::Lease> seen;
    if (acquired) {
      if (auto read = options_.store->getLease(options_.lease)) seen = *read;
    }
    {
      std::lock_guard lock(mutex_);
      if (seen) lease_ = seen;
      if (acquired && *acquired) renewed_at_ = asked_at;
    }
    if (!acquired) {
      // The store is unreachable: we may lead for as long as the lease we last renewed lasts,
      // and not a moment longer (after it, another server may take over).
      TimePoint renewed_at;
      {
        std::lock_guard lock(mutex_);
        renewed_at = renewed_at_;
      }
      if (leading && options_.clock->now() >= renewed_at + options_.ttl) {
        depose("cannot renew the lease: " + acquired.error().message);
      } else {
        spdlog::warn("leader election: {}", acquired.error().message);
      }
    } else if (*acquired && !leading) {
      // Our lease: the term comes from reading it back (a renewal keeps it).
      if (seen && seen->holder == options_.holder) {
        spdlog::info("leader election: this server leads (term {}, lease {} for {} ms)", seen->term,
                     options_.lease, options_.ttl.count());
        {
          std::lock_guard lock(mutex_);
          leading_ = true;
          elected_at_ = asked_at;
        }
        if (activation_.joinable()) activation_.join();
        activation_ = std::thread([this, lease = *seen] { options_.on_elected(lease, *this); });
      }
    } else if (!*acquired && leading) {
      depose(seen ? "the lease is held by " + seen->holder + " at term " + std::to_string(seen->term)
                  : std::string("the lease is held by another server"));
    }
    std::unique_lock lock(mutex_);
    const Duration wait = leading_ ? options_.ttl / 3 : options_.follower_poll;
    wake_.wait_for(lock, wait, [this] { return stopping_ || fenced_ || resigned_; });
  }
  // Stopping: a leader stops its controller, then gives the lease back so that a follower
  // takes over now rather than when it expires.
  bool was_leading = false;
  {
    std::lock_guard lock(mutex_);
    was_leading = leading_;
  }
  if (was_leading) {
    depose("stopping");
    if (auto r = options_.store->releaseLease(options_.lease, options_.holder); !r) {
      spdlog::warn("leader election: could not release the lease: {}", r.error().message);
    }
  }
}

}  // namespace runway::controller
