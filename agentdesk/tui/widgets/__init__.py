"""One widget per module. Widgets receive read-model snapshots as attributes and post
messages up; none of them computes a retry or reads a database."""
