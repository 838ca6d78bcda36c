"""invitations: an owner's signed, expiring, single-use invitation of an email address to a workspace

Revision ID: f2c4a6b8d0e1
Revises: e7b1c0d2a4f6
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import automation.models.base


# revision identifiers, used by Alembic.
revision = 'f2c4a6b8d0e1'
down_revision = 'e7b1c0d2a4f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', automation.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', automation.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', automation.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', automation.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_invitations_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_invitations_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_workspace_id'), ['workspace_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_workspace_id'))

    op.drop_table('invitations')
