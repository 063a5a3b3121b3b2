# paydesk container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t paydesk .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=... -e STRIPE_TEST_SECRET_KEY=... paydesk
#
# The default command is `paydesk serve`; any other subcommand replaces it:
#   docker run --rm -e DATABASE_URL=... paydesk migrate
#
# docker-compose.yml runs it with PostgreSQL and stripe-mock.

# The Go version is go.mod's (cmd/paydesk/deploy_test.go checks they agree).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# As the Makefile's build target: a static binary (CGO_ENABLED=0), no
# local paths (-trimpath), stripped, the version stamped in. timetzdata
# embeds the time zone database, so PAYDESK_TIMEZONE works without tzdata
# in the final image.
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/paydesk ./cmd/paydesk

# The final image is Alpine rather than distroless: the HEALTHCHECK needs an
# HTTP client and Alpine's busybox has wget, so paydesk needs no
# healthcheck subcommand of its own. It also has the CA certificates the
# Stripe API's TLS needs.
FROM alpine:3.22
RUN addgroup -S -g 10001 paydesk && adduser -S -D -H -u 10001 -G paydesk -s /sbin/nologin paydesk
COPY --from=build /out/paydesk /usr/local/bin/paydesk
USER 10001:10001
ENV PAYDESK_ADDR=:8080
EXPOSE 8080
# /healthz answers 200 while the process serves (/readyz also checks the
# database; a load balancer should use that). The check follows the
# default PAYDESK_ADDR: change both together.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["paydesk"]
CMD ["serve"]
