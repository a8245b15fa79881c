# syntax=docker/dockerfile:1
# inferbench in a container: the image the Kubernetes manifests in
# deploy/kubernetes run (coordinator and workers use the same image).
#
#   docker build -t inferbench:dev .
#   docker run --rm inferbench:dev benchmark online --endpoint http://host:8000 ...
#
# The build stage runs the same commands as the README ("Installing the
# binary"): scripts/deps.sh, then go build. Build and run stages use the same
# Debian release, so the binary finds the libzmq5 it was linked against.
# deploy/dockerfile_test.go keeps this file and the README in step.

ARG GO_VERSION=1.26
ARG DEBIAN_RELEASE=trixie

FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# deps.sh first, alone: its layer (apt-get install libzmq3-dev) stays cached
# while the sources change.
COPY scripts/deps.sh scripts/deps.sh
RUN ./scripts/deps.sh
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o inferbench ./cmd/inferbench

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libzmq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid, so Kubernetes can check runAsNonRoot and set
# fsGroup for the key and results volumes.
RUN groupadd --system --gid 65532 inferbench \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/inferbench --create-home --shell /usr/sbin/nologin inferbench \
 && mkdir -p /results && chown 65532:65532 /results
COPY --from=build /src/inferbench /usr/local/bin/inferbench
USER 65532:65532
WORKDIR /home/inferbench
ENTRYPOINT ["/usr/local/bin/inferbench"]
CMD ["--help"]
