#!/bin/sh
# Support files arrive under $PT__installdir, laid out like the module:
#   $PT__installdir/toolkit/files/report.sh, $PT__installdir/toolkit/lib/units.awk
# and this script itself is $PT__installdir/toolkit/tasks/dir_size.sh.
. "$PT__installdir/toolkit/files/report.sh"
if [ ! -d "$PT_path" ]; then
  printf '{"_error": {"kind": "toolkit/not-a-directory", "msg": %s, "details": {"path": %s}}}\n' \
    "$(json_string "$PT_path is not a directory")" "$(json_string "$PT_path")"
  exit 1
fi
lib="$PT__installdir/toolkit/lib"
find "$PT_path" -type f -exec wc -c {} + 2>/dev/null \
  | awk -f "$lib/units.awk" -f "$lib/sizes.awk" > "$PT__installdir/sizes"
read -r files bytes size unit largest < "$PT__installdir/sizes"
printf '{"path": %s, "files": %d, "bytes": %d, "size": %s, "largest": %s, "installdir": %s}\n' \
  "$(json_string "$PT_path")" "$files" "$bytes" "$(json_string "$size $unit")" \
  "$(json_string "$largest")" "$(json_string "$PT__installdir")"
