"""PixyProxy: images generated from text prompts, stored and served back over HTTP."""
