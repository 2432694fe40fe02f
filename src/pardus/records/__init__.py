"""Census records shipped with pardus (CSV files; see :mod:`pardus.validation`)."""
