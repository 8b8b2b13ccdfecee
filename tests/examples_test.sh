#!/usr/bin/env bash
# Runs an example host and checks from outside that it left nothing in
# /dev/shm: its names are /ringside-example.<pid>.*, so they are known once
# it has been started. usage: examples_test.sh <program> [args...]
set -u
"$@" &
pid=$!
wait "$pid"
status=$?
left=$(find /dev/shm -maxdepth 1 -name "ringside-example.${pid}.*" -print)
if [ -n "$left" ]; then
    echo "examples_test: $1 left in /dev/shm: $left" >&2
    rm -f -- $left
    exit 1
fi
exit "$status"
