"""The run-search language: filters, order_by clauses and page tokens.

The language is the one MLflow's ``search_runs`` accepts, so filters written for MLflow
work unchanged. A filter is comparisons joined by ``and``::

    filter      := comparison ("and" comparison)*
    comparison  := identifier comparator value
    identifier  := prefix "." key | attribute
    prefix      := metrics | params | tags | attributes | datasets   (and the aliases below)
    key         := word ("." word)* | `quoted` | "quoted"
    comparison  := identifier comparator value | identifier IS [NOT] NULL
    comparator  := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
    value       := number | 'string' | "string" | "(" string ("," string)* ")"

Metrics compare with numbers; params, tags, string attributes and dataset fields with
quoted strings (a quote inside a string is written twice); ``start_time`` and ``end_time``
with whole milliseconds. ``IN`` lists are accepted for string attributes and dataset
fields. Keywords are case-insensitive. An order_by clause is an identifier and an
optional ``ASC`` or ``DESC``.

Two things go beyond MLflow, which rejects them: ``IS NULL``/``IS NOT NULL`` (runs that
lack, or have, a metric, param, tag or attribute value) and ``IN`` lists on string
attributes other than ``run_id`` (``status IN ('FAILED', 'KILLED')``). Every MLflow filter
still means here what it means in MLflow.

The parser is hand-written so that every error can point at the offending token: the
message names it, gives its 0-based position and repeats the text with a caret under it.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NoReturn

from loopml.errors import InvalidInputError, SearchSyntaxError

__all__ = [
    "Comparison",
    "EntityKind",
    "OrderBy",
    "decode_page_token",
    "encode_page_token",
    "like_matcher",
    "parse_filter",
    "parse_order_by",
]

EntityKind = Literal["metric", "param", "tag", "attribute", "dataset"]


@dataclass(frozen=True)
class Comparison:
    """One ``identifier comparator value`` clause of a filter.

    Attributes:
        kind: what the key names: a metric, param, tag, run attribute or dataset field.
        key: the metric/param/tag key, or the canonical attribute name (``created`` is
            ``start_time``), or ``name``/``digest``/``context`` for datasets.
        op: the comparator in upper case: ``= != < <= > >= LIKE ILIKE IN NOT IN`` or
            ``IS NULL``/``IS NOT NULL``.
        value: a float for metrics, an int for ``start_time``/``end_time``, a tuple of
            strings for ``IN``/``NOT IN``, None for the null tests, otherwise a string.
    """

    kind: EntityKind
    key: str
    op: str
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True)
class OrderBy:
    """One order_by clause: sort runs by ``kind``/``key``, ascending unless ``DESC``."""

    kind: EntityKind
    key: str
    ascending: bool


_PREFIX_ALIASES: tuple[tuple[EntityKind, tuple[str, ...]], ...] = (
    ("metric", ("metric", "metrics")),
    ("param", ("param", "params", "parameter", "parameters")),
    ("tag", ("tag", "tags")),
    ("attribute", ("attribute", "attributes", "attr", "run")),
    ("dataset", ("dataset", "datasets")),
)
_PREFIXES: dict[str, EntityKind] = {a: kind for kind, aliases in _PREFIX_ALIASES for a in aliases}
_VALID_PREFIXES = "metrics., params., tags., attributes. or datasets."
_STRING_ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "artifact_uri")
_NUMERIC_ATTRIBUTES = ("start_time", "end_time")
# MLflow's display names for two attributes; they may be written with or without a prefix.
_ATTRIBUTE_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_DATASET_FIELDS = ("name", "digest", "context")

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_LIST_OPS = ("IN", "NOT IN")
_NULL_OPS = ("IS NULL", "IS NOT NULL")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_WORD = re.compile(r"[^\W\d]\w*")
_UNQUOTED_KEY = re.compile(r"[\w.]*")
_OPERATOR = re.compile(r"<=|>=|!=|==|<>|=|<|>")
_PUNCTUATION = frozenset("(),")


@dataclass(frozen=True)
class _Token:
    kind: Literal["ident", "string", "number", "op", "punct", "end"]
    text: str  # as written, quotes included
    pos: int
    value: str = ""  # the unescaped string, or an identifier's key
    prefix: str | None = None  # an identifier's part before the first dot
    quoted: bool = False  # an identifier written in quotes is never a keyword

    def word(self) -> str:
        """The upper-cased keyword this token spells, or '' if it is not a bare word."""
        if self.kind == "ident" and self.prefix is None and not self.quoted:
            return self.value.upper()
        return ""

    def shown(self) -> str:
        if self.kind == "end":
            return f"the end of the {self.value}"
        return f"'{self.text}'" if "'" not in self.text else f'"{self.text}"'


class _Source:
    """One text being parsed: turns it into tokens and formats errors pointing into it."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def fail(self, pos: int, detail: str, hint: str = "") -> NoReturn:
        shown = re.sub(r"\s", " ", self.text)
        message = f"invalid {self.what}: {detail} at position {pos}"
        if hint:
            message += f"; {hint}"
        raise SearchSyntaxError(f"{message}\n  {shown}\n  {' ' * pos}^")

    def tokens(self) -> Iterator[_Token]:
        """The tokens, read lazily so the leftmost error is the one reported; then 'end'."""
        text, pos = self.text, 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos == len(text):
                yield _Token("end", "", pos, self.what.split()[0])
                continue
            token = self._token_at(pos)
            yield token
            pos += len(token.text)

    def _token_at(self, pos: int) -> _Token:
        text, char = self.text, self.text[pos]
        if char in "'\"":
            value, end = self._quoted(pos, "string")
            return _Token("string", text[pos:end], pos, value)
        if char == "`" or _WORD.match(text, pos):
            return self._identifier(pos)
        if number := _NUMBER.match(text, pos):
            end = number.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                self.fail(pos, f"malformed number starting '{number.group()}'")
            return _Token("number", number.group(), pos)
        if operator := _OPERATOR.match(text, pos):
            return _Token("op", operator.group(), pos)
        if char in _PUNCTUATION:
            return _Token("punct", char, pos)
        self.fail(
            pos,
            f"unexpected character '{char}'",
            "quote keys holding spaces or symbols with backticks, e.g. metrics.`train/loss`",
        )

    def _quoted(self, pos: int, what: str) -> tuple[str, int]:
        """Read the quoted text at ``pos``; a doubled quote stands for one quote."""
        quote, start, parts = self.text[pos], pos + 1, []
        while True:
            close = self.text.find(quote, start)
            if close < 0:
                self.fail(pos, f"unterminated {what} starting {quote}", f"close it with {quote}")
            parts.append(self.text[start:close])
            if self.text.startswith(quote * 2, close):
                parts.append(quote)
                start = close + 2
                continue
            return "".join(parts), close + 1

    def _identifier(self, pos: int) -> _Token:
        text = self.text
        if text[pos] == "`":
            first, end = self._quoted(pos, "quoted name")
        else:
            match = _WORD.match(text, pos)
            assert match is not None  # the caller checked
            first, end = match.group(), match.end()
        quoted = text[pos] == "`"
        if end >= len(text) or text[end] != ".":
            return _Token("ident", text[pos:end], pos, first, None, quoted)
        key_pos = end + 1
        if key_pos < len(text) and text[key_pos] in '`"':
            key, end = self._quoted(key_pos, "quoted key")
        else:
            match = _UNQUOTED_KEY.match(text, key_pos)
            assert match is not None  # the pattern matches the empty string
            key, end = match.group(), match.end()
        return _Token("ident", text[pos:end], pos, key, first, quoted)


