"""pick tours on the handheld: whether a site lets pickers type check digits; where a tour's totes were dropped

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allow_typed_check_digits", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("tour", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dropped_at_location_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_tour_dropped_at_location_id", "location", ["dropped_at_location_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("tour", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tour_dropped_at_location_id", type_="foreignkey")
        batch_op.drop_column("dropped_at_location_id")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("allow_typed_check_digits")
