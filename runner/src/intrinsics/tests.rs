//! Tests of the `intrinsics` module.

use super::*;
use crate::paths::tests::TestEnv;
use serde_json::json;

fn eval(text: &str, input: Value) -> Result<Value, String> {
    let env = TestEnv(json!({"Execution": {"Name": "run-1"}}));
    Intrinsic::parse(text)?.eval(Data {
        input: &input,
        env: &env,
    })
}

fn ok(text: &str, input: Value) -> Value {
    eval(text, input).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn format_and_escapes() {
    let input = json!({"name": "Arnav", "template": "Hello, my name is {}.", "n": 3, "b": true});
    assert_eq!(
        ok(
            "States.Format('Hello, my name is {}.', $.name)",
            input.clone()
        ),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        ok("States.Format($.template, $.name)", input.clone()),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        ok(
            "States.Format('{} {} {}', $.n, $.b, $$.Execution.Name)",
            input.clone()
        ),
        json!("3 true run-1")
    );
    assert_eq!(
        ok(
            r"States.Format('it\'s \{literal\} \\ {}', 'x')",
            input.clone()
        ),
        json!(r"it's {literal} \ x")
    );
    assert!(Intrinsic::parse("States.Format('{} {}', 'x')").is_err());
    assert!(Intrinsic::parse(r"States.Format('bad \n')").is_err());
    assert!(Intrinsic::parse("States.Format('a { b')").is_err());
    assert!(eval("States.Format('{}', $.obj)", json!({"obj": {"a": 1}})).is_err());
}

#[test]
fn backslashes_in_results_are_kept() {
    let input = json!({"o": {"a": "x\"y\\z"}, "s": "a\\b,c"});
    assert_eq!(
        ok("States.JsonToString($.o)", input.clone()),
        json!("{\"a\":\"x\\\"y\\\\z\"}")
    );
    assert_eq!(
        ok("States.StringSplit($.s, ',')", input.clone()),
        json!(["a\\b", "c"])
    );
    assert_eq!(ok(r"States.Format('{}\\', $.s)", input), json!("a\\b,c\\"));
}

#[test]
fn json_conversions() {
    let input = json!({"s": "{\"foo\": \"bar\"}", "o": {"foo": "bar"}, "e": ""});
    assert_eq!(
        ok("States.StringToJson($.s)", input.clone()),
        json!({"foo": "bar"})
    );
    assert_eq!(ok("States.StringToJson($.e)", input.clone()), Value::Null);
    assert_eq!(
        ok("States.JsonToString($.o)", input.clone()),
        json!("{\"foo\":\"bar\"}")
    );
    assert!(eval("States.StringToJson('{nope')", json!({})).is_err());
}

#[test]
fn arrays() {
    let input = json!({"a": [1, 2, 2, 3, 1.0], "id": 123456});
    assert_eq!(
        ok(
            "States.Array($.id, 'x', 1.5, true, null, States.Array())",
            input.clone()
        ),
        json!([123456, "x", 1.5, true, null, []])
    );
    assert_eq!(
        ok(
            "States.ArrayPartition(States.Array(1,2,3,4,5), 2)",
            json!({})
        ),
        json!([[1, 2], [3, 4], [5]])
    );
    assert!(eval("States.ArrayPartition($.a, 0)", input.clone()).is_err());
    assert_eq!(
        ok("States.ArrayContains($.a, 3)", input.clone()),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains($.a, 9)", input.clone()),
        json!(false)
    );
    assert_eq!(
        ok("States.ArrayRange(1, 9, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    assert_eq!(
        ok("States.ArrayRange(5, 1, -2)", json!({})),
        json!([5, 3, 1])
    );
    assert_eq!(ok("States.ArrayRange(1, 0, 1)", json!({})), json!([]));
    assert!(eval("States.ArrayRange(1, 5000, 1)", json!({})).is_err());
    assert!(eval("States.ArrayRange(1, 5, 0)", json!({})).is_err());
    assert_eq!(ok("States.ArrayGetItem($.a, 3)", input.clone()), json!(3));
    assert!(eval("States.ArrayGetItem($.a, 9)", input.clone()).is_err());
    assert_eq!(ok("States.ArrayLength($.a)", input.clone()), json!(5));
    assert_eq!(
        ok("States.ArrayUnique($.a)", input.clone()),
        json!([1, 2, 3])
    );
    assert!(eval("States.ArrayLength($.id)", input).is_err());
}

#[test]
fn json_merge_is_shallow_and_leaves_its_input_alone() {
    let input = json!({"a": {"x": 1, "n": {"k": 1}}, "b": {"y": 2, "n": {"j": 2}}});
    assert_eq!(
        ok("States.JsonMerge($.a, $.b, false)", input.clone()),
        json!({"x": 1, "y": 2, "n": {"j": 2}})
    );
    assert!(eval("States.JsonMerge($.a, $.b, true)", input.clone()).is_err());
    assert!(eval("States.JsonMerge($.a, 1, false)", input).is_err());
}

#[test]
fn math() {
    assert_eq!(ok("States.MathAdd(111, -1)", json!({})), json!(110));
    assert_eq!(ok("States.MathAdd(1.49, 1.5)", json!({})), json!(3));
    let first = ok("States.MathRandom(1, 999, 7)", json!({}));
    assert_eq!(
        first,
        ok("States.MathRandom(1, 999, 7)", json!({})),
        "seeded MathRandom repeats"
    );
    let n = first.as_i64().expect("integer");
    assert!((1..999).contains(&n));
    let unseeded = ok("States.MathRandom(10, 20)", json!({}))
        .as_i64()
        .expect("integer");
    assert!((10..20).contains(&unseeded));
    assert!(eval("States.MathRandom(5, 5)", json!({})).is_err());
}

#[test]
fn strings_encodings_hashes_uuid() {
    assert_eq!(
        ok(
            "States.StringSplit($.s, $.d)",
            json!({"s": "This.is+a,test=string", "d": ".+,="})
        ),
        json!(["This", "is", "a", "test", "string"])
    );
    assert_eq!(
        ok("States.StringSplit('1,2,,3', ',')", json!({})),
        json!(["1", "2", "3"])
    );
    assert_eq!(
        ok("States.Base64Encode('Data to encode')", json!({})),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    assert_eq!(
        ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})),
        json!("Data to encode")
    );
    assert!(eval("States.Base64Decode('***')", json!({})).is_err());
    let cases = [
        ("MD5", "5d41402abc4b2a76b9719d911017c592"),
        ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        (
            "SHA-256",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
    ];
    for (algorithm, digest) in cases {
        assert_eq!(
            ok(&format!("States.Hash('hello', '{algorithm}')"), json!({})),
            json!(digest)
        );
    }
    assert_eq!(
        ok("States.Hash('hello', 'SHA-384')", json!({}))
            .as_str()
            .map(str::len),
        Some(96)
    );
    assert_eq!(
        ok("States.Hash('hello', 'SHA-512')", json!({}))
            .as_str()
            .map(str::len),
        Some(128)
    );
    assert!(Intrinsic::parse("States.Hash('hello', 'SHA-3')").is_err());
    let uuid = ok("States.UUID()", json!({}));
    let uuid = uuid.as_str().expect("string");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "4");
}

#[test]
fn parse_errors_are_clear() {
    assert!(
        Intrinsic::parse("States.Nope(1)")
            .expect_err("unknown")
            .contains("unknown intrinsic function")
    );
    assert!(
        Intrinsic::parse("States.ArrayLength(1, 2)")
            .expect_err("arity")
            .contains("takes 1")
    );
    assert!(Intrinsic::parse("States.UUID() extra").is_err());
    assert!(Intrinsic::parse("States.Array('a'").is_err());
    assert!(Intrinsic::parse("States.Array($.a[?(@.b == 'x,y')], $.c)").is_ok());
}

#[test]
fn missing_path_arguments_fail() {
    let err = eval("States.Format('{}', $.missing)", json!({})).expect_err("missing");
    assert!(err.contains("$.missing"), "{err}");
}
