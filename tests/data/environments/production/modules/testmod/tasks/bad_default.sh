#!/bin/sh
echo "retries: $PT_retries"
