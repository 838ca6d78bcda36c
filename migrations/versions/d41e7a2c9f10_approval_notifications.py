"""approval notifications

Revision ID: d41e7a2c9f10
Revises: aecfe014176b
Create Date: 2026-11-26 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import automation.models.base


# revision identifiers, used by Alembic.
revision = 'd41e7a2c9f10'
down_revision = 'aecfe014176b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('approval_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_connection', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('notify_channel', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('notice_due', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('notified_at', automation.models.base.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('notify_error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('approval_tasks', schema=None) as batch_op:
        batch_op.drop_column('notify_error')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('notice_due')
        batch_op.drop_column('notify_channel')
        batch_op.drop_column('notify_connection')
