#!/bin/sh
sleep "${PT_seconds:-30}"
echo done
