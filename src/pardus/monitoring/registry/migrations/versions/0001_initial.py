"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-02

The first schema of the pardus individual registry (SPDX-License-Identifier: GPL-3.0-or-later):
cameras, stations and their working periods, import batches, individuals, flanks, merges,
images, match decisions and sightings. Times are ``timestamp with time zone`` on PostgreSQL and
UTC text on SQLite (pardus.monitoring.registry.models.UTCDateTime); constraint names follow the
naming convention of models.NAMING_CONVENTION.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras')),
    sa.UniqueConstraint('serial', name=op.f('uq_cameras_serial'))
    )
    op.create_table('import_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches'))
    )
    op.create_table('individuals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("sex IS NULL OR sex IN ('female', 'male')", name=op.f('ck_individuals_sex')),
    sa.CheckConstraint('merged_into_id IS NULL OR merged_into_id <> id', name=op.f('ck_individuals_not_merged_into_self')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['individuals.id'], name=op.f('fk_individuals_merged_into_id_individuals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_individuals')),
    sa.UniqueConstraint('code', name=op.f('uq_individuals_code'))
    )
    op.create_index(op.f('ix_individuals_merged_into_id'), 'individuals', ['merged_into_id'], unique=False)
    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('x', sa.Double(), nullable=False),
    sa.Column('y', sa.Double(), nullable=False),
    sa.Column('crs', sa.String(length=64), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('code', name=op.f('uq_stations_code'))
    )
    op.create_table('flanks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('individual_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=5), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("side IN ('left', 'right')", name=op.f('ck_flanks_side')),
    sa.CheckConstraint('merged_into_id IS NULL OR merged_into_id <> id', name=op.f('ck_flanks_not_merged_into_self')),
    sa.ForeignKeyConstraint(['individual_id'], ['individuals.id'], name=op.f('fk_flanks_individual_id_individuals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['flanks.id'], name=op.f('fk_flanks_merged_into_id_flanks'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flanks')),
    sa.UniqueConstraint('individual_id', 'side', name=op.f('uq_flanks_individual_id_side'))
    )
    op.create_index(op.f('ix_flanks_merged_into_id'), 'flanks', ['merged_into_id'], unique=False)
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('time_source', sa.String(length=8), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('side', sa.String(length=5), nullable=True),
    sa.Column('bbox_x', sa.Double(), nullable=True),
    sa.Column('bbox_y', sa.Double(), nullable=True),
    sa.Column('bbox_w', sa.Double(), nullable=True),
    sa.Column('bbox_h', sa.Double(), nullable=True),
    sa.Column('detection_confidence', sa.Double(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IS NULL OR side IN ('left', 'right')", name=op.f('ck_images_side')),
    sa.CheckConstraint("time_source IN ('exif', 'file', 'manual')", name=op.f('ck_images_time_source')),
    sa.CheckConstraint('(bbox_x IS NULL AND bbox_y IS NULL AND bbox_w IS NULL AND bbox_h IS NULL) OR (bbox_x >= 0 AND bbox_y >= 0 AND bbox_w > 0 AND bbox_h > 0 AND bbox_x + bbox_w <= 1.000001 AND bbox_y + bbox_h <= 1.000001)', name=op.f('ck_images_bbox')),
    sa.CheckConstraint('detection_confidence IS NULL OR (detection_confidence >= 0 AND detection_confidence <= 1)', name=op.f('ck_images_confidence_range')),
    sa.CheckConstraint('height IS NULL OR height > 0', name=op.f('ck_images_height_positive')),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_images_sha256_length')),
    sa.CheckConstraint('width IS NULL OR width > 0', name=op.f('ck_images_width_positive')),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batches.id'], name=op.f('fk_images_batch_id_import_batches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_images_camera_id_cameras'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_images_station_id_stations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
    sa.UniqueConstraint('sha256', name=op.f('uq_images_sha256'))
    )
    op.create_index(op.f('ix_images_batch_id'), 'images', ['batch_id'], unique=False)
    op.create_index(op.f('ix_images_camera_id'), 'images', ['camera_id'], unique=False)
    op.create_index(op.f('ix_images_recorded_at'), 'images', ['recorded_at'], unique=False)
    op.create_index(op.f('ix_images_station_id_recorded_at'), 'images', ['station_id', 'recorded_at'], unique=False)
    op.create_table('merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kept_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('merged_by', sa.String(length=128), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.CheckConstraint('kept_id <> merged_id', name=op.f('ck_merges_distinct')),
    sa.ForeignKeyConstraint(['kept_id'], ['individuals.id'], name=op.f('fk_merges_kept_id_individuals'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['merged_id'], ['individuals.id'], name=op.f('fk_merges_merged_id_individuals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merges'))
    )
    op.create_index(op.f('ix_merges_kept_id'), 'merges', ['kept_id'], unique=False)
    op.create_index(op.f('ix_merges_merged_id'), 'merges', ['merged_id'], unique=False)
    op.create_table('station_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.CheckConstraint('end_at IS NULL OR end_at > start_at', name=op.f('ck_station_periods_end_after_start')),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_station_periods_camera_id_cameras'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_periods_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_station_periods'))
    )
    op.create_index(op.f('ix_station_periods_camera_id'), 'station_periods', ['camera_id'], unique=False)
    op.create_index(op.f('ix_station_periods_station_id_start_at'), 'station_periods', ['station_id', 'start_at'], unique=False)
    op.create_table('match_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('box', sa.Integer(), nullable=False),
    sa.Column('individual_id', sa.Integer(), nullable=False),
    sa.Column('flank_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("decision <> 'auto_accepted' OR method = 'auto'", name=op.f('ck_match_decisions_auto_accepted_is_auto')),
    sa.CheckConstraint("decision <> 'confirmed' OR method = 'review'", name=op.f('ck_match_decisions_confirmed_is_review')),
    sa.CheckConstraint("decision IN ('confirmed', 'rejected', 'new_individual', 'auto_accepted')", name=op.f('ck_match_decisions_decision')),
    sa.CheckConstraint("method IN ('auto', 'review')", name=op.f('ck_match_decisions_method')),
    sa.CheckConstraint('box >= 0', name=op.f('ck_match_decisions_box_nonnegative')),
    sa.CheckConstraint('rank IS NULL OR rank >= 1', name=op.f('ck_match_decisions_rank_positive')),
    sa.ForeignKeyConstraint(['flank_id'], ['flanks.id'], name=op.f('fk_match_decisions_flank_id_flanks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_match_decisions_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['individual_id'], ['individuals.id'], name=op.f('fk_match_decisions_individual_id_individuals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_decisions'))
    )
    op.create_index(op.f('ix_match_decisions_decided_at'), 'match_decisions', ['decided_at'], unique=False)
    op.create_index(op.f('ix_match_decisions_flank_id'), 'match_decisions', ['flank_id'], unique=False)
    op.create_index(op.f('ix_match_decisions_image_id_box_decided_at'), 'match_decisions', ['image_id', 'box', 'decided_at'], unique=False)
    op.create_index(op.f('ix_match_decisions_individual_id'), 'match_decisions', ['individual_id'], unique=False)
    op.create_table('sightings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('box', sa.Integer(), nullable=False),
    sa.Column('individual_id', sa.Integer(), nullable=False),
    sa.Column('flank_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'confirmed', 'auto_accepted', 'new_individual')", name=op.f('ck_sightings_status')),
    sa.CheckConstraint('box >= 0', name=op.f('ck_sightings_box_nonnegative')),
    sa.ForeignKeyConstraint(['decision_id'], ['match_decisions.id'], name=op.f('fk_sightings_decision_id_match_decisions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['flank_id'], ['flanks.id'], name=op.f('fk_sightings_flank_id_flanks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_sightings_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['individual_id'], ['individuals.id'], name=op.f('fk_sightings_individual_id_individuals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings')),
    sa.UniqueConstraint('image_id', 'box', name=op.f('uq_sightings_image_id_box'))
    )
    op.create_index(op.f('ix_sightings_decision_id'), 'sightings', ['decision_id'], unique=False)
    op.create_index(op.f('ix_sightings_flank_id'), 'sightings', ['flank_id'], unique=False)
    op.create_index(op.f('ix_sightings_individual_id'), 'sightings', ['individual_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_sightings_individual_id'), table_name='sightings')
    op.drop_index(op.f('ix_sightings_flank_id'), table_name='sightings')
    op.drop_index(op.f('ix_sightings_decision_id'), table_name='sightings')
    op.drop_table('sightings')
    op.drop_index(op.f('ix_match_decisions_individual_id'), table_name='match_decisions')
    op.drop_index(op.f('ix_match_decisions_image_id_box_decided_at'), table_name='match_decisions')
    op.drop_index(op.f('ix_match_decisions_flank_id'), table_name='match_decisions')
    op.drop_index(op.f('ix_match_decisions_decided_at'), table_name='match_decisions')
    op.drop_table('match_decisions')
    op.drop_index(op.f('ix_station_periods_station_id_start_at'), table_name='station_periods')
    op.drop_index(op.f('ix_station_periods_camera_id'), table_name='station_periods')
    op.drop_table('station_periods')
    op.drop_index(op.f('ix_merges_merged_id'), table_name='merges')
    op.drop_index(op.f('ix_merges_kept_id'), table_name='merges')
    op.drop_table('merges')
    op.drop_index(op.f('ix_images_station_id_recorded_at'), table_name='images')
    op.drop_index(op.f('ix_images_recorded_at'), table_name='images')
    op.drop_index(op.f('ix_images_camera_id'), table_name='images')
    op.drop_index(op.f('ix_images_batch_id'), table_name='images')
    op.drop_table('images')
    op.drop_index(op.f('ix_flanks_merged_into_id'), table_name='flanks')
    op.drop_table('flanks')
    op.drop_table('stations')
    op.drop_index(op.f('ix_individuals_merged_into_id'), table_name='individuals')
    op.drop_table('individuals')
    op.drop_table('import_batches')
    op.drop_table('cameras')
