# Human-readable sizes for toolkit tasks: human(bytes) -> "1.5 MiB".
function human(bytes,    units, i) {
  split("B KiB MiB GiB TiB", units, " ")
  for (i = 1; bytes >= 1024 && i < 5; i++) bytes /= 1024
  return sprintf(i == 1 ? "%d %s" : "%.1f %s", bytes, units[i])
}
