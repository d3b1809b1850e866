//! Property tests of the SSE parser: chunking never changes the result, encoded events come
//! back whatever the line endings, caps bound every event, and nothing panics.

use proptest::prelude::*;
use redfish_client::sse::{SseLimits, SseMessage, SseParser};

fn parse_chunks(input: &[u8], cuts: &[usize], limits: SseLimits) -> Result<Vec<SseMessage>, ()> {
    let mut p = SseParser::new(limits);
    let mut out = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts.into_iter().chain(std::iter::once(input.len())) {
        if c < at {
            continue;
        }
        if p.feed_into(&input[at..c], &mut out).is_err() {
            return Err(());
        }
        at = c;
    }
    Ok(out)
}

fn line_text() -> impl Strategy<Value = String> {
    // Anything but line breaks; includes ':' and leading spaces.
    "[^\r\n]{0,40}"
}

proptest! {
    #[test]
    fn chunking_does_not_change_the_events(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse_chunks(&input, &[], SseLimits::default());
        let split = parse_chunks(&input, &cuts, SseLimits::default());
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn encoded_events_come_back_with_any_line_ending(
        events in proptest::collection::vec(
            (proptest::option::of("[a-z]{1,8}"), proptest::collection::vec(line_text(), 1..4), proptest::option::of("[0-9a-f]{1,8}")),
            0..6),
        ending in 0usize..3,
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        comments in any::<bool>(),
    ) {
        let eol = ["\n", "\r\n", "\r"][ending];
        let mut text = String::new();
        for (name, data, id) in &events {
            if comments {
                text.push_str(&format!(": keep-alive{eol}"));
            }
            if let Some(n) = name {
                text.push_str(&format!("event: {n}{eol}"));
            }
            if let Some(i) = id {
                text.push_str(&format!("id: {i}{eol}"));
            }
            for d in data {
                text.push_str(&format!("data: {d}{eol}"));
            }
            text.push_str(eol);
        }
        let got = parse_chunks(text.as_bytes(), &cuts, SseLimits::default()).unwrap();
        prop_assert_eq!(got.len(), events.len());
        let mut last_id: Option<String> = None;
        for (m, (name, data, id)) in got.iter().zip(&events) {
            prop_assert_eq!(&m.event, name.as_deref().unwrap_or("message"));
            prop_assert_eq!(&m.data, &data.join("\n"));
            if id.is_some() {
                last_id = id.clone();
            }
            prop_assert_eq!(&m.id, &last_id);
        }
    }

    #[test]
    fn caps_bound_every_event_and_the_stream(
        input in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        event_cap in 1usize..200,
        stream_cap in 1u64..3000,
    ) {
        let limits = SseLimits::default()
            .max_event_bytes(event_cap)
            .max_stream_bytes(Some(stream_cap));
        if let Ok(events) = parse_chunks(&input, &cuts, limits) {
            prop_assert!(input.len() as u64 <= stream_cap);
            for m in events {
                // Data is a subset of the event's field lines.
                prop_assert!(m.data.len() <= event_cap * 3, "{} > {}", m.data.len(), event_cap);
            }
        } else {
            // Only a cap makes the parser fail.
            let unbounded = parse_chunks(&input, &cuts, SseLimits::default().max_event_bytes(usize::MAX));
            prop_assert!(unbounded.is_ok());
        }
    }
}
