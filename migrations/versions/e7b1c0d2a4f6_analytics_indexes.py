"""analytics indexes: runs by creation time and tasks by decision time, per workspace

Revision ID: e7b1c0d2a4f6
Revises: d41e7a2c9f10
Create Date: 2026-12-05 02:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e7b1c0d2a4f6'
down_revision = 'd41e7a2c9f10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.create_index('ix_executions_workspace_created', ['workspace_id', 'created_at'], unique=False)
    with op.batch_alter_table('approval_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_approval_tasks_workspace_decided', ['workspace_id', 'decided_at'], unique=False)


def downgrade():
    with op.batch_alter_table('approval_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_tasks_workspace_decided')
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('ix_executions_workspace_created')
