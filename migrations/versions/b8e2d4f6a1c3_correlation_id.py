"""correlation id: find a workspace's runs by the correlation id their log lines and requests carry

Revision ID: b8e2d4f6a1c3
Revises: a3d5f7b9c1e2
Create Date: 2026-12-08 09:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b8e2d4f6a1c3'
down_revision = 'a3d5f7b9c1e2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.create_index('ix_executions_workspace_correlation', ['workspace_id', 'correlation_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('ix_executions_workspace_correlation')
