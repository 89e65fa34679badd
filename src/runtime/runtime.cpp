#include "runway/runtime/runtime.hpp"

namespace runway::runtime {

std::string_view toString(InstanceState state) {
  switch (state) {
    case InstanceState::Starting: return "Starting";
    case InstanceState::Ready: return "Ready";
    case InstanceState::Unhealthy: return "Unhealthy";
    case InstanceState::Restarting: return "Restarting";
    case InstanceState::Failed: return "Failed";
    case InstanceState::Stopping: return "Stopping";
    case InstanceState::Stopped: return "Stopped";
  }
  return "Unknown";
}

std::string_view toString(VersionState state) {
  switch (state) {
    case VersionState::Progressing: return "Progressing";
    case VersionState::Ready: return "Ready";
    case VersionState::Failed: return "Failed";
    case VersionState::Retiring: return "Retiring";
  }
  return "Unknown";
}

std::string_view toString(RuntimeEvent::Kind kind) {
  using K = RuntimeEvent::Kind;
  switch (kind) {
    case K::InstanceStarted: return "InstanceStarted";
    case K::InstanceReady: return "InstanceReady";
    case K::InstanceUnhealthy: return "InstanceUnhealthy";
    case K::InstanceExited: return "InstanceExited";
    case K::InstanceFailed: return "InstanceFailed";
    case K::InstanceStopped: return "InstanceStopped";
    case K::VersionReady: return "VersionReady";
    case K::VersionFailed: return "VersionFailed";
    case K::VersionRetired: return "VersionRetired";
  }
  return "Unknown";
}

}  // namespace runway::runtime
