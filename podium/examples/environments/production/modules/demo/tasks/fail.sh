#!/bin/sh
code=${PT_code:-1}
echo "about to fail with exit code $code" >&2
exit "$code"
