"""Image generators: OpenAI's images API in production, an offline drawing by default."""
