"""hot path indexes: totes in use on a cart (checked when a tote is first scanned into a tour)

Revision ID: 0006
Revises: 0005
"""
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tour_tote_container_id", "tour_tote", ["container_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tour_tote_container_id", table_name="tour_tote")
