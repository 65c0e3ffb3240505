"""The WHERE clause of an image listing, built from fixed fragments with bound parameters.

No text from a request ever becomes SQL: each filter adds one of the constant fragments below,
and its value travels as a named parameter. LIKE wildcards in search terms are escaped.

``prompt`` is a word search: every word must start a word of the prompt (case and accents
ignored). Words a full-text index can answer (letters and digits, at least 3 long, not a
stopword) go to MySQL's FULLTEXT index or SQLite's FTS5 table; other words (short ones,
stopwords, words with punctuation) are matched as substrings, which scans.
``prompt_contains`` is a literal, case-insensitive substring match: always a scan.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.models import ImageFilter
from app.data.dialect import Dialect, to_db_time

LIKE_ESCAPE = "!"
FULLTEXT_MIN_LENGTH = 3  # InnoDB's innodb_ft_min_token_size default
# InnoDB's default stopword list: the FULLTEXT index holds none of these words.
FULLTEXT_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "are",
        "as",
        "at",
        "be",
        "by",
        "com",
        "de",
        "en",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "la",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "who",
        "will",
        "with",
        "und",
        "www",
    ]
)
_INDEXABLE_WORD = re.compile(r"[^\W_]+")


def like_pattern(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, its wildcards taken literally."""
    escaped = "".join(f"{LIKE_ESCAPE}{ch}" if ch in f"%_{LIKE_ESCAPE}" else ch for ch in term)
    return f"%{escaped}%"


def is_indexable(word: str) -> bool:
    """Whether a full-text index can answer this word on both databases."""
    return (
        len(word) >= FULLTEXT_MIN_LENGTH
        and _INDEXABLE_WORD.fullmatch(word) is not None
        and word.casefold() not in FULLTEXT_STOPWORDS
    )


def where_clause(filters: ImageFilter, dialect: Dialect) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (to be joined with AND) and their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if filters.guid is not None:
        conditions.append("guid = :guid")
        params["guid"] = str(filters.guid)
    if filters.filename is not None:
        conditions.append("filename = :filename")
        params["filename"] = filters.filename
    if filters.created_after is not None:
        conditions.append("created_at > :created_after")
        params["created_after"] = to_db_time(filters.created_after, dialect)
    if filters.created_before is not None:
        conditions.append("created_at < :created_before")
        params["created_before"] = to_db_time(filters.created_before, dialect)
    if filters.prompt is not None:
        _word_search(filters.prompt, dialect, conditions, params)
    if filters.prompt_contains is not None:
        conditions.append(_contains("prompt_contains", dialect))
        params["prompt_contains"] = like_pattern(filters.prompt_contains)
    return conditions, params


def _word_search(
    text: str, dialect: Dialect, conditions: list[str], params: dict[str, Any]
) -> None:
    words = text.split()
    indexed = [w for w in words if is_indexable(w)]
    if indexed and dialect == "mysql":
        conditions.append("MATCH(prompt) AGAINST (:prompt_words IN BOOLEAN MODE)")
        params["prompt_words"] = " ".join(f"+{w}*" for w in indexed)
    elif indexed:
        conditions.append(
            "id IN (SELECT rowid FROM images_fts WHERE images_fts MATCH :prompt_words)"
        )
        params["prompt_words"] = " AND ".join(f'"{w}"*' for w in indexed)
    for number, word in enumerate(w for w in words if not is_indexable(w)):
        name = f"prompt_word_{number}"
        conditions.append(_contains(name, dialect))
        params[name] = like_pattern(word)


def _contains(param: str, dialect: Dialect) -> str:
    if dialect == "mysql":
        return f"prompt LIKE :{param} ESCAPE '{LIKE_ESCAPE}'"
    return f"pp_fold(prompt) LIKE pp_fold(:{param}) ESCAPE '{LIKE_ESCAPE}'"
