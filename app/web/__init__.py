"""HTTP: routers, dependencies, request logging and the single exception handler."""
