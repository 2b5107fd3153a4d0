//! The worker's job and event JSON: anything a peer might send, from random bytes to
//! valid messages with fields changed.

use proptest::prelude::*;
use serde_json::{json, Value};
use shared::events::CallEvent;
use shared::job::CallJob;

/// Arbitrary JSON values, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid event of each kind, for mutation.
fn event_templates() -> Vec<Value> {
    vec![
        json!({"seq": 1, "atMs": 0, "type": "connected", "workerId": "w1"}),
        json!({"seq": 2, "atMs": 10, "type": "transcript", "speaker": "callee", "text": "hi",
               "startMs": 0, "endMs": 5, "confidence": 0.9}),
        json!({"seq": 3, "atMs": 10, "type": "outcome", "outcome": "interested", "notes": null}),
        json!({"seq": 4, "atMs": 10, "type": "transfer", "to": "+14155552671"}),
        json!({"seq": 5, "atMs": 10, "type": "schedule_callback", "at": "2026-01-01T10:00:00Z"}),
        json!({"seq": 6, "atMs": 10, "type": "add_to_dnc", "reason": "asked"}),
        json!({"seq": 7, "atMs": 10, "type": "ended", "reason": "done"}),
    ]
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn random_bytes_are_refused_or_read_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<CallEvent>(&bytes);
        let _ = serde_json::from_slice::<Vec<CallEvent>>(&bytes);
        let _ = serde_json::from_slice::<CallJob>(&bytes);
    }

    #[test]
    fn events_with_any_field_replaced_never_panic(
        which in 0usize..7,
        field in "[a-zA-Z]{1,10}",
        value in any_json(),
    ) {
        let mut event = event_templates()[which].clone();
        event[field.as_str()] = value;
        let text = event.to_string();
        if let Ok(parsed) = serde_json::from_str::<CallEvent>(&text) {
            // Whatever was accepted goes back out as JSON that reads the same.
            let again: CallEvent = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
            prop_assert_eq!(again, parsed);
        }
    }

    #[test]
    fn jobs_built_from_any_json_never_panic(value in any_json()) {
        let _ = serde_json::from_value::<CallJob>(value);
    }
}
