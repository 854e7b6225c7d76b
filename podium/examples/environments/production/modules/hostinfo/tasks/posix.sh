#!/bin/sh
# Structured output: one JSON object, which becomes the node's result as it is.
cat >/dev/null  # the input (only metaparameters: this task takes no parameters)
. /etc/os-release 2>/dev/null || true
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
printf '{"hostname": %s, "kernel": %s, "machine": %s, "os": {"id": %s, "version": %s}, "uptime_s": %s, "user": %s}\n' \
  "$(json_string "$(uname -n)")" "$(json_string "$(uname -r)")" "$(json_string "$(uname -m)")" \
  "$(json_string "${ID:-unknown}")" "$(json_string "${VERSION_ID:-}")" \
  "$(cut -d' ' -f1 /proc/uptime 2>/dev/null | cut -d. -f1 || echo null)" \
  "$(json_string "$(id -un)")"
