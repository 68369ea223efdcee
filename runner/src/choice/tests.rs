//! Tests of the `choice` module.

use super::*;
use crate::paths::tests::TestEnv;
use serde_json::json;

fn rule(value: Value) -> Rule {
    let mut diag = Diag::default();
    let choices = parse_choices(&mut diag, "C", &json!([value]));
    assert!(diag.errors.is_empty(), "{:?}", diag.errors);
    choices.into_iter().next().expect("one rule").rule
}

fn eval(value: Value, input: &Value) -> Result<bool, String> {
    let env = TestEnv(json!({"State": {"Name": "C"}}));
    rule(value).eval(Data { input, env: &env })
}

fn yes(value: Value, input: &Value) -> bool {
    eval(value, input).expect("evaluates")
}

#[test]
fn comparison_operators() {
    let input = json!({"s": "b", "n": 5, "f": 2.5, "t": true, "ts": "2024-01-02T00:00:00Z",
                       "other": "b", "five": 5, "later": "2024-01-03T00:00:00+01:00", "sn": "5"});
    let cases = [
        (
            json!({"Variable": "$.s", "StringEquals": "b", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringLessThan": "c", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThan": "c", "Next": "X"}),
            false,
        ),
        (
            json!({"Variable": "$.s", "StringLessThanEquals": "b", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringGreaterThanEquals": "a", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "StringEqualsPath": "$.other", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericEquals": 5.0, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.f", "NumericLessThan": 3, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.five", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "NumericGreaterThanPath": "$.f", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.sn", "NumericEquals": 5, "Next": "X"}),
            false,
        ),
        (
            json!({"Variable": "$.t", "BooleanEquals": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.t", "BooleanEqualsPath": "$.t", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.ts", "TimestampEquals": "2024-01-02T01:00:00+01:00", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.ts", "TimestampLessThan": "2024-01-03T00:00:00Z", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.ts", "TimestampGreaterThanEquals": "2024-01-02T00:00:00Z", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.ts", "TimestampLessThanPath": "$.later", "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "TimestampEquals": "2024-01-02T00:00:00Z", "Next": "X"}),
            false,
        ),
        (
            json!({"Variable": "$.n", "StringEquals": "5", "Next": "X"}),
            false,
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(yes(rule.clone(), &input), expected, "{rule}");
    }
}

#[test]
fn type_tests_and_presence() {
    let input = json!({"nil": null, "n": 1, "s": "x", "b": false, "ts": "2024-01-02T00:00:00Z", "list": []});
    let cases = [
        (
            json!({"Variable": "$.nil", "IsNull": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "IsNull": false, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "IsNumeric": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "IsString": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.b", "IsBoolean": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.ts", "IsTimestamp": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.s", "IsTimestamp": false, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.missing", "IsPresent": false, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.n", "IsPresent": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.nil", "IsPresent": true, "Next": "X"}),
            true,
        ),
        (
            json!({"Variable": "$.list[*]", "IsPresent": false, "Next": "X"}),
            true,
        ),
    ];
    for (rule, expected) in cases {
        assert_eq!(yes(rule.clone(), &input), expected, "{rule}");
    }
}

#[test]
fn boolean_combinators() {
    let input = json!({"a": 1, "b": "x"});
    let rule = json!({"And": [
        {"Variable": "$.a", "NumericEquals": 1},
        {"Or": [{"Variable": "$.b", "StringEquals": "y"}, {"Not": {"Variable": "$.b", "StringEquals": "z"}}]}
    ], "Next": "X"});
    assert!(yes(rule, &input));
    let rule = json!({"Not": {"Variable": "$.a", "NumericEquals": 1}, "Next": "X"});
    assert!(!yes(rule, &input));
}

#[test]
fn string_matches_wildcards_and_escapes() {
    assert!(matches_pattern("log-2024.txt", "log-*.txt"));
    assert!(matches_pattern("anything", "*"));
    assert!(matches_pattern("a*b", r"a\*b"));
    assert!(!matches_pattern("axb", r"a\*b"));
    assert!(matches_pattern(r"a\b", r"a\\b"));
    assert!(matches_pattern("abcbd", "a*b*d"));
    assert!(!matches_pattern("abc", "a*d"));
    assert!(matches_pattern("", "*"));
    let input = json!({"f": "foo.log"});
    assert!(yes(
        json!({"Variable": "$.f", "StringMatches": "*.log", "Next": "X"}),
        &input
    ));
}

#[test]
fn missing_variable_is_a_runtime_error() {
    let err = eval(
        json!({"Variable": "$.nope", "StringEquals": "x", "Next": "X"}),
        &json!({}),
    )
    .expect_err("missing");
    assert!(err.contains("Invalid path '$.nope'"), "{err}");
    assert!(
        eval(
            json!({"Variable": "$.a", "StringEqualsPath": "$.nope", "Next": "X"}),
            &json!({"a": "x"})
        )
        .is_err()
    );
}

#[test]
fn bad_rules_are_reported_at_load() {
    let mut diag = Diag::default();
    parse_choices(
        &mut diag,
        "C",
        &json!([
            {"Variable": "$.a", "NumericEquals": "5", "Next": "X"},
            {"Variable": "$.a", "StringEquals": "x", "BooleanEquals": true, "Next": "X"},
            {"Variable": "$.a", "StringEquals": "x"},
            {"Variable": "$.a", "TimestampEquals": "not a time", "Next": "X"},
            {"Variable": "$.a", "StringEquals": "x", "Next": "X", "Bogus": 1},
            {"Not": {"Variable": "$.a", "StringEquals": "x", "Next": "Y"}, "Next": "X"},
            {"Condition": "{% true %}", "Next": "X"}
        ]),
    );
    let text: Vec<String> = diag.errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(
        all.contains("Choices[0].NumericEquals': must be a number"),
        "{all}"
    );
    assert!(all.contains("exactly one operator"), "{all}");
    assert!(all.contains("needs 'Next'"), "{all}");
    assert!(all.contains("Choices[3].TimestampEquals"), "{all}");
    assert!(all.contains("Choices[4].Bogus"), "{all}");
    assert!(all.contains("Choices[5].Not.Next"), "{all}");
    assert!(all.contains("Choices[6].Condition"), "{all}");
}
