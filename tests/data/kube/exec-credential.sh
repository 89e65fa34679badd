#!/bin/sh
# A test exec credential plugin (client.authentication.k8s.io/v1). Counts its runs in
# $COUNT_FILE, saves KUBERNETES_EXEC_INFO to $INFO_FILE (when set), and prints an
# ExecCredential whose token is the content of $TOKEN_FILE (when set) or "tok-<run>", expiring
# at $EXPIRY or at the time in $EXPIRY_FILE (RFC 3339; no expiry when neither is set). $FAIL
# set: exits 3 with a message.
set -eu
if [ -n "${FAIL:-}" ]; then
  echo "plugin: $FAIL" >&2
  exit 3
fi
n=$(( $(cat "$COUNT_FILE" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$COUNT_FILE"
if [ -n "${INFO_FILE:-}" ]; then printf '%s' "${KUBERNETES_EXEC_INFO:-}" > "$INFO_FILE"; fi
if [ -n "${TOKEN_FILE:-}" ]; then token=$(cat "$TOKEN_FILE"); else token="tok-$n"; fi
if [ -n "${EXPIRY_FILE:-}" ]; then EXPIRY=$(cat "$EXPIRY_FILE"); fi
if [ -n "${EXPIRY:-}" ]; then expiry=",\"expirationTimestamp\":\"$EXPIRY\""; else expiry=""; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"%s}}\n' \
  "$token" "$expiry"
