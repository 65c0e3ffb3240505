"""The public and private resources of the HTTP API."""
