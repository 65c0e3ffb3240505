"""Use cases: public reads (``public``) and private writes (``private``), plus the generators."""
