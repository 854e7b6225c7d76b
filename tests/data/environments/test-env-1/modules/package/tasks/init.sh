#!/bin/sh
# Says what a package task would do, without touching the machine.
printf '{"action": "%s", "package": "%s", "status": "simulated"}\n' "$PT_action" "${PT_name:-$PT_package}"
