# takeoff server image: `takeoff serve` as a non-root user, health-checked on /readyz (docs/deploy.md).
# The base images; where no registry is reachable, scripts/container_base.sh makes a local Debian bookworm one that
# stands in for both (the container test builds on it).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1: the web UI's front-end assets from npm, at the versions package-lock.json pins.
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && mkdir vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.min.js \
       node_modules/@picocss/pico/css/pico.min.css vendor/ \
 && mkdir vendor/swagger-ui \
 && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
       node_modules/swagger-ui-dist/oauth2-redirect.html node_modules/swagger-ui-dist/favicon-32x32.png \
       vendor/swagger-ui/

# Stage 2: the wheel and its pinned dependencies, installed into a virtualenv that the runtime stage copies.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
# The pinned dependencies first, in their own layer: a change to the sources rebuilds only the wheel below.
RUN python -m venv /opt/takeoff \
 && /opt/takeoff/bin/pip install --upgrade pip wheel \
 && python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && /opt/takeoff/bin/pip install -r /tmp/requirements.txt
COPY src ./src
COPY --from=assets /src/vendor ./src/takeoff/web/static/vendor
RUN /opt/takeoff/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/takeoff/bin/pip install --no-deps /wheels/takeoff-*.whl

# Stage 3: the runtime: the virtualenv only, no compilers, no sources, a user without privileges.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/takeoff/bin:$PATH PYTHONUNBUFFERED=1 TAKEOFF_DATA_DIR=/var/lib/takeoff
RUN groupadd --system --gid 10001 takeoff \
 && useradd --system --uid 10001 --gid takeoff --home-dir /var/lib/takeoff --create-home takeoff
COPY --from=build /opt/takeoff /opt/takeoff
USER takeoff
WORKDIR /var/lib/takeoff
VOLUME ["/var/lib/takeoff"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["takeoff"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
