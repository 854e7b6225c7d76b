"""History: ended jobs, with their nodes, results and job events, in an SQLite projection of the
log, so that memory follows live work and a restart folds only the log's tail.

`store` owns the database (its schema, one writer thread, reader threads); `archive` moves the
jobs the fold ended out of the folded state into it, in the fold's batches, with checkpoints of
the live state; `reads` is how the api finds a job wherever it is. See docs/history.md.
"""
