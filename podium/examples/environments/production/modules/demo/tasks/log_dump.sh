#!/bin/sh
# About 100 bytes a line; Podium keeps the first 1 MiB (by default) and marks the result truncated.
awk -v n="$PT_lines" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "203.0.113.%d - - [01/Jan/2024:00:00:%02d +0000] \"GET /item/%d HTTP/1.1\" 200 %d\n", i % 250, i % 60, i, 512 + i % 4096
}'
