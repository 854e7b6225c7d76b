# Shared shell functions for toolkit tasks, shipped to the target under _installdir.

# json_string TEXT: TEXT as a JSON string.
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/	/\\t/g')"
}
