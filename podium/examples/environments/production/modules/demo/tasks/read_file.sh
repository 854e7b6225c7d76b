#!/bin/sh
# Raw bytes to stdout: output that is not UTF-8 fails the run with a task-error.
head -c "$PT_max_bytes" "$PT_path"
