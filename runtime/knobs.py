"""Every tunable of the runtime in one place: a default, an ``OPENCOM_*`` override, one line of doc.

Limits mirror Convex's (convex-semantics Appendix A) so that code which runs here runs there.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(f"OPENCOM_{name}")
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(f"OPENCOM_{name}")
    return float(raw) if raw else default


# --- values -----------------------------------------------------------------------------------
MAX_DOCUMENT_SIZE = _int("MAX_DOCUMENT_SIZE", 1 << 20)  # bytes, system fields included
MAX_DOCUMENT_NESTING = _int("MAX_DOCUMENT_NESTING", 16)  # containers deep inside one document
MAX_VALUE_NESTING = _int("MAX_VALUE_NESTING", 64)  # containers deep in args and return values
MAX_ARRAY_LENGTH = _int("MAX_ARRAY_LENGTH", 8192)  # elements in one array
MAX_OBJECT_FIELDS = _int("MAX_OBJECT_FIELDS", 1024)  # fields in one object
MAX_FIELD_NAME_LENGTH = _int("MAX_FIELD_NAME_LENGTH", 1024)  # characters in one object key
MAX_IDENTIFIER_LENGTH = _int("MAX_IDENTIFIER_LENGTH", 64)  # table, index and schema field names
MAX_FUNCTION_ARGS_SIZE = _int("MAX_FUNCTION_ARGS_SIZE", 16 << 20)  # bytes of one call's arguments
MAX_FUNCTION_RESULT_SIZE = _int("MAX_FUNCTION_RESULT_SIZE", 16 << 20)  # bytes of one return value

# --- transactions -----------------------------------------------------------------------------
MAX_DOCUMENTS_READ = _int("MAX_DOCUMENTS_READ", 32_000)  # documents scanned per transaction
MAX_BYTES_READ = _int("MAX_BYTES_READ", 16 << 20)  # bytes of scanned documents per transaction
MAX_INDEX_RANGES = _int("MAX_INDEX_RANGES", 4096)  # index intervals in one read set
MAX_DOCUMENTS_WRITTEN = _int("MAX_DOCUMENTS_WRITTEN", 16_000)  # writes per transaction
MAX_BYTES_WRITTEN = _int("MAX_BYTES_WRITTEN", 16 << 20)  # bytes of written documents per transaction
MAX_FUNCTIONS_SCHEDULED = _int("MAX_FUNCTIONS_SCHEDULED", 1000)  # scheduled calls per mutation
MAX_SCHEDULED_ARGS_SIZE = _int("MAX_SCHEDULED_ARGS_SIZE", 16 << 20)  # scheduled args bytes per mutation
MAX_QUERY_OPERATORS = _int("MAX_QUERY_OPERATORS", 256)  # filter operators in one query
MAX_PAGE_SIZE = _int("MAX_PAGE_SIZE", 32_000)  # numItems accepted by paginate
MAX_CALL_DEPTH = _int("MAX_CALL_DEPTH", 8)  # nested ctx.run_* depth
MAX_INDEXES_PER_TABLE = _int("MAX_INDEXES_PER_TABLE", 32)  # index, search and vector indexes
MAX_INDEX_FIELDS = _int("MAX_INDEX_FIELDS", 16)  # fields per index, _creationTime included
QUERY_TIME_LIMIT_S = _float("QUERY_TIME_LIMIT_S", 1.0)  # user code time of a query or mutation
# CPU time a query or mutation may use on the event loop thread; past it, it is run again from the
# start on a worker thread (runtime.database.off_loop), so that one long function cannot stall other clients.
LOOP_CPU_BUDGET_S = _float("LOOP_CPU_BUDGET_S", 0.03)
OFF_LOOP_WORKERS = _int("OFF_LOOP_WORKERS", 4)  # worker threads for those re-runs
# A mutation whose last run, on the writer or beside it, used more CPU than this starts its next run
# beside the writer (runtime.database.optimistic), so that work known to be long does not hold the event
# loop; one that then takes less goes back to the writer.
WRITER_HOLD_S = _float("WRITER_HOLD_S", 0.015)
# How often a server hands the interpreter lock between threads (CPython's default is 5 ms): a
# function computing on a worker delays the event loop's every wake-up by up to this much.
GIL_SWITCH_INTERVAL_S = _float("GIL_SWITCH_INTERVAL_S", 0.001)
# How long a thread's reading of its CPU clock serves as a bound for the deadlines of the functions it
# starts (runtime.function_clock): a limit may come late by this much, never early.
CPU_CLOCK_REUSE_S = _float("CPU_CLOCK_REUSE_S", 0.005)
# Times a mutation run off the writer (runtime.database.optimistic) is run again after a conflicting commit.
MUTATION_OCC_RETRIES = _int("MUTATION_OCC_RETRIES", 4)
ACTION_TIME_LIMIT_S = _float("ACTION_TIME_LIMIT_S", 600.0)  # wall time of one action

# --- storage ----------------------------------------------------------------------------------
SQLITE_SYNCHRONOUS = os.environ.get("OPENCOM_SQLITE_SYNCHRONOUS", "FULL")  # durability of commits
SCAN_BATCH_ROWS = _int("SCAN_BATCH_ROWS", 64)  # index rows fetched per SQLite round trip
SCAN_MAX_BATCH_ROWS = _int("SCAN_MAX_BATCH_ROWS", 1024)  # rows per round trip once a long scan has doubled its way up
MAX_COMMIT_GROUP = _int("MAX_COMMIT_GROUP", 256)  # mutations committed in one SQLite transaction
CHECKPOINT_INTERVAL_S = _float("CHECKPOINT_INTERVAL_S", 0.5)  # least time between background WAL checkpoints
CHECKPOINT_WAL_BYTES = _int("CHECKPOINT_WAL_BYTES", 4 << 20)  # WAL size that starts a background checkpoint
READER_CONNECTIONS = _int("READER_CONNECTIONS", 4)  # SQLite connections serving queries

# --- validators and schemas -------------------------------------------------------------------
VALIDATOR_ID_CACHE_SIZE = _int("VALIDATOR_ID_CACHE_SIZE", 16_384)  # decoded ids v.id() remembers
MAX_SEARCH_INDEXES_PER_TABLE = _int("MAX_SEARCH_INDEXES_PER_TABLE", 4)  # text search indexes per table
MAX_VECTOR_INDEXES_PER_TABLE = _int("MAX_VECTOR_INDEXES_PER_TABLE", 4)  # vector indexes per table
MAX_INDEX_FILTER_FIELDS = _int("MAX_INDEX_FILTER_FIELDS", 16)  # filterFields of a search/vector index
MIN_VECTOR_DIMENSIONS = _int("MIN_VECTOR_DIMENSIONS", 2)  # smallest vector index dimensions
MAX_VECTOR_DIMENSIONS = _int("MAX_VECTOR_DIMENSIONS", 4096)  # largest vector index dimensions

# --- search -----------------------------------------------------------------------------------
MAX_SEARCH_TERMS = _int("MAX_SEARCH_TERMS", 16)  # query terms used by one text search
MAX_SEARCH_TERM_BYTES = _int("MAX_SEARCH_TERM_BYTES", 32)  # tokens this long or longer are dropped
MAX_SEARCH_FILTER_CONDITIONS = _int("MAX_SEARCH_FILTER_CONDITIONS", 8)  # search + eq conditions per query
MAX_SEARCH_RESULTS = _int("MAX_SEARCH_RESULTS", 1024)  # candidates one text search may pull
MAX_VECTOR_RESULTS = _int("MAX_VECTOR_RESULTS", 256)  # largest `limit` of a vector search
MAX_VECTOR_FILTER_EXPRESSIONS = _int("MAX_VECTOR_FILTER_EXPRESSIONS", 64)  # or-ed eq filters per vector search
# On PostgreSQL with the pgvector extension, vector indexes are HNSW indexes (runtime/store/pg_vectors.py);
# 0 keeps the exact scan. Every server of a deployment must use the same setting.
PGVECTOR = _int("PGVECTOR", 1)
MAX_HTTP_RESPONSE_SIZE = _int("MAX_HTTP_RESPONSE_SIZE", 20 << 20)  # bytes of one HTTP action response
MAX_HTTP_REQUEST_SIZE = _int("MAX_HTTP_REQUEST_SIZE", 20 << 20)  # bytes of one HTTP action request body

# --- command line -----------------------------------------------------------------------------
CLI_PROGRESS_INTERVAL_S = _float("CLI_PROGRESS_INTERVAL_S", 0.1)  # least time between progress-bar redraws
CLI_LOCK_WAIT_S = _float("CLI_LOCK_WAIT_S", 1.0)  # how long to wait for a data directory's lock
CLI_REQUEST_TIMEOUT_S = _float("CLI_REQUEST_TIMEOUT_S", 660.0)  # one HTTP call to a server (> an action's limit)
DEV_POLL_INTERVAL_S = _float("DEV_POLL_INTERVAL_S", 0.25)  # how often `opencom dev` checks files for changes
SCHEMA_REPORT_LIMIT = _int("SCHEMA_REPORT_LIMIT", 20)  # violating documents named when a schema change is refused

# --- Python client SDK (client/) --------------------------------------------------------------
CLIENT_RECONNECT_INITIAL_S = _float("CLIENT_RECONNECT_INITIAL_S", 0.1)  # first reconnect delay; doubles per failure
CLIENT_RECONNECT_MAX_S = _float("CLIENT_RECONNECT_MAX_S", 16.0)  # longest delay between reconnect attempts
CLIENT_INACTIVITY_TIMEOUT_S = _float("CLIENT_INACTIVITY_TIMEOUT_S", 60.0)  # reconnect after this long with no frame
CLIENT_CONNECT_TIMEOUT_S = _float("CLIENT_CONNECT_TIMEOUT_S", 10.0)  # bound of one handshake or close
CLIENT_HTTP_TIMEOUT_S = _float("CLIENT_HTTP_TIMEOUT_S", 660.0)  # one HTTP API call of the client (> an action's limit)

# --- scheduler, file storage, environment variables ------------------------------------------
SCHEDULER_PARALLELISM = _int("SCHEDULER_PARALLELISM", 8)  # scheduled jobs running at once
SCHEDULING_HORIZON_DAYS = _int("SCHEDULING_HORIZON_DAYS", 5 * 366)  # furthest runAt/runAfter from now
SCHEDULED_JOB_RETENTION_S = _float("SCHEDULED_JOB_RETENTION_S", 7 * 86_400.0)  # completed jobs kept this long
# A due scheduled mutation waits while client mutations are queued for the writer, at most this long.
SCHEDULER_YIELD_MAX_S = _float("SCHEDULER_YIELD_MAX_S", 0.05)
SCHEDULER_GC_INTERVAL_S = _float("SCHEDULER_GC_INTERVAL_S", 3600.0)  # how often old completed jobs are deleted
SCHEDULER_GC_BATCH = _int("SCHEDULER_GC_BATCH", 100)  # job records deleted or recovered per transaction
SCHEDULER_RETRY_INITIAL_S = _float("SCHEDULER_RETRY_INITIAL_S", 0.5)  # first retry after a system error; doubles
SCHEDULER_RETRY_MAX_S = _float("SCHEDULER_RETRY_MAX_S", 7200.0)  # longest wait between system-error retries
CRON_JOB_LOGS_KEPT = _int("CRON_JOB_LOGS_KEPT", 5)  # runs remembered in _cron_job_logs per cron job
CLOUD_URL = os.environ.get("OPENCOM_CLOUD_URL", "http://127.0.0.1:3210")  # served /api base (the server overrides)
SITE_URL = os.environ.get("OPENCOM_SITE_URL", "http://127.0.0.1:3211")  # served HTTP actions base (server overrides)
UPLOAD_URL_TTL_S = _float("UPLOAD_URL_TTL_S", 3600.0)  # lifetime of a generate_upload_url() URL (used once)
MAX_UPLOAD_BYTES = _int("MAX_UPLOAD_BYTES", 32 << 20)  # largest file one upload URL accepts (413 beyond)
STORAGE_CHUNK_BYTES = _int("STORAGE_CHUNK_BYTES", 1 << 16)  # bytes read or written at a time by file storage
MAX_ENV_VARS = _int("MAX_ENV_VARS", 100)  # environment variables per deployment
MAX_ENV_NAME_LENGTH = _int("MAX_ENV_NAME_LENGTH", 40)  # characters of an environment variable name
MAX_ENV_VALUE_BYTES = _int("MAX_ENV_VALUE_BYTES", 8192)  # UTF-8 bytes of an environment variable value

# --- authentication ---------------------------------------------------------------------------
AUTH_LEEWAY_S = min(_float("AUTH_LEEWAY_S", 5.0), 60.0)  # clock skew allowed on exp/iat/nbf; never above 60 s
AUTH_JWKS_TTL_S = _float("AUTH_JWKS_TTL_S", 3600.0)  # fetched issuer keys are refetched after this long
AUTH_JWKS_MIN_REFETCH_S = _float("AUTH_JWKS_MIN_REFETCH_S", 30.0)  # least time between two fetches of one JWKS
AUTH_JWKS_FETCH_TIMEOUT_S = _float("AUTH_JWKS_FETCH_TIMEOUT_S", 10.0)  # bound of one discovery or JWKS request
AUTH_TOKEN_LIFETIME_S = _int("AUTH_TOKEN_LIFETIME_S", 3600)  # access JWTs of the built-in issuer
AUTH_SESSION_LIFETIME_S = _float("AUTH_SESSION_LIFETIME_S", 30 * 86_400.0)  # total lifetime of a sign-in session
AUTH_SESSION_INACTIVE_S = _float("AUTH_SESSION_INACTIVE_S", 30 * 86_400.0)  # an unused refresh token expires
AUTH_REFRESH_REUSE_WINDOW_S = _float("AUTH_REFRESH_REUSE_WINDOW_S", 10.0)  # a used refresh token still works
AUTH_SIGN_IN_MAX_FAILURES = _int("AUTH_SIGN_IN_MAX_FAILURES", 10)  # failed sign-ins per account per window
AUTH_SIGN_IN_FAILURE_WINDOW_S = _float("AUTH_SIGN_IN_FAILURE_WINDOW_S", 3600.0)  # the allowance refills over this
AUTH_MIN_PASSWORD_LENGTH = _int("AUTH_MIN_PASSWORD_LENGTH", 8)  # shortest password accepted at sign-up
AUTH_SCRYPT_N = _int("AUTH_SCRYPT_N", 1 << 15)  # scrypt cost; memory is 128·N·r bytes (32 MiB by default)
AUTH_SCRYPT_R = _int("AUTH_SCRYPT_R", 8)  # scrypt block size
AUTH_SCRYPT_P = _int("AUTH_SCRYPT_P", 1)  # scrypt parallelism

# --- sync server (runtime/server) -------------------------------------------------------------
SYNC_PING_INTERVAL_S = _float("SYNC_PING_INTERVAL_S", 15.0)  # idle time before a JSON Ping (clients give up at 30 s)
SYNC_MAX_MESSAGE_BYTES = _int("SYNC_MAX_MESSAGE_BYTES", 32 << 20)  # largest WebSocket frame a client may send
SYNC_MAX_QUERIES = _int("SYNC_MAX_QUERIES", 4096)  # queries in one connection's query set
# How long the first query set of a fresh connection waits for an Authenticate that may follow it
# (a page load subscribes before its auth library has read the token): see runtime.server.sync_session.
SYNC_AUTH_GRACE_S = _float("SYNC_AUTH_GRACE_S", 0.05)
SYNC_MAX_PENDING_MESSAGES = _int("SYNC_MAX_PENDING_MESSAGES", 10_000)  # unsent frames before a connection is dropped
SYNC_MAX_RESULT_BYTES = _int("SYNC_MAX_RESULT_BYTES", 64 << 20)  # result bytes one connection's queries may hold
SYNC_MAX_CONNECTION_PROOFS = _int("SYNC_MAX_CONNECTION_PROOFS", 32)  # ctx.connection proofs one connection keeps
SYNC_MUTATION_LOG_SIZE = _int("SYNC_MUTATION_LOG_SIZE", 10_000)  # (session, request) outcomes kept for replays
# Results of queries no connection watches any more, kept while no commit touches them, so that
# reconnecting clients are served without runs (runtime.server.subscriptions): how many, how many bytes.
SYNC_RETAINED_QUERIES = _int("SYNC_RETAINED_QUERIES", 20_000)
SYNC_RETAINED_BYTES = _int("SYNC_RETAINED_BYTES", 64 << 20)
# How long the store keeps a committed WebSocket mutation's receipt, which answers a resend of it
# after a crash or on another server (runtime.store.receipts); a client resends within seconds of reconnecting.
MUTATION_RECEIPTS_KEPT_S = _float("MUTATION_RECEIPTS_KEPT_S", 600.0)
GC_GENERATION0_THRESHOLD = _int("GC_GENERATION0_THRESHOLD", 20_000)  # allocations between young collections
SYNC_RERUN_STEP_S = _float("SYNC_RERUN_STEP_S", 0.005)  # re-runs between two turns of the event loop
# Worker processes running live-query re-runs (runtime/server/rerun_processes.py); 0: on the event loop.
RERUN_PROCESSES = _int("RERUN_PROCESSES", max((os.cpu_count() or 1) - 1, 0))
RERUN_BATCH_SIZE = _int("RERUN_BATCH_SIZE", 8)  # queries a process runs in one snapshot (a connection's stay together)
RERUN_MAX_BATCH_SIZE = _int("RERUN_MAX_BATCH_SIZE", 64)  # what a batch may grow to when many queries are due
RERUN_BATCHES_PER_PROCESS = _int("RERUN_BATCHES_PER_PROCESS", 2)  # batches sent to each process at a time
# CPU time a re-run may use on a worker process; past it, it finishes on a worker thread of the server
# (runtime/database/off_loop.py), so that a runaway query cannot keep a process from everyone else's re-runs.
RERUN_PROCESS_BUDGET_S = _float("RERUN_PROCESS_BUDGET_S", 0.25)
SYNC_CLOSE_TIMEOUT_S = _float("SYNC_CLOSE_TIMEOUT_S", 5.0)  # time a closing connection gets to take its last frames
HTTP_MAX_BODY_BYTES = _int("HTTP_MAX_BODY_BYTES", 32 << 20)  # largest HTTP API request body
SITE_PORT = _int("SITE_PORT", 3211)  # port of the HTTP-actions origin when --port is not 0 (then a free one)
FORWARDED_ALLOW_IPS = os.environ.get("OPENCOM_FORWARDED_ALLOW_IPS", "")  # proxies whose X-Forwarded-* is believed
LOG_STREAM_BUFFER = _int("LOG_STREAM_BUFFER", 1000)  # function events queued per logs listener before dropping
SHUTDOWN_TIMEOUT_S = _float("SHUTDOWN_TIMEOUT_S", 5.0)  # time requests get to finish when the server stops
