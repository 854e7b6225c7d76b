#!/bin/sh
# Plain text, not JSON: the result is {"_output": "<what df printed>"}.
if [ -n "${PT_path:-}" ]; then
  exec df -P -h "$PT_path"
fi
exec df -P -h
