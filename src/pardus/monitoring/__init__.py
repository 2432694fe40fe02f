"""Monitoring: how the real population is known (MODEL.md section 6).

* :mod:`pardus.monitoring.coat` and :mod:`pardus.monitoring.render`: every simulated leopard's
  rosette pattern (one per flank) and camera-trap images of it;
* :mod:`pardus.monitoring.registry`: the individual registry on a real database (SQLAlchemy,
  SQLite by default, PostgreSQL by URL, Alembic migrations).

Capture-recapture and SECR estimation live in :mod:`pardus.secr`.
"""
