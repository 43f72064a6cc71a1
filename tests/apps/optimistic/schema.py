"""The optimistic-mutation tests' app: counters to fight over, items under an index and a search index."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "counters": define_table({"value": v.int64()}),
        "items": define_table({"group": v.string(), "rank": v.float64(), "text": v.string()})
        .index("by_group", ["group", "rank"])
        .search_index("search_text", search_field="text"),
    }
)
