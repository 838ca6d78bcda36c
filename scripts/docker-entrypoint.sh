#!/bin/sh
# Entrypoint of the Relay image: one image for every process type, chosen by the container's command.
#   web        gunicorn on 0.0.0.0:$PORT (8000 in the image)
#   worker     an RQ worker (`relay worker`)
#   scheduler  the scheduler (`relay scheduler`; several elect one leader)
#   release    migrations (`relay db upgrade`); run it once, before new code serves
# Anything else runs as given, e.g. `docker compose run --rm web relay users create you@example.com`.
# exec hands PID 1 to the process, so `docker stop` sends its SIGTERM straight to gunicorn or RQ.
set -eu

if [ "$#" -eq 0 ]; then
  set -- web
fi

case "$1" in
  web)
    shift
    # No --bind: with PORT set gunicorn listens on 0.0.0.0:$PORT; GUNICORN_CMD_ARGS="--bind ..." overrides it.
    exec gunicorn --workers "${WEB_CONCURRENCY:-2}" --threads 4 --graceful-timeout 25 "$@" app:app
    ;;
  worker | scheduler)
    exec relay "$@"
    ;;
  release)
    exec relay db upgrade
    ;;
  *)
    exec "$@"
    ;;
esac
