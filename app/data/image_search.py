"""The WHERE clause of an image listing, built from fixed fragments with bound parameters.

No text from a request ever becomes SQL: each filter adds one of the constant fragments below,
and its value travels as a named parameter. LIKE wildcards in search terms are escaped.

``prompt`` is a word search: every word must start a word of the prompt (case and accents
ignored). Words a full-text index can answer (letters and digits, at least 3 long, not a
stopword) go to MySQL's FULLTEXT index or SQLite's FTS5 table; other words (short ones,
stopwords, words with punctuation) are matched as substrings, which scans. A word given twice
is searched once; how many words a search may have is capped where the filter is validated
(``ImageFilter``), and the repository gives text searches a deadline and a share of the pool.
``prompt_contains`` is a literal, case-insensitive substring match: always a scan.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.models import ImageFilter
from app.data.dialect import Dialect, fold, to_db_time

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


def search_words(text: str) -> list[str]:
    """The distinct words of a word search, in order: a repeated word adds nothing but cost."""
    distinct: dict[str, str] = {}
    for word in text.split():
        distinct.setdefault(fold(word), word)
    return list(distinct.values())


def is_text_search(filters: ImageFilter) -> bool:
    """Whether the filters search the prompt's text (which may scan) rather than a key."""
    return filters.prompt is not None or filters.prompt_contains is not None


def where_clause(filters: ImageFilter, dialect: Dialect) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (to be joined with AND) and their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if filters.guid is not None:
        conditions.append("guid = :guid")
        params["guid"] = str(filters.guid)
    if filters.filename is not None:
        # Exact: MySQL's collation would match other cases and ignore trailing spaces. Compared
        # as bytes the unique index still finds the row; SQLite's = compares bytes already.
        exact = "CAST(:filename AS BINARY)" if dialect == "mysql" else ":filename"
        conditions.append(f"filename = {exact}")
        params["filename"] = filters.filename
    if filters.model is not None:
        conditions.append("model = :model")
        params["model"] = filters.model
    if filters.media_type is not None:
        conditions.append("media_type = :media_type")
        params["media_type"] = filters.media_type
    if filters.created_after is not None:
        conditions.append("created_at > :created_after")
        params["created_after"] = to_db_time(filters.created_after, dialect)
    if filters.created_before is not None:
        conditions.append("created_at < :created_before")
        params["created_before"] = to_db_time(filters.created_before, dialect)
    substrings: list[str] = []
    if filters.prompt is not None:
        words = search_words(filters.prompt)
        _indexed_words([w for w in words if is_indexable(w)], dialect, conditions, params)
        substrings += [w for w in words if not is_indexable(w)]
    if filters.prompt_contains is not None:
        substrings.append(filters.prompt_contains)
    _substrings(substrings, dialect, conditions, params)
    return conditions, params


def _indexed_words(
    words: list[str], dialect: Dialect, conditions: list[str], params: dict[str, Any]
) -> None:
    """Words the full-text index answers, each matching the start of a word of the prompt."""
    if not words:
        return
    if dialect == "mysql":
        conditions.append("MATCH(prompt) AGAINST (:prompt_words IN BOOLEAN MODE)")
        params["prompt_words"] = " ".join(f"+{w}*" for w in words)
    else:
        conditions.append(
            "id IN (SELECT rowid FROM images_fts WHERE images_fts MATCH :prompt_words)"
        )
        params["prompt_words"] = " AND ".join(f'"{w}"*' for w in words)


def _substrings(
    terms: list[str], dialect: Dialect, conditions: list[str], params: dict[str, Any]
) -> None:
    """Terms the prompt must contain (case and accents ignored): these scan, one test a term.

    MySQL's LIKE folds under the column's collation. SQLite looks the folded term up in the
    prompt folded when it was stored: the scan runs in SQLite's C code, which lets go of the
    interpreter's lock, so other requests go on while it runs (folding in a Python function
    would take that lock once a row). A row some other writer left without it is folded here.
    """
    names = [f"prompt_term_{number}" for number in range(len(terms))]
    if dialect == "mysql":
        conditions += [f"prompt LIKE :{name} ESCAPE '{LIKE_ESCAPE}'" for name in names]
        params |= {name: like_pattern(term) for name, term in zip(names, terms, strict=True)}
    else:
        conditions += [
            f"instr(COALESCE(prompt_folded, pp_fold(prompt)), :{name}) > 0" for name in names
        ]
        params |= {name: fold(term) for name, term in zip(names, terms, strict=True)}
