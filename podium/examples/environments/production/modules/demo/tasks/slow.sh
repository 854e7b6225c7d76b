#!/bin/sh
seconds=${PT_seconds:-10}
sleep "$seconds"
echo "slept $seconds seconds"
