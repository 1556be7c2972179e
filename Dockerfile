# IM-Suite application image: daphne serving the ASGI app as an unprivileged user.
# Configuration comes from the environment at run time (see imsuite/settings.py and docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The source tree stays in /app: manage.py, templates/ and static/ are found relative to it, and
# daphne imports imsuite.asgi from the working directory.
COPY . .
# The locked runtime versions (those tested; the test tools of requirements/lock.txt stay out of the
# image), then IM-Suite itself without resolving anything again.
RUN pip install --require-hashes -r requirements/runtime.txt \
    && pip install --no-deps . \
    && python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin imsuite \
    && mkdir -p /app/var \
    && chown -R imsuite:imsuite /app/var

USER imsuite
EXPOSE 8080

CMD ["sh", "-c", "python manage.py migrate --noinput && exec daphne -b 0.0.0.0 -p 8080 imsuite.asgi:application"]