def _resolve(source: _Source, token: _Token) -> tuple[EntityKind, str]:
    """The kind and canonical key an identifier token names."""
    if token.kind != "ident" or token.word() in _KEYWORDS:
        hint = (
            "parentheses are not supported; join comparisons with and" if token.text == "(" else ""
        )
        source.fail(
            token.pos,
            f"expected an identifier such as metrics.rmse or params.lr, found {token.shown()}",
            hint,
        )
    if token.prefix is None:
        kind: EntityKind = "attribute"
    else:
        found = _PREFIXES.get(token.prefix.lower())
        if found is None:
            near = difflib.get_close_matches(token.prefix.lower(), _PREFIXES, n=1)
            hint = f"did you mean '{near[0]}.'? " if near else ""
            source.fail(
                token.pos,
                f"unknown prefix '{token.prefix}' in {token.shown()}",
                f"{hint}use one of {_VALID_PREFIXES}",
            )
        kind = found
    if not token.value:
        source.fail(
            token.pos + len(token.text),
            f"empty key after {token.shown()}",
            "name the key, e.g. metrics.rmse, and quote keys with spaces: metrics.`my metric`",
        )
    if kind == "dataset" and token.value not in _DATASET_FIELDS:
        source.fail(
            token.pos,
            f"unknown dataset field '{token.value}' in {token.shown()}",
            f"use one of {', '.join('datasets.' + f for f in _DATASET_FIELDS)}",
        )
    if kind != "attribute":
        return kind, token.value
    key = _ATTRIBUTE_ALIASES.get(token.value, token.value)
    if key not in _STRING_ATTRIBUTES and key not in _NUMERIC_ATTRIBUTES:
        valid = ", ".join(sorted((*_STRING_ATTRIBUTES, *_NUMERIC_ATTRIBUTES, "created")))
        hint = f"run attributes are {valid}"
        if token.prefix is None:
            hint += f"; for a metric, param or tag write metrics.{token.value} (or params., tags.)"
        source.fail(token.pos, f"unknown run attribute '{token.value}'", hint)
    return kind, key


