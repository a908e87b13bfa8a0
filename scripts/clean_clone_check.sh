#!/usr/bin/env bash
# What CI does, on this machine: clone the committed HEAD into a fresh folder and run .ci/run there.
# Stop a running local stack first (`fraudctl local down`): the clone's stack needs the same ports.
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
dest=${1:-$(mktemp -d /tmp/fraud-cleancheck.XXXXXX)}
git clone -q "$repo" "$dest"
cd "$dest"
CI=true bash .ci/run
