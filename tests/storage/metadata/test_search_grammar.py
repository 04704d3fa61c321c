"""The run-search language: what parses to what, and what each mistake says.

Valid cases include the examples from MLflow's search documentation, since filters written
for MLflow must work unchanged.
"""

from __future__ import annotations

import base64
import json

import pytest

from loopml.errors import InvalidInputError, SearchSyntaxError
from loopml.storage.metadata.search import (
    Comparison,
    OrderBy,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)

M, P, T, A, D = "metric", "param", "tag", "attribute", "dataset"

VALID_FILTERS: list[tuple[str, list[Comparison]]] = [
    # MLflow's documented examples
    ("metrics.rmse < 1", [Comparison(M, "rmse", "<", 1.0)]),
    (
        "metrics.rmse < 1 and params.model = 'tree'",
        [Comparison(M, "rmse", "<", 1.0), Comparison(P, "model", "=", "tree")],
    ),
    ("metrics.accuracy > 0.72", [Comparison(M, "accuracy", ">", 0.72)]),
    (
        "metrics.accuracy > 0.72 AND metrics.loss <= 0.15",
        [Comparison(M, "accuracy", ">", 0.72), Comparison(M, "loss", "<=", 0.15)],
    ),
    ('params.batch_size = "2"', [Comparison(P, "batch_size", "=", "2")]),
    ("tags.task ILIKE '%classif%'", [Comparison(T, "task", "ILIKE", "%classif%")]),
    ("tags.`mlflow.source.type` = 'LOCAL'", [Comparison(T, "mlflow.source.type", "=", "LOCAL")]),
    ('tags."mlflow.user" = "alice"', [Comparison(T, "mlflow.user", "=", "alice")]),
    ("metrics.`f1 score` > 0.9", [Comparison(M, "f1 score", ">", 0.9)]),
    ('metrics."f1-score" >= 0.9', [Comparison(M, "f1-score", ">=", 0.9)]),
    ("attributes.status = 'FINISHED'", [Comparison(A, "status", "=", "FINISHED")]),
    ("attributes.run_name = 'my-run'", [Comparison(A, "run_name", "=", "my-run")]),
    ("attributes.artifact_uri LIKE 's3://%'", [Comparison(A, "artifact_uri", "LIKE", "s3://%")]),
    ("attributes.start_time >= 1664067852747", [Comparison(A, "start_time", ">=", 1664067852747)]),
    ("attributes.created > 1664067852747", [Comparison(A, "start_time", ">", 1664067852747)]),
    ("attributes.`Run name` = 'x'", [Comparison(A, "run_name", "=", "x")]),
    ("attributes.run_id IN ('a1b2', 'c3d4')", [Comparison(A, "run_id", "IN", ("a1b2", "c3d4"))]),
    ("attributes.run_id NOT IN ('a1b2')", [Comparison(A, "run_id", "NOT IN", ("a1b2",))]),
    ("datasets.name LIKE 'iris%'", [Comparison(D, "name", "LIKE", "iris%")]),
    ("datasets.digest IN ('d1', 'd2')", [Comparison(D, "digest", "IN", ("d1", "d2"))]),
    ("datasets.context = 'training'", [Comparison(D, "context", "=", "training")]),
    # unquoted keys keep their dots: the key is everything after the first dot
    ("tags.mlflow.runName = 'x'", [Comparison(T, "mlflow.runName", "=", "x")]),
    ("params.model.lr = '0.1'", [Comparison(P, "model.lr", "=", "0.1")]),
    # every prefix alias MLflow accepts
    ("metric.a = 1", [Comparison(M, "a", "=", 1.0)]),
    ("param.a = 'x'", [Comparison(P, "a", "=", "x")]),
    ("parameter.a = 'x'", [Comparison(P, "a", "=", "x")]),
    ("parameters.a = 'x'", [Comparison(P, "a", "=", "x")]),
    ("tag.a = 'x'", [Comparison(T, "a", "=", "x")]),
    ("attribute.status = 'x'", [Comparison(A, "status", "=", "x")]),
    ("attr.status = 'x'", [Comparison(A, "status", "=", "x")]),
    ("run.status = 'x'", [Comparison(A, "status", "=", "x")]),
    ("dataset.name = 'x'", [Comparison(D, "name", "=", "x")]),
    ("`metrics`.a = 1", [Comparison(M, "a", "=", 1.0)]),
    # bare attribute names, and their aliases
    ("run_id = 'abc'", [Comparison(A, "run_id", "=", "abc")]),
    ("run_name = 'a'", [Comparison(A, "run_name", "=", "a")]),
    ("status != 'FAILED'", [Comparison(A, "status", "!=", "FAILED")]),
    ("user_id = 'bob'", [Comparison(A, "user_id", "=", "bob")]),
    ("end_time < 5", [Comparison(A, "end_time", "<", 5)]),
    ("Created < 5", [Comparison(A, "start_time", "<", 5)]),
    ("`Run Name` ILIKE 'x%'", [Comparison(A, "run_name", "ILIKE", "x%")]),
    # numbers in any float syntax
    ("metrics.a = -1", [Comparison(M, "a", "=", -1.0)]),
    ("metrics.a > +2.5", [Comparison(M, "a", ">", 2.5)]),
    ("metrics.a > .5", [Comparison(M, "a", ">", 0.5)]),
    ("metrics.a > 1.", [Comparison(M, "a", ">", 1.0)]),
    ("metrics.a < 1e-3", [Comparison(M, "a", "<", 0.001)]),
    ("metrics.a < -2.5E+3", [Comparison(M, "a", "<", -2500.0)]),
    ("start_time > -1", [Comparison(A, "start_time", ">", -1)]),
    # every comparator, keywords in any case, spacing optional around symbols
    ("metrics.a!=1", [Comparison(M, "a", "!=", 1.0)]),
    (
        "metrics.a>=1 and metrics.b<=2",
        [Comparison(M, "a", ">=", 1.0), Comparison(M, "b", "<=", 2.0)],
    ),
    (
        "params.a like 'x%' AnD tags.b ilike 'Y'",
        [Comparison(P, "a", "LIKE", "x%"), Comparison(T, "b", "ILIKE", "Y")],
    ),
    ("run_id not in ('a')", [Comparison(A, "run_id", "NOT IN", ("a",))]),
    ("run_id IN('a','b')", [Comparison(A, "run_id", "IN", ("a", "b"))]),
    (
        "  metrics.a  >\t1\n and\nparams.b = 'c'  ",
        [Comparison(M, "a", ">", 1.0), Comparison(P, "b", "=", "c")],
    ),
    # string values: either quote, doubled quotes escape, keywords inside are plain text
    ("params.a = 'it''s'", [Comparison(P, "a", "=", "it's")]),
    ('params.a = "say ""hi"""', [Comparison(P, "a", "=", 'say "hi"')]),
    ('params.a = "it\'s"', [Comparison(P, "a", "=", "it's")]),
    ("params.a = ''", [Comparison(P, "a", "=", "")]),
    ("params.a = 'x and y or z'", [Comparison(P, "a", "=", "x and y or z")]),
    ("tags.`a``b` = 'x'", [Comparison(T, "a`b", "=", "x")]),
    ("params.名前 = 'x'", [Comparison(P, "名前", "=", "x")]),
    # beyond MLflow: null tests, and IN lists on every string attribute
    ("tags.owner IS NULL", [Comparison(T, "owner", "IS NULL", None)]),
    ("params.lr is not null", [Comparison(P, "lr", "IS NOT NULL", None)]),
    ("metrics.auc IS NOT NULL", [Comparison(M, "auc", "IS NOT NULL", None)]),
    ("end_time IS NULL", [Comparison(A, "end_time", "IS NULL", None)]),
    (
        "status IN ('FAILED', 'KILLED')",
        [Comparison(A, "status", "IN", ("FAILED", "KILLED"))],
    ),
    ("attributes.run_name NOT IN ('x')", [Comparison(A, "run_name", "NOT IN", ("x",))]),
    (
        "tags.owner IS NULL and metrics.a > 1",
        [Comparison(T, "owner", "IS NULL", None), Comparison(M, "a", ">", 1.0)],
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID_FILTERS)
def test_valid_filters_parse(text: str, expected: list[Comparison]) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_an_empty_filter_has_no_comparisons(text: str | None) -> None:
    assert parse_filter(text) == []


def test_numeric_attribute_values_are_integers_and_metric_values_floats() -> None:
    start, metric = parse_filter("start_time > 12 and metrics.a > 12")
    assert type(start.value) is int
    assert type(metric.value) is float


# (filter, fragments the message must contain, position of the caret)
INVALID_FILTERS: list[tuple[str, list[str], int]] = [
    (
        "metrics.rmse 0.3",
        ["expected a comparator after 'metrics.rmse', found '0.3' at position 13"],
        13,
    ),
    (
        "metric_x.rmse > 1",
        ["unknown prefix 'metric_x'", "metrics., params., tags., attributes. or datasets."],
        0,
    ),
    ("metrcs.rmse > 1", ["unknown prefix 'metrcs'", "did you mean 'metrics.'"], 0),
    ("metrics.rmse > '0.3'", ["expected a number for metrics", "'0.3'", "remove the quotes"], 15),
    ("metrics.rmse > abc", ["expected a number for metrics", "'abc'"], 15),
    ("metrics.rmse > NaN", ["expected a number for metrics", "'NaN'"], 15),
    (
        "params.lr = 0.01",
        ["expected a quoted string for params", "quote it: params.lr = '0.01'"],
        12,
    ),
    ("tags.env = prod", ["expected a quoted string for tags", "quote it: tags.env = 'prod'"], 11),
    ("params.x = `a`", ["expected a quoted string", "backticks quote keys"], 11),
    ("params.x = 'abc", ["unterminated string", "position 11"], 11),
    ('params.x = "abc', ["unterminated string", "position 11"], 11),
    ("tags.`abc = 'x'", ["unterminated quoted key", "position 5"], 5),
    ("`status = 'x'", ["unterminated quoted name"], 0),
    ("metrics. > 1", ["empty key after 'metrics.'"], 8),
    ("metrics.`` > 1", ["empty key after 'metrics.``'"], 10),
    ("params.x < '3'", ["comparator '<' is not supported for params", "=, !=, LIKE, ILIKE"], 9),
    ("metrics.x LIKE '1'", ["comparator 'LIKE' is not supported for metrics"], 10),
    ("metrics.x IN ('1')", ["comparator 'IN' is not supported for metrics"], 10),
    (
        "start_time LIKE '1'",
        ["comparator 'LIKE' is not supported for the attribute 'start_time'"],
        11,
    ),
    ("run_id > 'a'", ["comparator '>' is not supported for the attribute 'run_id'"], 7),
    (
        "datasets.name IS NULL",
        ["comparator 'IS NULL' is not supported for the dataset field 'name'"],
        14,
    ),
    ("metrics.x == 1", ["unknown comparator '=='", "use ="], 10),
    ("metrics.x <> 1", ["unknown comparator '<>'", "use !="], 10),
    ("tags.x IS 'a'", ["expected NULL after 'IS', found \"'a'\""], 10),
    ("tags.x IS NOT 'a'", ["expected NULL after 'IS NOT'"], 14),
    ("tags.x IS", ["expected NULL after 'IS', found the end of the filter"], 9),
    ("tags.x NOT LIKE 'a'", ["expected 'in' after 'not', found 'LIKE'"], 11),
    ("metrics.x > 1 garbage", ["expected 'and' or the end of the filter, found 'garbage'"], 14),
    ("metrics.x > 1 metrics.y > 2", ["expected 'and'", "found 'metrics.y'"], 14),
    ("metrics.x > 1 and", ["dangling 'and'"], 14),
    ("metrics.x > 1 AND  ", ["dangling 'and'"], 14),
    ("and metrics.x > 1", ["expected an identifier", "found 'and'"], 0),
    ("metrics.x > 1 and and metrics.y > 1", ["expected an identifier", "found 'and'"], 18),
    ("metrics.a > 1 or metrics.b > 2", ["found 'or'", "only AND is supported"], 14),
    ("metrics.a > 1 OR metrics.b > 2", ["only AND is supported"], 14),
    (
        "(metrics.a > 1)",
        ["expected an identifier", "found '('", "parentheses are not supported"],
        0,
    ),
    ("run_id IN ()", ["'IN' needs at least one value", "found ')'"], 11),
    ("run_id NOT IN ()", ["'NOT IN' needs at least one value"], 15),
    ("run_id IN ('a',)", ["expected a quoted string in the list, found ')'"], 15),
    ("run_id IN ('a' 'b')", ["expected ',' or ')' in the list, found \"'b'\""], 15),
    ("run_id IN ('a', 1)", ["expected a quoted string in the list, found '1'"], 16),
    ("run_id IN ('a'", ["expected ',' or ')'", "found the end of the filter"], 14),
    ("run_id IN 'a'", ["expected a list like ('a', 'b') after 'IN'"], 10),
    ("run_id = ('a')", ["expected a quoted string for the attribute 'run_id', found '('"], 9),
    ("foo = 'x'", ["unknown run attribute 'foo'", "run_id", "metrics.foo"], 0),
    ("attributes.foo = 'x'", ["unknown run attribute 'foo'", "start_time"], 0),
    ("lifecycle_stage = 'active'", ["unknown run attribute 'lifecycle_stage'"], 0),
    ("datasets.size = 'x'", ["unknown dataset field 'size'", "datasets.digest"], 0),
    ("datasets.name = 1", ["expected a quoted string for the dataset field 'name'"], 16),
    ("start_time > 1.5", ["expected whole milliseconds", "'start_time'", "'1.5'"], 13),
    ("start_time > '5'", ["expected a number for 'start_time'", "remove the quotes"], 13),
    ("metrics.f1-score > 1", ["unexpected character '-'", "quote keys"], 10),
    ("metrics.a > 1.2.3", ["malformed number starting '1.2'"], 12),
    ("metrics.a > 1x", ["malformed number starting '1'"], 12),
    ("metrics.a ~ 1", ["unexpected character '~'"], 10),
    ("metrics.a > 1 ;", ["unexpected character ';'"], 14),
    ("metrics.a", ["expected a comparator after 'metrics.a', found the end of the filter"], 9),
    ("metrics.a >", ["expected a number for metrics, found the end of the filter"], 11),
    ("'x' = params.a", ["expected an identifier", "found \"'x'\""], 0),
    ("1 = metrics.a", ["expected an identifier", "found '1'"], 0),
]


@pytest.mark.parametrize(("text", "fragments", "position"), INVALID_FILTERS)
def test_invalid_filters_point_at_the_offending_token(
    text: str, fragments: list[str], position: int
) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    first, shown, caret = message.split("\n")
    assert first.startswith("invalid filter: ")
    assert f"at position {position}" in first
    assert shown == "  " + text
    assert caret == "  " + " " * position + "^"


def test_error_message_matches_the_documented_shape() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter("metrics.rmse 0.3")
    assert str(caught.value) == (
        "invalid filter: expected a comparator after 'metrics.rmse', found '0.3' at position 13\n"
        "  metrics.rmse 0.3\n"
        "               ^"
    )


def test_a_syntax_error_is_a_bad_input_error_for_the_server_and_cli() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filter("metrics.a >")
    assert caught.value.http_status == 400
    assert caught.value.to_dict()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_leftmost_mistake_is_reported_first() -> None:
    with pytest.raises(SearchSyntaxError, match="unknown prefix 'bad'"):
        parse_filter("bad.x > 1 and params.y = 'unterminated")


def test_a_multiline_filter_is_shown_on_one_line_with_the_caret_aligned() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_filter("metrics.a > 1\nand\tmetrics.b ~ 2")
    _, shown, caret = str(caught.value).split("\n")
    assert shown == "  metrics.a > 1 and metrics.b ~ 2"
    assert shown[caret.index("^")] == "~"


VALID_ORDER_BY: list[tuple[list[str], list[OrderBy]]] = [
    (["metrics.rmse"], [OrderBy(M, "rmse", True)]),
    (["metrics.rmse ASC"], [OrderBy(M, "rmse", True)]),
    (["metrics.rmse asc"], [OrderBy(M, "rmse", True)]),
    (["params.lr DESC"], [OrderBy(P, "lr", False)]),
    (["params.lr desc"], [OrderBy(P, "lr", False)]),
    (["attributes.start_time DESC"], [OrderBy(A, "start_time", False)]),
    (["start_time"], [OrderBy(A, "start_time", True)]),
    (["created DESC"], [OrderBy(A, "start_time", False)]),
    (["attr.run_name"], [OrderBy(A, "run_name", True)]),
    (["tags.x"], [OrderBy(T, "x", True)]),
    (["tags.mlflow.runName DESC"], [OrderBy(T, "mlflow.runName", False)]),
    (["metrics.`my metric` DESC"], [OrderBy(M, "my metric", False)]),
    (['metrics."val-loss"'], [OrderBy(M, "val-loss", True)]),
    (["  metrics.a   DESC  "], [OrderBy(M, "a", False)]),
    (
        ["metrics.rmse", "params.lr DESC", "end_time"],
        [OrderBy(M, "rmse", True), OrderBy(P, "lr", False), OrderBy(A, "end_time", True)],
    ),
    ([], []),
]


@pytest.mark.parametrize(("clauses", "expected"), VALID_ORDER_BY)
def test_valid_order_by_clauses_parse(clauses: list[str], expected: list[OrderBy]) -> None:
    assert parse_order_by(clauses) == expected


def test_a_single_order_by_string_is_one_clause() -> None:
    assert parse_order_by("metrics.rmse DESC") == [OrderBy(M, "rmse", False)]


INVALID_ORDER_BY: list[tuple[str, list[str], int]] = [
    ("", ["the clause is empty"], 0),
    ("metrics.rmse up", ["expected ASC, DESC or the end after 'metrics.rmse', found 'up'"], 13),
    ("metrics.rmse DESC x", ["expected the end of the clause, found 'x'"], 18),
    ("metrics.rmse, params.lr", ["expected ASC, DESC", "found ','"], 12),
    ("metric_x.rmse", ["unknown prefix 'metric_x'"], 0),
    ("foo DESC", ["unknown run attribute 'foo'"], 0),
    ("datasets.name", ["runs cannot be ordered by 'datasets.name'"], 0),
    ("metrics.", ["empty key after 'metrics.'"], 8),
    ("metrics.`a b DESC", ["unterminated quoted key"], 8),
    ("DESC", ["expected an identifier", "found 'DESC'"], 0),
    ("'q'", ["expected an identifier", "found \"'q'\""], 0),
]


@pytest.mark.parametrize(("clause", "fragments", "position"), INVALID_ORDER_BY)
def test_invalid_order_by_points_at_the_offending_token(
    clause: str, fragments: list[str], position: int
) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_order_by(["metrics.ok", clause])
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    first, shown, caret = message.split("\n")
    assert first.startswith("invalid order_by clause: ")
    assert f"at position {position}" in first
    assert shown == "  " + clause
    assert caret == "  " + " " * position + "^"


@pytest.mark.parametrize("offset", [0, 1, 100, 10**12])
def test_page_tokens_round_trip(offset: int) -> None:
    token = encode_page_token(offset)
    assert decode_page_token(token) == offset
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("token", [None, ""])
def test_no_page_token_means_the_first_page(token: str | None) -> None:
    assert decode_page_token(token) == 0


def _forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "!!!",
        "not a token",
        "é",
        encode_page_token(5)[:-3] + "!!!",
        _forge({"offset": -1}),
        _forge({"offset": True}),
        _forge({"offset": "5"}),
        _forge({"offset": 1.5}),
        _forge({"start": 5}),
        _forge([5]),
        _forge(None),
    ],
)
def test_a_foreign_page_token_is_rejected(token: str) -> None:
    with pytest.raises(InvalidInputError, match="not one loopml issued") as caught:
        decode_page_token(token)
    assert caught.value.__cause__ is not None


def test_a_negative_offset_cannot_be_encoded() -> None:
    with pytest.raises(InvalidInputError, match="negative"):
        encode_page_token(-1)
