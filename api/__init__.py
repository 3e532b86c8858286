"""The query API: a Starlette app over the store. It knows nothing of protobuf."""
