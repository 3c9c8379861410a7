"""schemas/openapi.yaml's own completeness: every operation has an operationId, a summary and
an example of its own (the success response's, and the request body's where it takes one), and
every example in the file validates against the schema beside it. No services needed."""
import jsonschema
import pytest

from test_openapi import RESOLVER, SPEC, deref, to_json_schema

METHODS = ("get", "post", "put", "patch", "delete")


def operations():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", op


def success(op):
    """The operation's 2xx responses, as written in the operation (a $ref to a shared response
    would give every operation that uses it the same example)."""
    return {status: r for status, r in op["responses"].items() if status.startswith("2")}


def media_examples(node):
    """(media type, schema, example) of a request body or response written inline."""
    for media, m in node.get("content", {}).items():
        for name, value in ([("example", m["example"])] if "example" in m else []) + \
                [(n, e.get("value")) for n, e in m.get("examples", {}).items()]:
            yield media, m.get("schema", {}), value


OPS = dict(operations())


@pytest.mark.parametrize("key", sorted(OPS))
def test_every_operation_has_id_summary_and_examples(key):
    op = OPS[key]
    assert op.get("operationId"), f"{key}: no operationId"
    assert op.get("summary", "").strip(), f"{key}: no summary"
    responses = success(op)
    assert responses, f"{key}: no 2xx response"
    for status, r in responses.items():
        assert "$ref" not in r, f"{key} {status}: a shared response; write it in the operation"
        assert list(media_examples(r)), f"{key} {status}: no response example"
    if "requestBody" in op:
        body = op["requestBody"]
        assert "$ref" not in body, f"{key}: a shared request body; write it in the operation"
        assert list(media_examples(body)), f"{key}: no request example"


def all_examples():
    for key, op in OPS.items():
        for status, r in success(op).items():
            for media, schema, value in media_examples(r):
                yield f"{key} {status} {media}", schema, value
        if "requestBody" in op:
            for media, schema, value in media_examples(op["requestBody"]):
                yield f"{key} request {media}", schema, value


EXAMPLES = {name: (schema, value) for name, schema, value in all_examples()}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_validate_against_their_schemas(name):
    schema, value = EXAMPLES[name]
    jsonschema.Draft7Validator(deref(to_json_schema(schema)), resolver=RESOLVER).validate(value)


def test_the_check_can_fail():
    """The validation above refuses an example that breaks its schema (the test is not empty)."""
    schema, value = EXAMPLES["GET /v3/callers/{user_id}/context 200 application/json"]
    broken = dict(value, known="yes")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(deref(to_json_schema(schema)), resolver=RESOLVER).validate(broken)
    assert len(EXAMPLES) >= len(OPS)
