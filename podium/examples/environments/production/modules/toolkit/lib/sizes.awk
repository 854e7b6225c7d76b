# Sum `wc -c` lines: prints "<files> <bytes> <human size> <largest file>". Needs units.awk.
$2 != "total" {
  files++
  bytes += $1
  if ($1 >= top) { top = $1; name = substr($0, index($0, $2)) }
}
END { printf "%d %d %s %s\n", files, bytes, human(bytes), name }
