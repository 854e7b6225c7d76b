#!/bin/sh
# Answers with the names of every variable in its environment.
names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/"\1"/p' | sort | paste -sd, -)
printf '{"names": [%s]}\n' "$names"
