#pragma once

// Whether a container image tag exists in its registry: the OCI distribution API
// (HEAD /v2/<name>/manifests/<tag>), with the registry's token authentication (a 401 with
// "WWW-Authenticate: Bearer realm=...,service=...,scope=..." is answered by fetching a token
// from the realm, with basic credentials when configured) or basic authentication.

#include <chrono>
#include <string>
#include <string_view>

#include "runway/config/model.hpp"
#include "runway/core/error.hpp"

namespace runway::checks {

struct ImageReference {
  std::string registry;    // "registry.example.com", "127.0.0.1:5000"; Docker Hub for none
  std::string repository;  // "shop/api" ("library/x" for a bare Docker Hub name)
  std::string tag;
};

// Splits "host[:port]/path/name" (the service's image, without tag) and adds `tag`. The first
// component is a registry when it has a '.' or a ':' or is "localhost"; otherwise the image is
// on Docker Hub (registry-1.docker.io). Errors: InvalidArgument (empty name, bad tag).
Result<ImageReference> parseImageReference(std::string_view image, std::string_view tag);

struct ManifestCheck {
  bool exists = false;
  long status = 0;
  // Why not, with the registry's error code when it sent one:
  // "MANIFEST_UNKNOWN: manifest unknown (HTTP 404)"; or the digest when it exists.
  std::string detail;
};

// Errors: Unavailable / Timeout when the registry cannot be reached; a registry that answers
// (even 401 or 404) is a ManifestCheck.
Result<ManifestCheck> checkManifest(const ImageReference& image,
                                    const config::RegistrySpec& registry,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace runway::checks
