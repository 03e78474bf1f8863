"""printing: printers, label routing rules, print jobs (the spool)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000

Written by hand: only the printing tables (other capabilities add theirs in
their own revisions).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_STRING = sqlmodel.sql.sqltypes.AutoString
_WHEN = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'printer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('code', _STRING(length=40), nullable=False),
        sa.Column('name', _STRING(length=200), nullable=False),
        sa.Column('host', _STRING(length=255), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('profile_id', _STRING(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('station', _STRING(length=40), nullable=True),
        sa.Column('zone_id', sa.Integer(), nullable=True),
        sa.Column('status', _STRING(length=16), nullable=False),
        sa.Column('status_detail', _STRING(length=300), nullable=False),
        sa.Column('status_at', _WHEN(), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('retry_at', _WHEN(), nullable=True),
        sa.Column('lease_owner', _STRING(length=64), nullable=True),
        sa.Column('lease_until', _WHEN(), nullable=True),
        sa.Column('fault_exception_id', sa.Integer(), nullable=True),
        sa.Column('created_at', _WHEN(), nullable=False),
        sa.Column('updated_at', _WHEN(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id']),
        sa.ForeignKeyConstraint(['zone_id'], ['zone.id']),
        sa.ForeignKeyConstraint(['fault_exception_id'], ['warehouse_exception.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'code'),
    )
    with op.batch_alter_table('printer', schema=None) as batch_op:
        batch_op.create_index('ix_printer_site_station', ['site_id', 'station'], unique=False)
        batch_op.create_index(batch_op.f('ix_printer_zone_id'), ['zone_id'], unique=False)

    op.create_table(
        'print_route',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('scope', _STRING(length=8), nullable=False),
        sa.Column('scope_key', _STRING(length=40), nullable=False),
        sa.Column('label_type', _STRING(length=16), nullable=False),
        sa.Column('printer_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("scope IN ('station','zone','site')", name='print_route_scope'),
        sa.ForeignKeyConstraint(['site_id'], ['site.id']),
        sa.ForeignKeyConstraint(['printer_id'], ['printer.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'scope', 'scope_key', 'label_type'),
    )
    with op.batch_alter_table('print_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_route_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_route_printer_id'), ['printer_id'], unique=False)

    op.create_table(
        'print_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('printer_id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('label_type', _STRING(length=16), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('zpl', sa.Text(), nullable=False),
        sa.Column('state', _STRING(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('attempt_id', _STRING(length=36), nullable=True),
        sa.Column('error_code', _STRING(length=32), nullable=True),
        sa.Column('last_error', _STRING(length=500), nullable=False),
        sa.Column('next_attempt_at', _WHEN(), nullable=True),
        sa.Column('reprint_of', sa.Integer(), nullable=True),
        sa.Column('exception_id', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', _WHEN(), nullable=False),
        sa.Column('updated_at', _WHEN(), nullable=False),
        sa.Column('sent_at', _WHEN(), nullable=True),
        sa.CheckConstraint("state IN ('queued','sending','sent','failed','cancelled')", name='print_job_state'),
        sa.ForeignKeyConstraint(['site_id'], ['site.id']),
        sa.ForeignKeyConstraint(['printer_id'], ['printer.id']),
        sa.ForeignKeyConstraint(['reprint_of'], ['print_job.id']),
        sa.ForeignKeyConstraint(['exception_id'], ['warehouse_exception.id']),
        sa.ForeignKeyConstraint(['created_by'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('printer_id', 'sequence'),
    )
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.create_index('ix_print_job_printer_state', ['printer_id', 'state', 'sequence'], unique=False)
        batch_op.create_index('ix_print_job_site_state', ['site_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_job_reprint_of'), ['reprint_of'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_job_reprint_of'))
        batch_op.drop_index('ix_print_job_site_state')
        batch_op.drop_index('ix_print_job_printer_state')
    op.drop_table('print_job')
    with op.batch_alter_table('print_route', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_route_printer_id'))
        batch_op.drop_index(batch_op.f('ix_print_route_site_id'))
    op.drop_table('print_route')
    with op.batch_alter_table('printer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_printer_zone_id'))
        batch_op.drop_index('ix_printer_site_station')
    op.drop_table('printer')
