# profdiff: one image for every role (serve, web, worker, migrate).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin profdiff

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data profdiff \
 && mkdir -p /data/uploads && chown -R profdiff /data
COPY --from=build /src/target/release/profdiff /usr/local/bin/profdiff
USER profdiff
ENV DATA_DIR=/data BIND=0.0.0.0:8080 RUST_LOG=info
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/api/health || exit 1
ENTRYPOINT ["profdiff"]
CMD ["serve"]