def _allowed_ops(kind: EntityKind, key: str) -> tuple[str, ...]:
    if kind == "dataset":
        return _STRING_OPS + _LIST_OPS
    if kind == "metric" or key in _NUMERIC_ATTRIBUTES:
        return _NUMERIC_OPS + _NULL_OPS
    if kind == "attribute":
        return _STRING_OPS + _LIST_OPS + _NULL_OPS
    return _STRING_OPS + _NULL_OPS


def _describe(kind: EntityKind, key: str) -> str:
    if kind == "attribute":
        return f"the attribute '{key}'"
    if kind == "dataset":
        return f"the dataset field '{key}'"
    return f"{kind}s"


class _FilterParser:
    """Walks the tokens of one filter, one comparison at a time."""

    def __init__(self, text: str) -> None:
        self.source = _Source(text, "filter")
        self.tokens = self.source.tokens()
        self.peeked: _Token | None = None

    def next(self) -> _Token:
        token, self.peeked = self.peek(), None
        return token

    def peek(self) -> _Token:
        if self.peeked is None:
            self.peeked = next(self.tokens)
        return self.peeked

    def fail(self, token: _Token, detail: str, hint: str = "") -> NoReturn:
        self.source.fail(token.pos, f"{detail}, found {token.shown()}", hint)

    def parse(self) -> list[Comparison]:
        comparisons = [self.comparison()]
        while (token := self.next()).kind != "end":
            word = token.word()
            if word == "OR":
                self.source.fail(
                    token.pos,
                    "found 'or', but only AND is supported between comparisons",
                    "MLflow filters have no OR; run one search per alternative and merge them",
                )
            if word != "AND":
                self.fail(token, "expected 'and' or the end of the filter")
            if self.peek().kind == "end":
                self.source.fail(
                    token.pos,
                    "dangling 'and' with no comparison after it",
                    "add a comparison after it or remove it",
                )
            comparisons.append(self.comparison())
        return comparisons

    def comparison(self) -> Comparison:
        ident = self.next()
        kind, key = _resolve(self.source, ident)
        op_token = self.next()
        op = self.comparator(ident, op_token)
        allowed = _allowed_ops(kind, key)
        if op not in allowed:
            hint = f"use one of {', '.join(allowed)}"
            self.source.fail(
                op_token.pos,
                f"comparator '{op}' is not supported for {_describe(kind, key)}",
                hint,
            )
        if op in _NULL_OPS:
            return Comparison(kind, key, op, None)
        if op in _LIST_OPS:
            return Comparison(kind, key, op, self.string_list(op))
        if kind == "metric" or key in _NUMERIC_ATTRIBUTES:
            return Comparison(kind, key, op, self.number(kind, key))
        return Comparison(kind, key, op, self.string(kind, key))

    def comparator(self, ident: _Token, token: _Token) -> str:
        if token.kind == "op":
            if token.text in ("==", "<>"):
                better = "=" if token.text == "==" else "!="
                self.source.fail(token.pos, f"unknown comparator '{token.text}'", f"use {better}")
            return token.text
        word = token.word()
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            following = self.next()
            if following.word() != "IN":
                self.fail(following, "expected 'in' after 'not'")
            return "NOT IN"
        if word == "IS":
            following = self.next()
            negated = following.word() == "NOT"
            if negated:
                following = self.next()
            if following.word() != "NULL":
                self.fail(following, f"expected NULL after '{'IS NOT' if negated else 'IS'}'")
            return "IS NOT NULL" if negated else "IS NULL"
        self.fail(token, f"expected a comparator after {ident.shown()}")

    def number(self, kind: EntityKind, key: str) -> float:
        token = self.next()
        if token.kind == "number":
            if kind == "metric":
                return float(token.text)
            if _INTEGER.fullmatch(token.text):
                return int(token.text)
            self.fail(token, f"expected whole milliseconds since the epoch for '{key}'")
        subject = "metrics" if kind == "metric" else f"'{key}'"
        hint = "remove the quotes" if token.kind == "string" else ""
        self.fail(token, f"expected a number for {subject}", hint)

    def string(self, kind: EntityKind, key: str) -> str:
        token = self.next()
        if token.kind == "string":
            return token.value
        hint = ""
        if token.kind == "ident" and token.quoted:
            hint = "backticks quote keys; quote values with ' or \""
        elif token.kind in ("number", "ident"):
            example = f"{kind}s.{key}" if kind in ("param", "tag") else key
            hint = f"quote it: {example} = '{token.text}'"
        self.fail(token, f"expected a quoted string for {_describe(kind, key)}", hint)

    def string_list(self, op: str) -> tuple[str, ...]:
        opening = self.next()
        if opening.text != "(" or opening.kind != "punct":
            self.fail(opening, f"expected a list like ('a', 'b') after '{op}'")
        values: list[str] = []
        while True:
            token = self.next()
            if token.kind != "string":
                if not values and token.text == ")":
                    self.fail(token, f"'{op}' needs at least one value in its list")
                self.fail(token, "expected a quoted string in the list")
            values.append(token.value)
            separator = self.next()
            if separator.text == ")" and separator.kind == "punct":
                return tuple(values)
            if separator.text != "," or separator.kind != "punct":
                self.fail(separator, "expected ',' or ')' in the list")


