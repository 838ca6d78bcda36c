"""append-only audit trail and run history

On PostgreSQL, triggers refusing UPDATE and DELETE of audit_log and execution_events, and the purge
functions that are the one exception (automation/models/append_only.py); on every backend, no foreign key
from an audit entry to its user (an ON DELETE SET NULL would be a refused UPDATE).

Revision ID: a3d5f7b9c1e2
Revises: f2c4a6b8d0e1
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op

from automation.models.append_only import (
    APPEND_ONLY_TABLES,
    DROP_FUNCTIONS,
    FUNCTIONS,
    create_trigger,
    drop_trigger,
)

# revision identifiers, used by Alembic.
revision = 'a3d5f7b9c1e2'
down_revision = 'f2c4a6b8d0e1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('fk_audit_log_actor_user_id_users', type_='foreignkey')
    if op.get_bind().dialect.name == 'postgresql':
        for statement in FUNCTIONS:
            op.execute(statement)
        for table in APPEND_ONLY_TABLES:
            op.execute(create_trigger(table))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in APPEND_ONLY_TABLES:
            op.execute(drop_trigger(table))
        for statement in DROP_FUNCTIONS:
            op.execute(statement)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_audit_log_actor_user_id_users', 'users', ['actor_user_id'], ['id'],
                                    ondelete='SET NULL')
