"""The database: serializable transactions over the store, and what they read and wrote.

``database`` opens a store and runs one writer; ``transaction`` is one function's reads and
writes; ``index_range``, ``filters`` and ``search`` read; ``read_set`` and ``recent_commits`` tell
which reads a commit invalidated; ``optimistic``, ``write_buffer`` and ``off_loop`` run
transactions off the event loop; ``commit_feed`` brings other servers' commits in (PostgreSQL).
It knows nothing of functions: the functions layer drives it.
"""
