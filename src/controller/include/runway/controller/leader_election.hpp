#pragma once

// Leader election for several `runway serve` on one store (PostgreSQL): a lease row (holder,
// term, expiry; store::Store::acquireLease) that the leader renews every ttl/3 and the others
// try to take every `follower_poll`. Exactly one server runs the controller: the one whose
// on_elected returned. Writes are fenced by the store (store::Fence: the term), so a leader
// paused past its lease has every write refused once another server took over.
//
// Who leads changes on the election's own thread only:
//   - elected: the lease was free or expired (or is ours) -> on_elected(lease) runs on a thread
//     of its own (the "activation": it may take a while, e.g. waiting for the local runtime's
//     lock or recovering deployments, while the election thread keeps renewing). It must set
//     the store's fence to lease.term before the controller writes anything (fence(): the fence
//     to set, with on_refused wired to depose), and give up when leading() turns false.
//   - deposed: a renewal found another holder, renewals failed (store unreachable) until the
//     lease we last renewed has expired by our clock, a fenced write was refused (fenced()), or
//     stop() -> leading() turns false, the activation thread is joined, then on_deposed() runs
//     and must stop everything the leader runs before it returns.
//     The server then competes again as a follower (a new term if it wins).
//
// Time: lease expiry is computed with the injected Clock; the waits between attempts are on
// the real steady clock (std::condition_variable), as are all of the server's loops.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runway/core/clock.hpp"
#include "runway/store/store.hpp"

namespace runway::controller {

class LeaderElection;

struct LeaderElectionOptions {
  std::shared_ptr<store::Store> store;
  std::shared_ptr<Clock> clock;
  std::string lease = "controller";
  // Unique per process (two processes must never share a holder: they would share a term).
  std::string holder;
  Duration ttl{std::chrono::seconds(10)};
  // How often a follower tries to take the lease; the leader renews every ttl / 3.
  Duration follower_poll{std::chrono::milliseconds(500)};
  // REQUIRES: set. Called on the election thread.
  // On the activation thread; `self` is the election (fence(), leading(), resign()).
  std::function<void(const store::Lease& lease, LeaderElection& self)> on_elected;
  std::function<void()> on_deposed;
};

// What this server knows about who leads.
struct LeadershipStatus {
  bool leading = false;
  // The lease as last read (holder, term, expiry); nullopt before the first read or when free.
  std::optional<store::Lease> lease;
  std::string holder;  // this server's holder string
  // When this server took the lease at its current term (by the clock); nullopt when it does
  // not lead.
  std::optional<TimePoint> leading_since;
};

class LeaderElection {
 public:
  // Checks the options and starts the election thread (it tries to take the lease at once).
  // InvalidArgument for an empty holder or lease name, a ttl under 300 ms or missing callbacks.
  static Result<std::unique_ptr<LeaderElection>> start(LeaderElectionOptions options);
  ~LeaderElection();
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // The fence a new leader sets on its store: the lease at `term`, and on_refused = fenced().
  store::Fence fence(std::int64_t term);
  // A fenced write was refused: depose at once (asynchronously, on the election thread).
  // Thread-safe; callable from inside the store (it only sets a flag).
  void fenced();
  // This server cannot lead (its activation failed): depose and give the lease back so that
  // another server takes over. Thread-safe; asynchronous, like fenced().
  void resign();
  // Deposes (if leading), releases the lease so that another server takes over at once, and
  // joins the thread. Idempotent.
  void stop();
  LeadershipStatus status() const;
  // status(), with the lease read from the store now when the one last read has expired by
  // the clock (a follower asked where the leader is right after a takeover: its own read may
  // be up to follower_poll old). Thread-safe; a store error leaves the last read.
  LeadershipStatus freshStatus();
  // Whether this server holds the lease now (set before on_elected runs, cleared before
  // on_deposed runs).
  bool leading() const;

 private:
  explicit LeaderElection(LeaderElectionOptions options) : options_(std::move(options)) {}
  void run();
  void depose(const std::string& why);

  LeaderElectionOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool fenced_ = false;
  bool resigned_ = false;
  bool leading_ = false;
  std::optional<store::Lease> lease_;
  // When the last successful renewal was asked for (by options_.clock): our lease lasts at
  // least until then + ttl, and no longer than that as far as we may assume.
  TimePoint renewed_at_{};
  TimePoint elected_at_{};
  std::thread activation_;  // runs on_elected; joined before on_deposed
  std::thread thread_;
};

}  // namespace runway::controller
