#!/bin/sh
echo "not json"
exit "${PT_code:-3}"