def parse_filter(text: str | None) -> list[Comparison]:
    """Parse a run-search filter such as ``metrics.rmse < 0.3 and params.model = 'rf'``.

    Args:
        text: the filter; None, '' or only whitespace mean "no filter".

    Returns:
        The comparisons, in the order written; a run matches when all of them hold.

    Raises:
        SearchSyntaxError: the filter is malformed; the message points at the bad token.
    """
    if text is None or not text.strip():
        return []
    return _FilterParser(text).parse()


def _parse_one_order_by(clause: str) -> OrderBy:
    source = _Source(clause, "order_by clause")
    tokens = source.tokens()
    ident = next(tokens)
    if ident.kind == "end":
        source.fail(0, "the clause is empty", "write a key such as metrics.rmse DESC")
    kind, key = _resolve(source, ident)
    if kind == "dataset":
        source.fail(
            ident.pos,
            f"runs cannot be ordered by {ident.shown()}",
            "order by metrics, params, tags or run attributes",
        )
    direction = next(tokens)
    if direction.kind == "end":
        return OrderBy(kind, key, True)
    if direction.word() not in ("ASC", "DESC"):
        source.fail(
            direction.pos,
            f"expected ASC, DESC or the end after {ident.shown()}, found {direction.shown()}",
        )
    if (rest := next(tokens)).kind != "end":
        source.fail(rest.pos, f"expected the end of the clause, found {rest.shown()}")
    return OrderBy(kind, key, direction.word() == "ASC")


def parse_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """Parse order_by clauses such as ``["metrics.rmse", "attributes.start_time DESC"]``.

    Args:
        clauses: one clause per sort key, most significant first; a single string is
            taken as one clause.

    Returns:
        The sort keys, in the order given (ascending unless a clause says ``DESC``).

    Raises:
        SearchSyntaxError: a clause is malformed; the message points at the bad token.
    """
    if isinstance(clauses, str):
        clauses = [clauses]
    return [_parse_one_order_by(clause) for clause in clauses]


def encode_page_token(offset: int) -> str:
    """The opaque, URL-safe page token that resumes a search at ``offset``.

    Raises:
        InvalidInputError: ``offset`` is negative.
    """
    if offset < 0:
        raise InvalidInputError(f"a page offset cannot be negative, got {offset}")
    payload = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> int:
    """The offset a page token from :func:`encode_page_token` stands for.

    Args:
        token: a token from a previous page, or None/'' for the first page (offset 0).

    Raises:
        InvalidInputError: the token was not made by :func:`encode_page_token`.
    """
    if not token:
        return 0
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw)
        offset = payload["offset"] if isinstance(payload, dict) else None
        if type(offset) is not int or offset < 0:
            raise ValueError("the token does not hold a non-negative offset")
    except (binascii.Error, ValueError, KeyError) as exc:
        raise InvalidInputError(
            f"page token {token!r} is not one loopml issued; pass the next_page_token of the "
            "previous page unchanged, or no token for the first page"
        ) from exc
    return offset


def like_matcher(pattern: str, case: bool = True) -> Callable[[str], bool]:
    """A test of text against a SQL ``LIKE`` pattern (``ILIKE`` when not ``case``): ``%`` is
    any run of characters, ``_`` one character; everything else is literal."""
    import fnmatch

    glob = "".join(
        "*" if c == "%" else "?" if c == "_" else "[" + c + "]" if c in "[]*?" else c
        for c in pattern
    )
    if case:
        return lambda text: fnmatch.fnmatchcase(text, glob)
    return lambda text: fnmatch.fnmatchcase(text.lower(), glob.lower())
