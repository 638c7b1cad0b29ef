#!/bin/sh
# Cercle container entry point.
#   web     migrate (unless CERCLE_MIGRATE_ON_START=false), then serve on $PORT with
#           $CERCLE_WEB_PROCESSES uvicorn processes
#   worker  inbound processing, deliveries and mail (run as many as needed on PostgreSQL)
#   setup   migrate the database and create the instance keys, then exit (one-shot)
#   *       any other `cercle` command, e.g. `user create ...`, `charter check`
set -eu

setup() {
  # `cercle init` keeps the existing config file, migrates to the latest schema and creates the
  # instance keys when they are missing: safe to run at every start.
  cercle init --domain "${CERCLE_DOMAIN:-localhost:8000}"
}

command="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$command" in
  web)
    if [ "${CERCLE_MIGRATE_ON_START:-true}" = "true" ]; then
      setup
    fi
    exec cercle run --host 0.0.0.0 --port "${PORT:-8000}" --workers "${CERCLE_WEB_PROCESSES:-2}" "$@"
    ;;
  worker)
    exec cercle worker "$@"
    ;;
  setup)
    setup
    ;;
  *)
    exec cercle "$command" "$@"
    ;;
esac
