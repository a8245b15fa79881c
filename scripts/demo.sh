#!/usr/bin/env bash
# The main job: builds inferbench, starts its mock OpenAI server, runs a short
# streamed benchmark against it, prints the report and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
mkdir -p bin
go build -o bin/inferbench ./cmd/inferbench
exec ./bin/inferbench demo "$@"
