# StreamForge images: one stage compiles every program, then one small
# runtime target per program. Build from the repository root (BuildKit):
#
#   docker build --target bulker \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t streamforge/bulker:$(git describe --tags --always --dirty) .
#
# `make images` does this for bulker, dummy-service, debug-producer and
# broker. Without --target the last stage, bulker, is built.
#
# Base images are pinned by exact tag. No registry could be reached where
# this file was written, so there are no digests: add them where you can
# (`docker buildx imagetools inspect <image>` prints the digest), e.g.
# gcr.io/distroless/static-debian12:nonroot@sha256:…. Distroless publishes
# no version tags; `static-debian12:nonroot` fixes the Debian release and
# the user, and the digest is what would fix the rest.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
ARG COMMIT=unknown
# Static binaries (no cgo: the runtime image has no libc), reproducible
# paths (-trimpath), version and commit stamped into internal/buildinfo.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/streamforge/streamforge/internal/buildinfo.Version=${VERSION} -X github.com/streamforge/streamforge/internal/buildinfo.Commit=${COMMIT}" \
      -o /out/ ./cmd/bulker ./cmd/dummy-service ./cmd/debug-producer ./cmd/broker ./cmd/healthcheck

# What every program's image shares: distroless static (no shell, no
# package manager), the nonroot user (65532), the HTTP probe for container
# health checks, and the labels that name the build.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.vendor="StreamForge" \
      org.opencontainers.image.source="https://github.com/streamforge/streamforge" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
USER nonroot:nonroot
# Writable by nonroot: ./data (embedded broker, local SQLite) lands here
# when nothing else is configured.
WORKDIR /home/nonroot

FROM runtime AS broker
LABEL org.opencontainers.image.title="streamforge-broker" \
      org.opencontainers.image.description="The embedded single-node Kafka-protocol broker (development, CI, small installs)"
COPY --from=build /out/broker /usr/local/bin/broker
# Like the binary, it listens on 127.0.0.1:9092 unless told otherwise
# (--listen): give the address other containers should reach.
EXPOSE 9092
ENTRYPOINT ["/usr/local/bin/broker"]

FROM runtime AS debug-producer
LABEL org.opencontainers.image.title="streamforge-debug-producer" \
      org.opencontainers.image.description="Sends a command to queue-control and waits for the answer on queue-events"
COPY --from=build /out/debug-producer /usr/local/bin/debug-producer
ENTRYPOINT ["/usr/local/bin/debug-producer"]

FROM runtime AS dummy-service
LABEL org.opencontainers.image.title="streamforge-dummy-service" \
      org.opencontainers.image.description="Kafka command/telemetry test service: commands on queue-control, events on queue-events"
COPY --from=build /out/dummy-service /usr/local/bin/dummy-service
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/dummy-service"]
# The seed's default run: 30 s of simulated loading, then finished.
CMD ["--simulate-loading", "--exit-after", "30"]

FROM runtime AS bulker
LABEL org.opencontainers.image.title="streamforge-bulker" \
      org.opencontainers.image.description="HTTP ingest of JSON events, Kafka, batched or streamed loads into SQL databases"
COPY --from=build /out/bulker /usr/local/bin/bulker
EXPOSE 3042
ENTRYPOINT ["/usr/local/bin/bulker"]
