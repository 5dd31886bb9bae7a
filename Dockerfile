FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RAILSTUDIO_VAR_DIR=/app/var \
    RAILSTUDIO_STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY pyproject.toml README.md ./
COPY railstudio railstudio
COPY planner planner
COPY clusters clusters
COPY labsim labsim
COPY agent agent
RUN pip install --no-cache-dir .
COPY . .
RUN mkdir -p var && SECRET_KEY=build python manage.py collectstatic --noinput \
    && rm -f var/secret_key \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin railstudio \
    && chown -R railstudio:railstudio var
# Not root: a kubeconfig or a bug that reaches the shell gets an unprivileged user, and var/
# (a volume in docker-compose.yml) is the only place it may write.
USER railstudio
EXPOSE 8000
CMD ["gunicorn", "railstudio.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--no-control-socket"]
