"""KPI indexes and rollups: a period's rows of each kind read by (site, kind, time), settled hours summed once

backend.insights.kpis reads pick, ship and count_adjustment moves, done putaway and count tasks, exceptions
by kind, refused scans and device commands, print jobs and first receipts of an LPN, each over a period.
On PostgreSQL the move index carries the columns the KPIs read (INCLUDE), so a period's picks and shipments
are answered from the index alone; partial indexes keep the hot paths (a pick's audit row, an applied
command) from writing entries nobody reads. The rollups (kpi_pick_hour, kpi_shipped_order, and how far each
site is rolled up: kpi_rollup) hold settled hours of the ledger, summed once (backend.models.kpi_rollups).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KPI_MOVES = "reason IN ('pick', 'ship', 'count_adjustment')"
KPI_MOVE_COLUMNS = ["quantity", "user_id", "from_location_id", "to_location_id", "product_id", "reference"]
DONE = "done_at IS NOT NULL"
SCAN_REFUSED = "action = 'scan.refused'"
REFUSED_PG, REFUSED_SQLITE = "NOT ok", "ok = 0"


def upgrade() -> None:
    op.create_table(
        "kpi_rollup",
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("site.id"), primary_key=True),
        sa.Column("rolled_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )
    op.create_table(
        "kpi_pick_hour",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("site.id"), nullable=False),
        sa.Column("hour", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
    )
    op.create_index("ix_kpi_pick_hour_site_hour", "kpi_pick_hour", ["site_id", "hour"], unique=False)
    op.create_table(
        "kpi_shipped_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("site.id"), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("outbound_order.id"), nullable=False),
        sa.Column("shipped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("cycle_s", sa.Float(), nullable=True),
        sa.Column("units_ordered", sa.Integer(), nullable=False),
        sa.Column("units_shipped", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("lines_full", sa.Integer(), nullable=False),
        sa.UniqueConstraint("order_id", name="uq_kpi_shipped_order"),
    )
    op.create_index("ix_kpi_shipped_order_site_shipped", "kpi_shipped_order", ["site_id", "shipped_at"], unique=False,
                    postgresql_include=["cycle_s", "units_ordered", "units_shipped", "lines", "lines_full"])
    op.create_index("ix_move_site_reason_created", "move", ["site_id", "reason", "created_at"], unique=False,
                    postgresql_include=KPI_MOVE_COLUMNS, postgresql_where=sa.text(KPI_MOVES))
    op.create_index("ix_task_site_kind_done", "task", ["site_id", "kind", "done_at"], unique=False,
                    postgresql_where=sa.text(DONE), sqlite_where=sa.text(DONE))
    op.create_index("ix_receipt_container", "receipt", ["container_id"], unique=False,
                    postgresql_include=["created_at"])
    op.create_index("ix_exception_site_kind_created", "warehouse_exception", ["site_id", "kind", "created_at"],
                    unique=False)
    op.create_index("ix_audit_scan_refused", "audit_entry", ["site_id", "at"], unique=False,
                    postgresql_where=sa.text(SCAN_REFUSED), sqlite_where=sa.text(SCAN_REFUSED))
    op.create_index("ix_device_command_refused", "device_command", ["created_at"], unique=False,
                    postgresql_where=sa.text(REFUSED_PG), sqlite_where=sa.text(REFUSED_SQLITE))
    op.create_index("ix_print_job_site_created", "print_job", ["site_id", "created_at"], unique=False,
                    postgresql_include=["label_type", "state"])


def downgrade() -> None:
    op.drop_index("ix_print_job_site_created", table_name="print_job")
    op.drop_index("ix_device_command_refused", table_name="device_command")
    op.drop_index("ix_audit_scan_refused", table_name="audit_entry")
    op.drop_index("ix_exception_site_kind_created", table_name="warehouse_exception")
    op.drop_index("ix_receipt_container", table_name="receipt")
    op.drop_index("ix_task_site_kind_done", table_name="task")
    op.drop_index("ix_move_site_reason_created", table_name="move")
    op.drop_table("kpi_shipped_order")
    op.drop_table("kpi_pick_hour")
    op.drop_table("kpi_rollup")
