"""A small app for search tests: notes with text, a channel filter and an embedding."""

from runtime import define_schema, define_table, v

schema = define_schema(
    {
        "notes": define_table(
            {"body": v.string(), "channel": v.string(), "embedding": v.optional(v.array(v.float64()))}
        )
        .search_index("search_body", search_field="body", filter_fields=["channel"])
        .vector_index("by_embedding", vector_field="embedding", dimensions=3, filter_fields=["channel"]),
    }
)
