"""Models, settings, the exception tree and the backend interfaces; imports nothing of ours."""
