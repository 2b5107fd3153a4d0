//! The LLM stream's server-sent events: any body, split into chunks anywhere.

use agent_worker::providers::llm::sse::SseParser;
use proptest::prelude::*;

/// Bodies that are event streams some of the time.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "data: \\PC{0,20}",
        "event: [a-z]{0,6}",
        ": ?[a-z]{0,6}",
        "[a-z]{0,6}:? ?\\PC{0,6}",
        Just(String::new()),
    ];
    let ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    prop_oneof![
        prop::collection::vec((line, ending), 0..24).prop_map(|lines| {
            lines
                .into_iter()
                .flat_map(|(line, end)| format!("{line}{end}").into_bytes())
                .collect()
        }),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn any_body_in_any_chunks_parses_as_in_one_piece(body in body(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let whole = {
            let mut parser = SseParser::new();
            let mut events = parser.push(&body).expect("short bodies are never too long");
            events.extend(parser.finish());
            events
        };
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let chunked = {
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([body.len()]) {
                events.extend(parser.push(&body[from..cut]).expect("short"));
                from = cut;
            }
            events.extend(parser.finish());
            events
        };
        prop_assert_eq!(chunked, whole);
    }
}

#[test]
fn an_endless_event_is_refused_rather_than_held() {
    // Two MiB of data lines and never the blank line that ends an event.
    let mut parser = SseParser::new();
    let line = format!("data: {}\n", "x".repeat(1000));
    let mut refused = false;
    for _ in 0..2100 {
        if parser.push(line.as_bytes()).is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the parser kept growing one event");
}
