# syntax=docker/dockerfile:1
#
# The reference system's binaries in one image: the seven reference servers,
# the session manager (gateway) and reference_system, in /usr/local/bin.
# docker-compose.yml runs each as its own service; `docker run` alone runs
# the session manager.
#
#   docker build -t mcp-reference .

# Build: every example, release, with the versions of Cargo.lock.
FROM rust:1-bookworm AS build
# cmake: aws-lc-sys (rustls' crypto for the internet server) may build with
# it; the bundled SQLite needs only the C compiler the image has.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between
# builds; the binaries are copied out of the cached target directory, which
# is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --examples \
    && mkdir -p /out \
    && for name in resources_server sampling_server tools_server database_server \
                   internet_server roots_server prompts_server session_manager \
                   client reference_system gateway_load; do \
         cp "target/release/examples/$name" /out/; \
       done

# Run: the binaries on a slim Debian of the same release (same glibc).
FROM debian:bookworm-slim
# ca-certificates: the internet server's HTTPS fetches; curl: health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mcp \
    && mkdir -p /data \
    && chown mcp:mcp /data
COPY --from=build /out/ /usr/local/bin/
USER mcp
# Where the servers keep their samples (the resources folder, SQLite).
ENV XDG_DATA_HOME=/data
VOLUME ["/data"]
EXPOSE 5000 5001 5002 5003 5004 5005 5006 5007
# Inside a container, listen on every interface: published ports arrive on
# the container's own network interface, never on its loopback.
CMD ["session_manager", "--http", "0.0.0.0:5000"]
