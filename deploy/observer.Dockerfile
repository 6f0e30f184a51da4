# The stridemap-observer image the DaemonSet in observer-daemonset.yaml runs.
# Build from the repository root:
#   docker build -f deploy/observer.Dockerfile -t stridemap-observer:dev .
# CGO_ENABLED=0: the observer clears its capabilities on all threads, which
# Go can only do without cgo.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /stridemap-observer ./cmd/stridemap-observer

FROM gcr.io/distroless/static-debian12
COPY --from=build /stridemap-observer /stridemap-observer
ENTRYPOINT ["/stridemap-observer"]
