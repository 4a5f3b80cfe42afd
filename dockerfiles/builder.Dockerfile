# The lcbuild builder image: the project installed, with the Docker SDK, and no Docker daemon.
# It drives an engine outside itself: the host's socket, or DOCKER_HOST (a CI docker:dind
# service). Build from the project root (see docs/images.md):
#   docker build -f dockerfiles/builder.Dockerfile --build-arg BASE_IMAGE=... -t lcbuild .
# Run:
#   docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD:$PWD" -w "$PWD" lcbuild images --push
#
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11) and pip. Here, where nothing can be
# pulled, it is the stand-in Lambda base made by scripts/docker-up.
ARG BASE_IMAGE=lambda-complex/standin-base:latest
FROM ${BASE_IMAGE}

# Behind a re-signing proxy, put its CA certificate(s) in dockerfiles/extra-ca*.pem: used for the pip
# installs below only (builder.Dockerfile is listed so the COPY never matches nothing).
COPY dockerfiles/builder.Dockerfile dockerfiles/extra-ca*.pem /tmp/lcbuild-ca/

# Dependencies first, from builder/pyproject.toml alone: a source change does not reinstall them.
COPY builder/pyproject.toml /opt/lambda-complex/builder/pyproject.toml
RUN set -e; \
    if ls /tmp/lcbuild-ca/*.pem >/dev/null 2>&1; then \
      cat /etc/ssl/certs/ca-certificates.crt /tmp/lcbuild-ca/*.pem > /tmp/lcbuild-ca/bundle.pem; \
      export PIP_CERT=/tmp/lcbuild-ca/bundle.pem; fi; \
    python3 -c "import tomllib; p = tomllib.load(open('/opt/lambda-complex/builder/pyproject.toml', 'rb')); \
print('\n'.join([d for d in p['project']['dependencies'] if not d.startswith('lambda-complex')] \
+ p['build-system']['requires'] + ['wheel']))" > /tmp/requirements.txt; \
    python3 -m pip install --no-cache-dir --disable-pip-version-check --break-system-packages \
      -r /tmp/requirements.txt

# The tool as users install it (not editable): the runtime and the builder projects. The sources
# are removed afterwards, so the image proves an installed lcbuild never reads a checkout.
COPY Dockerfile.base README.md /opt/lambda-complex/
COPY runtime/ /opt/lambda-complex/runtime/
COPY builder/ /opt/lambda-complex/builder/
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --break-system-packages \
      --no-deps --no-build-isolation /opt/lambda-complex/runtime /opt/lambda-complex/builder \
    && rm -rf /tmp/lcbuild-ca /tmp/requirements.txt /opt/lambda-complex \
    && lcbuild --version

WORKDIR /app
ENTRYPOINT ["lcbuild"]
CMD ["--help"]
