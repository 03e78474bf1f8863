"""orders at risk: each order's at-risk predictions as they change, and the outcome each order's last one is scored on

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCORED = "outcome IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "order_risk_prediction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("cut_off", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("zone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("slack_minutes", sa.Float(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("outcome_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("scored_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('made', 'missed')", name="risk_outcome"),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["outbound_order.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_risk_site_cut_off", "order_risk_prediction", ["site_id", "cut_off"], unique=False)
    op.create_index("ix_risk_order", "order_risk_prediction", ["order_id", "id"], unique=False)
    op.create_index("uq_risk_scored_order", "order_risk_prediction", ["order_id"], unique=True,
                    postgresql_where=sa.text(SCORED), sqlite_where=sa.text(SCORED))


def downgrade() -> None:
    op.drop_index("uq_risk_scored_order", table_name="order_risk_prediction")
    op.drop_index("ix_risk_order", table_name="order_risk_prediction")
    op.drop_index("ix_risk_site_cut_off", table_name="order_risk_prediction")
    op.drop_table("order_risk_prediction")
