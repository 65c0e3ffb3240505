"""Assertions on problem responses (RFC 9457), shared by the tests."""

from __future__ import annotations

from tests.web.test_errors import assert_problem

__all__ = ["assert_problem"]
