"""execution: count tolerances and cycle-count intervals per site, last count per location, cartons of orders

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(sa.Column("count_tolerance_pct", sa.Float(), nullable=False, server_default="2.0"))
        batch_op.add_column(sa.Column("count_tolerance_units", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("cycle_count_days", sa.JSON(), nullable=True))
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_counted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("container", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carton_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("weight_kg", sa.Float(), nullable=True))
        batch_op.create_index("ix_container_order_id", ["order_id"], unique=False)
        batch_op.create_foreign_key("fk_container_order_id", "outbound_order", ["order_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("container", schema=None) as batch_op:
        batch_op.drop_constraint("fk_container_order_id", type_="foreignkey")
        batch_op.drop_index("ix_container_order_id")
        batch_op.drop_column("weight_kg")
        batch_op.drop_column("carton_no")
        batch_op.drop_column("order_id")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("last_counted_at")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("cycle_count_days")
        batch_op.drop_column("count_tolerance_units")
        batch_op.drop_column("count_tolerance_pct")
