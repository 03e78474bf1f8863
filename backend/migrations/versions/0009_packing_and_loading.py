"""packing and loading: the carton size chosen at the bench; what left a tote at packing, found fast

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PACKED_FROM = "reason IN ('pack', 'pack_short')"


def upgrade() -> None:
    with op.batch_alter_table("container", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carton_type", sa.String(length=16), nullable=True))
    op.create_index("ix_move_packed_from", "move", ["from_container_id"], unique=False,
                    postgresql_where=sa.text(PACKED_FROM), sqlite_where=sa.text(PACKED_FROM))


def downgrade() -> None:
    op.drop_index("ix_move_packed_from", table_name="move")
    with op.batch_alter_table("container", schema=None) as batch_op:
        batch_op.drop_column("carton_type")
