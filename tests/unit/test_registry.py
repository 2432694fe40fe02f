"""The individual registry (pardus.monitoring.registry) on SQLite and on PostgreSQL.

Every test that takes ``registry_url`` runs twice: on an SQLite file and on a fresh PostgreSQL
schema (see registry_fixtures.py for where the server comes from; without one the PostgreSQL
cases are skipped with the reason).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from pardus.monitoring.registry import (
    VERSION_TABLE,
    RegistryError,
    alembic_config,
    export_captures,
    image_sha256,
    migrate,
    open_registry,
    schema_state,
)
from pardus.monitoring.registry.models import Base
from pardus.secr.capthist import read_capthist
from registry_fixtures import fresh_pg_schema, postgres_url, registry_url  # noqa: F401

UTC = timezone.utc
VLAD = "Asia/Vladivostok"  # UTC+10, no daylight saving


def t(day, hour=12, minute=0):
    """2024-03-<day> hour:minute UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def reg(registry_url):
    with open_registry(registry_url, timezone=VLAD) as r:
        yield r


# --------------------------------------------------------------------------------------------
# schema and migrations
# --------------------------------------------------------------------------------------------


def test_migrated_schema_equals_the_models(registry_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with open_registry(registry_url) as r:
        with r.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
            assert compare_metadata(ctx, Base.metadata) == []
            tables = set(inspect(conn).get_table_names())
    assert tables == set(Base.metadata.tables) | {VERSION_TABLE}


def test_migrate_empty_database_reopen_at_head_and_downgrade(registry_url):
    state = schema_state(registry_url)
    assert state.empty and not state.at_head
    with open_registry(registry_url) as r:
        r.add_station("ST-1", 1.0, 2.0)
    state = schema_state(registry_url)
    assert state.at_head and state.current == state.head
    # at head: opening again (with or without migrate) changes nothing and keeps the data
    assert migrate(registry_url) == (state.head, state.head)
    with open_registry(registry_url, migrate=False) as r:
        assert [s.code for s in r.stations()] == ["ST-1"]
    # the migration is reversible
    from alembic import command

    command.downgrade(alembic_config(registry_url), "base")
    assert schema_state(registry_url).empty


def test_migrate_false_refuses_a_database_not_at_head(registry_url):
    with pytest.raises(RegistryError) as e:
        open_registry(registry_url, migrate=False)
    msg = str(e.value)
    assert "revision none" in msg and "pardus id migrate" in msg and "0001" in msg
    assert schema_state(registry_url).empty  # nothing was created
    before, after = migrate(registry_url)
    assert before == () and after == ("0001",)
    open_registry(registry_url, migrate=False).close()


def test_database_of_a_newer_pardus_is_refused(registry_url):
    with open_registry(registry_url) as r:
        with r.engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'ffff_future'"))
    for kw in ({}, {"migrate": False}):
        with pytest.raises(RegistryError, match="ffff_future.*newer pardus.*Fix: upgrade pardus"):
            open_registry(registry_url, **kw)


def test_database_of_something_else_is_refused(registry_url):
    from pardus.monitoring.registry.db import create_registry_engine

    eng = create_registry_engine(registry_url)
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    eng.dispose()
    with pytest.raises(RegistryError, match="tables of something else \\(invoices\\)"):
        open_registry(registry_url)


def test_unreachable_server_names_the_url_without_password():
    url = "postgresql+psycopg://leo:s3cret@127.0.0.1:1/registry"
    with pytest.raises(RegistryError) as e:
        open_registry(url)
    msg = str(e.value)
    assert "s3cret" not in msg and "leo:***@127.0.0.1:1/registry" in msg
    assert "cannot connect" in msg and "Fix:" in msg


def test_missing_driver_says_how_to_install_it():
    pytest.importorskip("sqlalchemy.dialects.postgresql.pg8000")
    try:
        import pg8000  # noqa: F401
        pytest.skip("pg8000 is installed")
    except ImportError:
        pass
    with pytest.raises(RegistryError, match=r"driver is not installed.*pip install 'pardus\[postgres\]'") as e:
        open_registry("postgresql+pg8000://leo:s3cret@db.example/registry")
    assert "s3cret" not in str(e.value)


def test_bad_paths_and_urls(tmp_path):
    with pytest.raises(RegistryError, match="does not exist. Fix: create it"):
        open_registry(tmp_path / "no" / "such" / "r.sqlite")
    with pytest.raises(RegistryError, match="is a folder"):
        open_registry(tmp_path)
    (tmp_path / "notes.sqlite").write_text("not a database, just text " * 100)
    with pytest.raises(RegistryError, match="not an SQLite database"):
        open_registry(tmp_path / "notes.sqlite")
    with pytest.raises(RegistryError, match="knows no database"):
        open_registry("oracle9+nosuch://x@y/z")


def test_sqlite_connections_enforce_foreign_keys_in_wal_mode(tmp_path):
    with open_registry(tmp_path / "r.sqlite") as r:
        with r.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with pytest.raises(IntegrityError):
            with r.engine.begin() as c:
                c.execute(text("INSERT INTO station_periods (station_id, start_at) "
                               "VALUES (999, '2024-01-01 00:00:00')"))


def test_constraints_reject_bad_values(reg):
    reg.add_station("ST-1", 0, 0)
    img = reg.add_image(b"x", t(1), "ST-1", path="x.jpg").image
    ind = reg.new_individual()
    ids = {"img": img.id, "ind": ind.id}
    bad_rows = [
        "INSERT INTO individuals (code, sex, created_at) VALUES ('AL-9', 'unknown', '2024-01-01 00:00:00+00')",
        "INSERT INTO flanks (individual_id, side, created_at) VALUES (:ind, 'front', '2024-01-01 00:00:00+00')",
        "INSERT INTO match_decisions (image_id, box, individual_id, decision, method, decided_by, decided_at) "
        "VALUES (:img, 0, :ind, 'maybe', 'review', 'x', '2024-01-01 00:00:00+00')",
        "INSERT INTO match_decisions (image_id, box, individual_id, decision, method, decided_by, decided_at) "
        "VALUES (:img, 0, :ind, 'confirmed', 'psychic', 'x', '2024-01-01 00:00:00+00')",
        "INSERT INTO match_decisions (image_id, box, individual_id, decision, method, decided_by, decided_at) "
        "VALUES (:img, 0, :ind, 'auto_accepted', 'review', 'x', '2024-01-01 00:00:00+00')",
        "INSERT INTO sightings (image_id, box, individual_id, status, updated_at) "
        "VALUES (:img, 0, :ind, 'probable', '2024-01-01 00:00:00+00')",
        "INSERT INTO images (sha256, path, recorded_at, time_source, station_id, imported_at) "
        "VALUES ('abc', 'p', '2024-01-01 00:00:00+00', 'exif', 1, '2024-01-01 00:00:00+00')",
        "UPDATE images SET side = 'top'",
        "UPDATE images SET bbox_x = 0.9, bbox_y = 0.1, bbox_w = 0.5, bbox_h = 0.2",
    ]
    for sql in bad_rows:
        with pytest.raises(IntegrityError):
            with reg.engine.begin() as c:
                c.execute(text(sql), {k: v for k, v in ids.items() if f":{k}" in sql})
    # the API refuses them before the database does
    with pytest.raises(RegistryError, match="'maybe'.*Fix: use one of confirmed"):
        reg.record_decision(img, "maybe", individual=ind, by="a")
    with pytest.raises(RegistryError, match="'front' is not a flank side"):
        reg.add_flank(ind, "front")
    with pytest.raises(RegistryError, match="sex 'unknown'"):
        reg.new_individual(sex="unknown")
    with pytest.raises(RegistryError, match="bbox"):
        reg.add_image(b"y", t(1), "ST-1", path="y.jpg", bbox=(0.9, 0.1, 0.5, 0.2))


def test_times_are_stored_in_utc(registry_url):
    with open_registry(registry_url) as r:
        r.add_station("ST-1", 0, 0)
        with pytest.raises(RegistryError, match="no time zone.*timezone='Asia/Vladivostok'"):
            r.add_image(b"a", datetime(2024, 3, 1, 6, 0), "ST-1", path="a.jpg")
        r.add_image(b"a", "2024-03-01T06:00:00+10:00", "ST-1", path="a.jpg")
    with open_registry(registry_url, timezone=VLAD) as r:
        img = r.add_image(b"b", datetime(2024, 3, 1, 6, 0), "ST-1", path="b.jpg").image
        assert img.recorded_at == datetime(2024, 2, 29, 20, 0, tzinfo=UTC)
        got = [i.recorded_at for i in r.images()]
        assert got == [datetime(2024, 2, 29, 20, 0, tzinfo=UTC)] * 2
        assert all(g.utcoffset() == timedelta(0) for g in got)
        assert len(r.images(start="2024-03-01T05:59:59+10:00", end="2024-03-01T06:00:01+10:00")) == 2


# --------------------------------------------------------------------------------------------
# stations
# --------------------------------------------------------------------------------------------


def test_station_csv_import_is_repeatable(reg, tmp_path):
    f = tmp_path / "stations.csv"
    f.write_text("# survey 2024\nstation,x,y,start,end,camera\n"
                 "ST-1,512000,4770000,2024-03-01,2024-03-11,CAM-A\n"
                 "ST-2,514500.5,4771000,2024-03-01,,CAM-B\n"
                 "ST-2,514500.5,4771000,2024-03-01,2024-03-20,CAM-C\n"
                 "ST-3,516000,4772000,,,\n")
    res = reg.import_stations_csv(f)
    assert res.stations_added == ("ST-1", "ST-2", "ST-3") and res.periods_added == 3
    assert set(res.cameras_added) == {"CAM-A", "CAM-B", "CAM-C"}
    again = reg.import_stations_csv(f)
    assert again.stations_added == () and again.periods_added == 0 and again.periods_existing == 3
    st2 = reg.get_station("ST-2")
    assert (st2.x, st2.y, st2.crs) == (514500.5, 4771000.0, "EPSG:32652")
    periods = reg.station_periods("ST-1")
    assert [(p.start, p.end, p.camera) for p in periods] == [
        (datetime(2024, 2, 29, 14, tzinfo=UTC), datetime(2024, 3, 10, 14, tzinfo=UTC), "CAM-A")]
    closed = reg.close_station_period("ST-2", "2024-03-25", camera="CAM-B")
    assert closed.end == datetime(2024, 3, 24, 14, tzinfo=UTC)


def test_station_csv_errors_name_file_and_line_and_write_nothing(reg, tmp_path):
    f = tmp_path / "stations.csv"
    f.write_text("station,x,y,start,end,camera\n"
                 "ST-1,512000,4770000,2024-03-01,2024-03-11,CAM-A\n"   # 2: good
                 "ST 2,514000,4771000,,,\n"                             # 3: blank in code
                 "ST-3,east,4771000,,,\n"                               # 4: x not a number
                 "ST-4,1,2,2024-03-05,2024-03-01,\n"                    # 5: end before start
                 "ST-5,1,2,yesterday,,\n"                               # 6: bad time
                 "ST-1,512001,4770000,,,\n"                             # 7: moved
                 "ST-1,512000,4770000,2024-03-05,2024-03-20,CAM-A\n"    # 8: overlaps line 2
                 "ST-6,1,2\n")                                          # 9: too few fields
    with pytest.raises(RegistryError) as e:
        reg.import_stations_csv(f)
    msg = str(e.value)
    assert "7 bad line(s); nothing was imported" in msg
    for line in (3, 4, 5, 6, 7, 8, 9):
        assert f"{f}:{line}: " in msg
    assert f"{f}:2:" not in msg
    assert msg.count("Fix:") == 7 and "overlaps line 2" in msg and "on line 2" in msg
    assert reg.stations() == [] and reg.cameras() == []
    # a conflict with the registry is found before anything is written, too
    reg.add_station("ST-1", 0, 0)
    good = tmp_path / "good.csv"
    good.write_text("station,x,y,start\nST-9,5,5,2024-03-01\nST-1,512000,4770000,2024-03-01\n")
    with pytest.raises(RegistryError, match=r"good.csv:3: station ST-1 is in the registry at x=0"):
        reg.import_stations_csv(good)
    assert [s.code for s in reg.stations()] == ["ST-1"] and reg.station_periods() == []
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("site,x,y\nST-1,1,2\n")
    with pytest.raises(RegistryError, match=r"h.csv:1: header site,x,y: unknown column\(s\) site; "
                                            r"missing column\(s\) station"):
        reg.import_stations_csv(bad_header)


def test_naive_csv_times_need_a_time_zone(registry_url, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("station,x,y,start,end\nST-1,1,2,2024-03-01,2024-03-02\n")
    with open_registry(registry_url) as r:
        with pytest.raises(RegistryError, match=r"s.csv:2: start 2024-03-01T00:00:00 has no time zone"):
            r.import_stations_csv(f)
        f.write_text("station,x,y,start,end\nST-1,1,2,2024-03-01T00:00+10:00,2024-03-02T00:00Z\n")
        r.import_stations_csv(f)
        (p,) = r.station_periods()
        assert p.start == datetime(2024, 2, 29, 14, tzinfo=UTC) and p.end == datetime(2024, 3, 2, tzinfo=UTC)


def test_period_overlap_of_one_camera_is_refused(reg):
    reg.add_station("ST-1", 0, 0)
    reg.add_station_period("ST-1", t(1), t(10), camera="CAM-A")
    with pytest.raises(RegistryError, match="overlaps the recorded period"):
        reg.add_station_period("ST-1", t(5), t(12), camera="CAM-A")
    reg.add_station_period("ST-1", t(5), t(12), camera="CAM-B")  # the second camera of the station
    with pytest.raises(RegistryError, match="end is not after the start"):
        reg.add_station_period("ST-1", t(5), t(5))


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------


def test_images_are_deduplicated_by_content_hash(reg, tmp_path):
    reg.add_station("ST-1", 0, 0)
    reg.add_station("ST-2", 10, 0)
    f = tmp_path / "IMG_0001.JPG"
    f.write_bytes(b"\xff\xd8 leopard pixels " * 1000)
    first = reg.add_image(f, t(1), "ST-1", camera="CAM-A", width=4000, height=3000, side="left",
                          bbox=(0.1, 0.2, 0.3, 0.4), confidence=0.97)
    assert first.created and first.image.sha256 == image_sha256(f) == image_sha256(f.read_bytes())
    assert first.image.path == str(f) and first.image.camera == "CAM-A"
    assert first.image.bbox == (0.1, 0.2, 0.3, 0.4) and first.image.confidence == 0.97
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(f.read_bytes())
    again = reg.add_image(copy, t(2), "ST-2")
    assert again.duplicate and again.image.id == first.image.id and again.image.path == str(f)
    assert "already registered" in again.message and "station ST-2" in again.message
    assert len(reg.images()) == 1
    assert reg.get_image(first.image.sha256) == first.image
    with pytest.raises(RegistryError, match="station 'ST-9' is not in the registry"):
        reg.add_image(b"other", t(1), "ST-9", path="o.jpg")
    with pytest.raises(RegistryError, match="cannot read it"):
        reg.add_image(tmp_path / "missing.jpg", t(1), "ST-1")


def test_transaction_groups_verbs_all_or_nothing(reg):
    reg.add_station("ST-1", 0, 0)
    with reg.transaction():
        for i in range(5):
            reg.add_image(f"img{i}".encode(), t(1, i), "ST-1", path=f"{i}.jpg")
        with pytest.raises(RegistryError):  # one failing verb rolls back only itself
            reg.add_image(b"bad", t(1), "ST-404", path="bad.jpg")
    assert len(reg.images()) == 5
    with pytest.raises(RegistryError):
        reg.add_images([{"source": b"n1", "time": t(2), "station": "ST-1", "path": "n1.jpg"},
                        {"source": b"n2", "time": t(2), "station": "nowhere", "path": "n2.jpg"}])
    assert len(reg.images()) == 5


# --------------------------------------------------------------------------------------------
# individuals, decisions, merging
# --------------------------------------------------------------------------------------------


def test_individual_codes_and_flanks(reg):
    a = reg.new_individual(sides=("left",), sex="female")
    b = reg.new_individual()
    c = reg.new_individual("AL-0042")
    d = reg.new_individual()
    assert [a.code, b.code, c.code, d.code] == ["AL-0001", "AL-0002", "AL-0042", "AL-0043"]
    assert a.sides == ("left",) and a.sex == "female"
    reg.add_flank(b, "right")
    with pytest.raises(RegistryError, match="already has a right flank"):
        reg.add_flank("AL-0002", "right")
    with pytest.raises(RegistryError, match="already in the registry"):
        reg.new_individual("AL-0042")
    with pytest.raises(RegistryError, match="not a valid code"):
        reg.new_individual("AL 7")
    assert [(f.individual, f.side) for f in reg.flanks()] == [("AL-0001", "left"), ("AL-0002", "right")]
    assert [f.individual for f in reg.flanks(side="right")] == ["AL-0002"]


def test_decision_history_is_kept_and_the_latest_wins(reg):
    reg.add_station("ST-1", 0, 0)
    img = reg.add_image(b"frame", t(3), "ST-1", path="f.jpg", side="left").image
    a = reg.new_individual(sides=("left",))
    b = reg.new_individual(sides=("left",))
    c = reg.new_individual()
    assert reg.latest_decision(img) is None
    assert [i.id for i in reg.unreviewed_images()] == [img.id]

    reg.record_decision(img, "auto_accepted", individual=a, score=0.91, rank=1, by="matcher 0.3",
                        at=t(4))
    (sg,) = reg.sightings()
    assert (sg.individual, sg.side, sg.status) == (a.code, "left", "auto_accepted")
    assert reg.unreviewed_images() == []

    reg.record_decision(img, "rejected", individual=a, by="ann", at=t(5))
    assert reg.sightings() == []  # the identification was withdrawn
    reg.record_decision(img, "confirmed", individual=b, rank=2, score=0.85, by="ann", at=t(6))
    reg.record_decision(img, "rejected", individual=c, by="ann", at=t(7))  # another candidate: no change
    # a decision recorded late but dated earlier does not override the later ones
    reg.record_decision(img, "rejected", individual=b, by="bob", at=t(5, 13))
    (sg,) = reg.sightings()
    assert (sg.individual, sg.status) == (b.code, "confirmed")

    history = reg.decisions(img)
    assert [(d.individual, d.decision) for d in history] == [
        (a.code, "auto_accepted"), (a.code, "rejected"), (b.code, "rejected"),
        (b.code, "confirmed"), (c.code, "rejected")]
    assert history[0].method == "auto" and history[0].decided_by == "matcher 0.3"
    assert history[0].score == 0.91 and history[0].rank == 1
    latest = reg.latest_decision(img)
    assert (latest.individual, latest.decision, latest.decided_at) == (c.code, "rejected", t(7))
    assert [im.id for im in reg.images_for_flank((b.code, "left"))] == [img.id]
    assert reg.images_for_flank((a.code, "left")) == []
    with pytest.raises(RegistryError, match="who decided must be named"):
        reg.record_decision(img, "confirmed", individual=b, by="  ")
    with pytest.raises(RegistryError, match="'auto_accepted' with method 'review'"):
        reg.record_decision(img, "auto_accepted", individual=b, method="review", by="x")


def test_new_individual_decision_and_proposed_sightings(reg):
    reg.add_station("ST-1", 0, 0)
    img = reg.add_image(b"one", t(3), "ST-1", path="1.jpg", side="right").image
    img2 = reg.add_image(b"two", t(4), "ST-1", path="2.jpg").image
    d = reg.record_decision(img, "new_individual", by="ann", sex="male")
    new = reg.get_individual(d.individual)
    assert new.sides == ("right",) and new.sex == "male" and new.n_sightings == 1
    assert new.first_seen == new.last_seen == t(3)
    # a proposed sighting does not count until decided
    prop = reg.record_sighting(img2, individual=new.code)
    assert prop.status == "proposed" and reg.sightings() != [] and len(reg.sightings()) == 1
    assert len(reg.sightings(include_proposed=True)) == 2
    assert [i.id for i in reg.unreviewed_images()] == [img2.id]
    reg.record_decision(img2, "rejected", individual=new.code, by="ann")
    assert len(reg.sightings(include_proposed=True)) == 1
    s = reg.record_sighting(img2, individual=new.code, side="left", by="bob")
    assert s.status == "confirmed" and s.side == "left"
    assert reg.get_individual(new.code).sides == ("left", "right")
    with pytest.raises(RegistryError, match="already identified"):
        reg.record_sighting(img2, individual=new.code)


def test_merging_individuals(reg):
    reg.add_station("ST-1", 0, 0)
    left = reg.new_individual(sides=("left",), sex="female")
    right = reg.new_individual(sides=("right",))
    imgs = [reg.add_image(f"i{k}".encode(), t(1 + k), "ST-1", path=f"{k}.jpg",
                          side="left" if k < 2 else "right").image for k in range(3)]
    reg.record_sighting(imgs[0], individual=left, by="ann")
    reg.record_sighting(imgs[1], individual=left, by="ann")
    reg.record_sighting(imgs[2], individual=right, by="ann")
    m = reg.merge_individuals(left, right, by="ann", note="paired cameras at ST-1", at=t(20))
    assert (m.kept, m.merged, m.merged_by, m.merged_at) == (left.code, right.code, "ann", t(20))
    assert m.flanks_moved == ("right",) and m.sightings_moved == 1
    live = reg.individuals()
    assert [i.code for i in live] == [left.code]
    assert live[0].sides == ("left", "right") and live[0].n_sightings == 3
    assert live[0].first_seen == t(1) and live[0].last_seen == t(3)
    gone = reg.get_individual(right.code)
    assert gone.merged_into == left.code and gone.sides == ()
    assert reg.get_individual(right.code, resolve=True).code == left.code
    assert {s.individual for s in reg.sightings()} == {left.code}
    assert reg.merges() == [m]
    # history is kept as recorded, found from the surviving record
    assert {d.individual for d in reg.decisions(individual=left.code)} == {left.code, right.code}
    # a merged code stands for the surviving record
    img4 = reg.add_image(b"i4", t(5), "ST-1", path="4.jpg", side="right").image
    assert reg.record_decision(img4, "confirmed", individual=right.code, by="ann").individual == left.code
    with pytest.raises(RegistryError, match="already merged into"):
        reg.merge_individuals(left, right, by="ann")
    # two records with a flank on the same side: the flanks are merged
    other = reg.new_individual(sides=("left",))
    img5 = reg.add_image(b"i5", t(6), "ST-1", path="5.jpg", side="left").image
    reg.record_sighting(img5, individual=other, by="ann")
    m2 = reg.merge_individuals(left.code, other.code, by="bob")
    assert m2.flanks_merged == ("left",) and m2.flanks_moved == ()
    left_flank = reg.flanks(individual=left.code, side="left")[0]
    assert img5.id in [i.id for i in reg.images_for_flank(left_flank)]
    male = reg.new_individual(sex="male")
    with pytest.raises(RegistryError, match="not one animal"):
        reg.merge_individuals(left, male, by="ann")


# --------------------------------------------------------------------------------------------
# capture histories
# --------------------------------------------------------------------------------------------


def _survey(reg):
    """Four stations: A works throughout, B not on days 5–7, C only on days 9–10, D not during
    the survey; four animals (one only proposed)."""
    reg.add_station("A", 1000.0, 2000.0)
    reg.add_station("B", 3000.5, 2000.0)
    reg.add_station("C", 5000.0, 4500.25)
    reg.add_station("D", 9000.0, 9000.0)  # never works during the survey
    reg.add_station_period("A", t(1, 0), None)
    reg.add_station_period("B", t(1, 0), t(5, 0))
    reg.add_station_period("B", t(8, 0), t(11, 0))
    reg.add_station_period("C", t(9, 0), t(11, 0), camera="C-left")
    reg.add_station_period("C", t(9, 0), t(10, 0), camera="C-right")  # overlaps: union counts
    reg.add_station_period("D", t(20, 0), t(25, 0))
    both = reg.new_individual(sides=("left", "right"), sex="female")   # AL-0001
    lonly = reg.new_individual(sides=("left",))                        # AL-0002
    ronly = reg.new_individual(sides=("right",), sex="male")           # AL-0003
    pending = reg.new_individual(sides=("left",))                      # AL-0004
    seen = [  # (animal, station, time, side)
        (both, "A", t(1, 6), "left"), (both, "A", t(1, 7), "left"),   # one detection (proximity)
        (both, "B", t(2, 6), "right"), (both, "A", t(3, 23), "right"),
        (lonly, "B", t(8, 1), "left"), (lonly, "C", t(9, 5), "left"),
        (ronly, "C", t(10, 12), "right"),
    ]
    for k, (ind, st, when, side) in enumerate(seen):
        img = reg.add_image(f"s{k}".encode(), when, st, path=f"s{k}.jpg", side=side).image
        reg.record_decision(img, "confirmed" if k % 2 else "auto_accepted", individual=ind,
                            by="ann" if k % 2 else "matcher", at=when + timedelta(days=1))
    img = reg.add_image(b"pending", t(4), "A", path="p.jpg").image
    reg.record_sighting(img, individual=pending)  # proposed only: not counted
    rej = reg.add_image(b"rejected", t(4, 13), "B", path="r.jpg", side="left").image
    reg.record_decision(rej, "auto_accepted", individual=lonly, by="matcher", at=t(5))
    reg.record_decision(rej, "rejected", individual=lonly, by="ann", at=t(6))
    return both, lonly, ronly


def test_export_round_trip_through_read_capthist(reg, tmp_path):
    _survey(reg)
    # occasions of 2 days from 2024-03-01 00:00 UTC: 1-3, 3-5, 5-7, 7-9, 9-11
    res = export_captures(reg, tmp_path / "survey", start=t(1, 0), occasion_days=2, n_occasions=5, sex=True)
    assert res.captures == tmp_path / "survey.captures.txt" and res.traps == tmp_path / "survey.traps.txt"
    ch = read_capthist(res.captures, res.traps, detector="proximity")
    assert ch.session == "S1" and ch.ids == ("AL-0001", "AL-0002", "AL-0003")
    assert ch.trap_ids == ("A", "B", "C") and res.skipped_stations == ("D",)
    np.testing.assert_array_equal(ch.traps, [[1000.0, 2000.0], [3000.5, 2000.0], [5000.0, 4500.25]])
    expected = np.zeros((3, 5, 3), dtype=int)
    expected[0, 0, 0] = 1  # AL-0001 at A on day 1 (twice: one proximity detection)
    expected[0, 0, 1] = 1  # AL-0001 at B on day 2
    expected[0, 1, 0] = 1  # AL-0001 at A on day 3, 23:00
    expected[1, 3, 1] = 1  # AL-0002 at B on day 8
    expected[1, 4, 2] = 1  # AL-0002 at C on day 9
    expected[2, 4, 2] = 1  # AL-0003 at C on day 10
    np.testing.assert_array_equal(ch.counts, expected)
    np.testing.assert_allclose(ch.usage, [[1, 1, 1, 1, 1], [1, 1, 0, 0.5, 1], [0, 0, 0, 0, 1]])
    np.testing.assert_allclose(res.usage, ch.usage)
    assert list(ch.covariates["sex"]) == ["F", None, "M"]
    assert res.n_animals == 3 and res.n_detections == 6 and res.n_proposed == 1
    assert res.left_only == ("AL-0002",) and res.right_only == ("AL-0003",) and res.both_flanks == ("AL-0001",)
    assert res.n_animals_min == 2
    assert any("left flank only" in w and "as few as 2" in w for w in res.warnings)
    assert any("1 proposed sighting" in w for w in res.warnings)
    assert "3 animals, 6 detections" in str(res)
    # binary usage, and a count detector of independent visits (the two photos 1 h apart at A
    # on day 1 are two visits with a 30-minute gap, one with a 2-hour gap)
    res_b = export_captures(reg, tmp_path / "bin", start=t(1, 0), occasion_days=2, n_occasions=5,
                            usage="binary", detector="count")
    ch_b = read_capthist(res_b.captures, res_b.traps, detector="count")
    np.testing.assert_array_equal(ch_b.usage, [[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [0, 0, 0, 0, 1]])
    assert ch_b.counts[0, 0, 0] == 2 and ch_b.counts.sum() == 7
    res_c = export_captures(reg, tmp_path / "c", start=t(1, 0), occasion_days=2, n_occasions=5,
                            detector="count", independence_minutes=120)
    assert read_capthist(res_c.captures, res_c.traps, detector="count").counts[0, 0, 0] == 1


def test_export_after_merge_counts_one_animal(reg, tmp_path):
    both, lonly, ronly = _survey(reg)
    reg.merge_individuals(lonly, ronly, by="ann")
    res = export_captures(reg, tmp_path / "m", start=t(1, 0), occasion_days=2, n_occasions=5)
    ch = read_capthist(res.captures, res.traps, detector="proximity")
    assert ch.ids == ("AL-0001", "AL-0002") and ch.counts[1, 4, 2] == 1
    assert res.left_only == res.right_only == () and not any("flank only" in w for w in res.warnings)


def test_export_refuses_sightings_outside_working_periods(reg, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    _survey(reg)
    img = reg.add_image(b"gap", t(6, 12), "B", path="gap.jpg").image  # B is down on days 5-7
    reg.record_decision(img, "confirmed", individual="AL-0001", by="ann")
    with pytest.raises(RegistryError, match=r"1 accepted sighting\(s\) fall outside every working period.*"
                                            r"station B, 2024-03-06T12:00:00Z.*Nothing was written"):
        export_captures(reg, tmp_path / "x", start=t(1, 0), occasion_days=2, n_occasions=5)
    assert list(tmp_path.iterdir()) == []
    res = export_captures(reg, tmp_path / "x", start=t(1, 0), occasion_days=2, n_occasions=5, inactive="drop")
    assert res.dropped and any("left out" in w for w in res.warnings)
    read_capthist(res.captures, res.traps, detector="proximity")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.captures.txt", "x.traps.txt"]  # no temp files


def test_export_argument_errors(reg, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    _survey(reg)
    kw = dict(start=t(1, 0), occasion_days=2, n_occasions=5)
    with pytest.raises(RegistryError, match="camera traps are proximity detectors"):
        export_captures(reg, tmp_path / "x", detector="multi", **kw)
    with pytest.raises(RegistryError, match="occasion_days"):
        export_captures(reg, tmp_path / "x", **{**kw, "occasion_days": 0})
    with pytest.raises(RegistryError, match="does not exist"):
        export_captures(reg, tmp_path / "no" / "x", **kw)
    with pytest.raises(RegistryError, match="no accepted sightings"):
        export_captures(reg, tmp_path / "x", start=t(20, 0), occasion_days=1, n_occasions=3)
    with pytest.raises(RegistryError, match="ST-404"):
        export_captures(reg, tmp_path / "x", stations=["A", "ST-404"], **kw)
    assert list(tmp_path.iterdir()) == []
