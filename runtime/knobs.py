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
ACTION_TIME_LIMIT_S = _float("ACTION_TIME_LIMIT_S", 600.0)  # wall time of one action

# --- storage ----------------------------------------------------------------------------------
SQLITE_SYNCHRONOUS = os.environ.get("OPENCOM_SQLITE_SYNCHRONOUS", "FULL")  # durability of commits
SCAN_BATCH_ROWS = _int("SCAN_BATCH_ROWS", 64)  # index rows fetched per SQLite round trip
MAX_COMMIT_GROUP = _int("MAX_COMMIT_GROUP", 256)  # mutations committed in one SQLite transaction
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
MAX_HTTP_RESPONSE_SIZE = _int("MAX_HTTP_RESPONSE_SIZE", 20 << 20)  # bytes of one HTTP action response
MAX_HTTP_REQUEST_SIZE = _int("MAX_HTTP_REQUEST_SIZE", 20 << 20)  # bytes of one HTTP action request body

# --- command line -----------------------------------------------------------------------------
CLI_PROGRESS_INTERVAL_S = _float("CLI_PROGRESS_INTERVAL_S", 0.1)  # least time between progress-bar redraws
CLI_LOCK_WAIT_S = _float("CLI_LOCK_WAIT_S", 1.0)  # how long to wait for a data directory's lock
CLI_REQUEST_TIMEOUT_S = _float("CLI_REQUEST_TIMEOUT_S", 660.0)  # one HTTP call to a server (> an action's limit)
DEV_POLL_INTERVAL_S = _float("DEV_POLL_INTERVAL_S", 0.25)  # how often `opencom dev` checks files for changes
SCHEMA_REPORT_LIMIT = _int("SCHEMA_REPORT_LIMIT", 20)  # violating documents named when a schema change is refused
