//! redfish-client's server-sent event parser on arbitrary bytes, fed in chunks cut where the
//! input says, with small caps: no panic, chunking never changes the events, every event
//! stays within the cap, and each event's data goes through the typed `Event` model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redfish_client::model::Event;
use redfish_client::sse::{SseLimits, SseMessage, SseParser};

fn run(data: &[u8], cuts: &[usize], limits: SseLimits) -> Result<Vec<SseMessage>, ()> {
    let mut p = SseParser::new(limits);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        let c = c.clamp(at, data.len());
        p.feed_into(&data[at..c], &mut out).map_err(|_| ())?;
        at = c;
    }
    Ok(out)
}

fuzz_target!(|input: &[u8]| {
    let Some((&head, data)) = input.split_first() else {
        return;
    };
    // The first byte picks the cap and the chunk size.
    let cap = 16 + usize::from(head) * 8;
    let step = usize::from(head % 7) + 1;
    let limits = SseLimits::default().max_event_bytes(cap);
    let cuts: Vec<usize> = (1..data.len()).step_by(step).collect();
    let whole = run(data, &[], limits);
    let split = run(data, &cuts, limits);
    assert_eq!(whole, split, "chunking changed the events");
    if let Ok(events) = whole {
        for m in events {
            assert!(m.data.len() <= cap * 3);
            if let Ok(e) = Event::from_json(m.data.as_bytes()) {
                let _ = e
                    .events
                    .iter()
                    .map(|r| r.origin_of_condition.is_some())
                    .count();
            }
        }
    }
    // The model's new resources on the same bytes.
    let _ = serde_json::from_slice::<redfish_client::model::EventService>(data);
    let _ = serde_json::from_slice::<redfish_client::model::EventDestination>(data);
    let _ = serde_json::from_slice::<redfish_client::model::UpdateService>(data);
    let _ = serde_json::from_slice::<redfish_client::model::PowerSubsystem>(data);
    let _ = serde_json::from_slice::<redfish_client::model::ThermalSubsystem>(data);
    let _ = serde_json::from_slice::<redfish_client::model::EnvironmentMetrics>(data);
    if let (Ok(p), t) = (
        serde_json::from_slice::<redfish_client::model::Power>(data),
        serde_json::from_slice::<redfish_client::model::Thermal>(data).ok(),
    ) {
        let _ = redfish_client::model::PowerThermal::from_legacy(Some(&p), t.as_ref());
    }
});
