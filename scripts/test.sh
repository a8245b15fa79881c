#!/usr/bin/env bash
# The test command: installs what is missing, then checks formatting, go vet,
# staticcheck, and runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --test

export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v staticcheck >/dev/null 2>&1; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
staticcheck ./...
go test -race -count=1 -timeout 15m ./... "$@"
