#!/bin/sh
printf '{"message": "%s", "task": "%s", "noop": "%s"}' "$PT_message" "$PT__task" "${PT__noop:-}"
