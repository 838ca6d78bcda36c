#!/usr/bin/env bash
# Regenerate migrations/versions/*_initial_schema.py from the models, while Relay has not shipped yet
# and the initial migration is still the only one (never do this once a database in use is at it).
#
# Autogenerate runs against an empty temporary SQLite file. migrations/script.py.mako adds the imports
# the generated columns need (automation.models.base, sqlalchemy.Text), and migrations/env.py moves
# use_alter foreign keys (workflows <-> workflow_versions) after both tables, so the result needs no
# hand edits. The script then upgrades a second empty file and checks the models and schema agree.
#
# Usage: scripts/regen_initial_migration.sh [python]   (default: .venv/bin/python, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${1:-}
if [[ -z "$PYTHON" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if [[ $(ls migrations/versions/*.py 2>/dev/null | wc -l) -gt 1 ]]; then
  echo "regen: more than one migration exists; write a new migration instead (flask --app app db migrate)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Redis is never contacted while generating, but the app factory starts an embedded one when
# REDIS_URL is unset; a URL nobody connects to keeps generation free of side effects.
export REDIS_URL=redis://127.0.0.1:1/0 SECRET_KEY=regen

# Keep the old file until the new one exists, so a failed generation leaves the tree as it was.
old=$(ls migrations/versions/*_initial_schema.py 2>/dev/null || true)
if [[ -n "$old" ]]; then mv "$old" "$work/"; fi
if ! DATABASE_URL="sqlite:///$work/generate.db" "$PYTHON" -m flask --app app db migrate -d migrations \
    -m "initial schema"; then
  if [[ -n "$old" ]]; then mv "$work/$(basename "$old")" migrations/versions/; fi
  echo "regen: autogenerate failed; the old migration is back in place" >&2
  exit 1
fi
new=$(ls migrations/versions/*_initial_schema.py)

DATABASE_URL="sqlite:///$work/check.db" "$PYTHON" -m automation.cli db upgrade
DATABASE_URL="sqlite:///$work/check.db" "$PYTHON" - <<'PY'
import os

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from automation.models import db

with sa.create_engine(os.environ["DATABASE_URL"]).connect() as connection:
    diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
if diff:
    raise SystemExit(f"regen: the new migration does not match the models: {diff}")
PY
echo "regen: wrote $new; run the tests (python -m pytest tests/integration/test_migrations.py)"
