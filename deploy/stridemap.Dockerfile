# The stridemap image the CronJob in stridemap-cronjob.yaml runs.
# Build from the repository root:
#   docker build -f deploy/stridemap.Dockerfile -t stridemap:dev .
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary is static and the
# base image needs no C library, nor a shell.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /stridemap ./cmd/stridemap

# nonroot: user 65532, which the CronJob runs as.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /stridemap /stridemap
ENTRYPOINT ["/stridemap"]
