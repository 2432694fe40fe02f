"""One module per process of the yearly schedule (see pardus.schedule)."""
