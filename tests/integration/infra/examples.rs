//! The files of `examples/` are what they claim to be: the console input, the cross-region
//! request and the detail of the request event are valid requests, and the Control Tower
//! event names a 12-digit account. The README and the event-rule tests rely on them.

use super::read_json;

#[test]
fn example_requests_are_valid_requests() {
    let console = read_json("examples/console-input.json");
    privatelink_core::parse_request(&console)
        .unwrap_or_else(|e| panic!("examples/console-input.json: {}", e.message));
    let cross = read_json("examples/cross-region.json");
    let request = privatelink_core::parse_request(&cross)
        .unwrap_or_else(|e| panic!("examples/cross-region.json: {}", e.message));
    assert!(request.endpoints.iter().any(|e| e.is_cross_region()));
    let event = read_json("examples/eventbridge-event.json");
    privatelink_core::parse_request(&event["detail"])
        .unwrap_or_else(|e| panic!("examples/eventbridge-event.json detail: {}", e.message));
    let tower = read_json("examples/control-tower-event.json");
    let account = &tower["detail"]["serviceEventDetails"]["createManagedAccountStatus"]["account"];
    let id = account["accountId"].as_str().expect("accountId");
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
        "accountId {id}"
    );
    assert!(account["accountName"].is_string());
}
