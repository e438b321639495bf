# syntax=docker/dockerfile:1
#
# Two stages: the build, with the whole Rust toolchain, and a slim runtime image that holds the
# binary alone and runs it as an unprivileged user. Migrations are compiled into the binary.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
# The benchmark's load generator is a member of the workspace: cargo reads its manifest even
# though only the service is built.
COPY bench/loadgen bench/loadgen
# The caches keep downloaded crates and compiled dependencies between builds; the binary is
# copied out of the cached target directory, which the next stage cannot see.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gocardless-webhooks \
    && cp target/release/gocardless-webhooks /usr/local/bin/

FROM debian:bookworm-slim
# curl for the health check in docker-compose.yml.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin gcw
COPY --from=build /usr/local/bin/gocardless-webhooks /usr/local/bin/gocardless-webhooks
# A numeric user, so that a platform that insists on non-root can see that it is.
USER 10001:10001
ENV LISTEN_ADDR=0.0.0.0:8080 \
    APP_ENV=production
EXPOSE 8080
ENTRYPOINT ["gocardless-webhooks"]
CMD ["serve"]
