#!/bin/sh
printf '{"user": "%s", "password_length": %d}\n' "$PT_user" "${#PT_password}"
