#pragma once

// Reading NotificationChannel documents and an environment's `notifications` routes (private to
// config; the loader calls these).

#include <vector>

#include "runway/config/model.hpp"
#include "yaml_reader.hpp"

namespace runway::config::detail {

// The keys a NotificationChannel's spec may have.
const std::vector<std::string>& notificationChannelKeys();

// Reads a NotificationChannel's spec (exactly one of slack, pagerduty, webhook, plus timeout and
// retry) into `channel`; problems become diagnostics.
void parseNotificationChannel(Reader& r, const Fields& spec, NotificationChannel& channel);

// Reads an environment's `notifications:` list: [{channel: NAME, events: [EVENT, ...]}].
std::vector<NotificationRoute> parseNotificationRoutes(Reader& r, const Val& v);

// Cross-document checks once everything is read: channel names are unique, every route names a
// defined channel. Appends diagnostics to `out`.
void checkNotificationRoutes(const Config& config, std::vector<Diagnostic>& out);

}  // namespace runway::config::detail
