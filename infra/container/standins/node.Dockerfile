# Stand-in for node:22-bookworm-slim on machines that cannot pull images (smoke.sh builds it only when the
# real image is missing): a debootstrapped Debian bookworm with the host's Node 22 and npm, the host's CA
# certificates (npm in builds reaches the registry through them) and the `node` user (1000:1000), as upstream.
FROM bqbr-standin/debian:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
  && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt NODE_VERSION=22
CMD ["node"]
