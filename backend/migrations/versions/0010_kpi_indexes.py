"""KPI indexes: a period's rows of each kind read by (site, kind, time), not by scanning the tables

backend.insights.kpis reads pick, ship and count_adjustment moves, done putaway and count tasks, exceptions
by kind, refused scans and device commands, print jobs and first receipts of an LPN, each over a period.
On PostgreSQL the move index carries the columns the KPIs read (INCLUDE), so a period's picks and shipments
are answered from the index alone; partial indexes keep the hot paths (a pick's audit row, an applied
command) from writing entries nobody reads.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


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
    op.create_index("ix_move_site_reason_created", "move", ["site_id", "reason", "created_at"], unique=False,
                    postgresql_include=KPI_MOVE_COLUMNS, postgresql_where=sa.text(KPI_MOVES))
    op.create_index("ix_task_site_kind_done", "task", ["site_id", "kind", "done_at"], unique=False,
                    postgresql_where=sa.text(DONE), sqlite_where=sa.text(DONE))
    op.create_index("ix_receipt_container", "receipt", ["container_id"], unique=False)
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
