"""workflow retention: days a workflow's finished runs are kept (null: RELAY_RETENTION_DAYS)

Revision ID: c9f1a3e5b7d2
Revises: b8e2d4f6a1c3
Create Date: 2026-12-08 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c9f1a3e5b7d2'
down_revision = 'b8e2d4f6a1c3'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('workflows', sa.Column('retention_days', sa.Integer(), nullable=True))


def downgrade():
    # Not a batch operation: on SQLite that copies the table and drops the old one, and with foreign keys
    # on, dropping workflows would cascade to every run. SQLite 3.35+ drops a column in place.
    op.drop_column('workflows', 'retention_days')
