"""The SOQL subset the ingest sources send, evaluated over lists of records.

`SELECT f, Rel.f FROM Object [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n]` where a condition compares a field with a literal (=, !=, <, >, <=, >=, IN (...)),
combined with AND / OR and parentheses. Anything else is rejected with Salesforce's
MALFORMED_QUERY error, so a source that drifts outside what Salesforce accepts fails here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.timeparse import parse_iso

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*|[0-9][0-9T:.+\-Z]*))"
)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "AND", "OR", "IN", "ASC", "DESC",
             "NULLS", "FIRST", "LAST", "NULL", "TRUE", "FALSE"}  # fmt: skip


class MalformedQuery(Exception):
    pass


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Any = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # field, desc, nulls_first
    limit: int | None = None


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip() == "":
                break
            raise MalformedQuery(f"unexpected token at {text[position : position + 20]!r}")
        tokens.append(match.group(match.lastgroup))  # type: ignore[arg-type]
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected and token.upper() != expected):
            raise MalformedQuery(f"expected {expected or 'more'} but found {token!r}")
        self.position += 1
        return token

    def parse(self) -> Query:
        self.take("SELECT")
        fields = [self.take()]
        while self.peek() == ",":
            self.take(",")
            fields.append(self.take())
        self.take("FROM")
        query = Query(fields=fields, sobject=self.take())
        if (self.peek() or "").upper() == "WHERE":
            self.take("WHERE")
            query.where = self.disjunction()
        if (self.peek() or "").upper() == "ORDER":
            self.take("ORDER")
            self.take("BY")
            query.order.append(self.order_item())
            while self.peek() == ",":
                self.take(",")
                query.order.append(self.order_item())
        if (self.peek() or "").upper() == "LIMIT":
            self.take("LIMIT")
            query.limit = int(self.take())
        if self.peek() is not None:
            raise MalformedQuery(f"unexpected {self.peek()!r}")
        return query

    def order_item(self) -> tuple[str, bool, bool]:
        name, desc = self.take(), False
        if (self.peek() or "").upper() in ("ASC", "DESC"):
            desc = self.take().upper() == "DESC"
        nulls_first = not desc
        if (self.peek() or "").upper() == "NULLS":
            self.take("NULLS")
            nulls_first = self.take().upper() == "FIRST"
        return name, desc, nulls_first

    def disjunction(self) -> Any:
        node = self.conjunction()
        while (self.peek() or "").upper() == "OR":
            self.take("OR")
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.atom()
        while (self.peek() or "").upper() == "AND":
            self.take("AND")
            node = ("and", node, self.atom())
        return node

    def atom(self) -> Any:
        if self.peek() == "(":
            self.take("(")
            node = self.disjunction()
            self.take(")")
            return node
        name = self.take()
        if name.upper() in _KEYWORDS:
            raise MalformedQuery(f"expected a field, found {name!r}")
        if (self.peek() or "").upper() == "IN":
            self.take("IN")
            self.take("(")
            values = [self.literal()]
            while self.peek() == ",":
                self.take(",")
                values.append(self.literal())
            self.take(")")
            return ("in", name, values)
        op = self.take()
        if op not in ("=", "!=", "<>", "<", ">", "<=", ">="):
            raise MalformedQuery(f"unknown operator {op!r}")
        return ("cmp", name, "!=" if op == "<>" else op, self.literal())

    def literal(self) -> Any:
        token = self.take()
        if token.startswith("'"):
            return token[1:-1].replace("\\'", "'")
        upper = token.upper()
        if upper == "NULL":
            return None
        if upper in ("TRUE", "FALSE"):
            return upper == "TRUE"
        if re.match(r"^\d{4}-\d{2}-\d{2}T", token):
            return parse_iso(token)
        try:
            return float(token) if "." in token else int(token)
        except ValueError:
            raise MalformedQuery(f"unknown literal {token!r}") from None


def parse(text: str) -> Query:
    return _Parser(text).parse()


def value_of(record: dict[str, Any], name: str) -> Any:
    current: Any = record
    for part in name.split("."):
        if not isinstance(current, dict):
            return None
        current = next((v for k, v in current.items() if k.lower() == part.lower()), None)
    if isinstance(current, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", current):
        return parse_iso(current)
    return current


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return (
            (left is None) == (right is None)
            if op == "="
            else ((left is None) != (right is None) if op == "!=" else False)
        )
    if isinstance(left, datetime) != isinstance(right, datetime):
        return False
    return {
        "=": left == right, "!=": left != right, "<": left < right, ">": left > right,
        "<=": left <= right, ">=": left >= right,
    }[op]  # fmt: skip


def matches(record: dict[str, Any], node: Any) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "and":
        return matches(record, node[1]) and matches(record, node[2])
    if kind == "or":
        return matches(record, node[1]) or matches(record, node[2])
    if kind == "in":
        return value_of(record, node[1]) in node[2]
    return _compare(value_of(record, node[1]), node[2], node[3])


def where_fields(node: Any) -> set[str]:
    if node is None:
        return set()
    if node[0] in ("and", "or"):
        return where_fields(node[1]) | where_fields(node[2])
    return {node[1]}


def run(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    selected = [r for r in records if matches(r, query.where)]
    for name, desc, nulls_first in reversed(query.order):
        present = [r for r in selected if value_of(r, name) is not None]
        missing = [r for r in selected if value_of(r, name) is None]
        present.sort(key=lambda r: value_of(r, name), reverse=desc)
        selected = missing + present if nulls_first else present + missing
    if query.limit is not None:
        selected = selected[: query.limit]
    return [project(record, query) for record in selected]


def project(record: dict[str, Any], query: Query) -> dict[str, Any]:
    """The record as the REST API returns it: attributes, then the selected fields."""
    out: dict[str, Any] = {"attributes": record.get("attributes", {"type": query.sobject})}
    for name in query.fields:
        head, _, tail = name.partition(".")
        key = next((k for k in record if k.lower() == head.lower()), head)
        if not tail:
            out[key] = record.get(key)
            continue
        related = record.get(key)
        if related is None:
            out[key] = None
            continue
        target = out.setdefault(key, {"attributes": related.get("attributes", {})})
        sub = next((k for k in related if k.lower() == tail.lower()), tail)
        target[sub] = related.get(sub)
    return out


def check_login_event_filter(where: Any) -> None:
    """LoginEvent (a big object) takes EventDate, or EventDate then EventIdentifier, ANDed, with
    a comparison operator on the last expression only and `!=` never (platform events guide,
    "LoginEvent"). Raises MalformedQuery otherwise."""
    if where_fields(where) - {"EventDate", "EventIdentifier"}:
        raise MalformedQuery("LoginEvent can only be filtered on EventDate")
    expressions: list[Any] = []

    def flatten(node: Any) -> None:
        if node is None:
            return
        if node[0] == "or":
            raise MalformedQuery("OR is not supported on LoginEvent filters")
        if node[0] == "and":
            flatten(node[1])
            flatten(node[2])
        else:
            expressions.append(node)

    flatten(where)
    for position, node in enumerate(expressions):
        operator = node[2] if node[0] == "cmp" else "in"
        last = position == len(expressions) - 1
        if operator in ("!=", "in") or (operator != "=" and not last):
            raise MalformedQuery(
                "LoginEvent: comparison operators are only supported on the last expression "
                "of the WHERE clause"
            )
