#!/usr/bin/env bash
# The test command: installs what is missing, then checks formatting, go vet,
# staticcheck, and runs every test with the race detector. No test may skip:
# the fixtures every test needs are in the repository (package testdata/), so
# a skip means something is missing, and the run fails (pass -short to allow
# the skips of long tests). When the project's shared fixtures sit beside the
# clone (../shared), the tests that need them (build tag sharedfixtures:
# Llama-3's tokenizer, the real datasets) run too.
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
# Vet and staticcheck see the shared-fixture tests too, present or not.
go vet -tags sharedfixtures ./...
staticcheck -tags sharedfixtures ./...

tags=()
if [[ -d ../shared/fixtures/tokenizers && -d ../shared/datasets ]]; then
  echo "test.sh: ../shared found: the shared-fixture tests run too (-tags sharedfixtures)"
  tags=(-tags sharedfixtures)
fi
allow=()
for a in "$@"; do
  if [[ $a == -short || $a == -test.short ]]; then allow=(-allow-skip); fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/testsummary" ./scripts/testsummary
go test -json -race -count=1 -timeout 15m ${tags[@]+"${tags[@]}"} ./... "$@" |
  "$tmp/testsummary" ${allow[@]+"${allow[@]}"}
