//! EventService: subscriptions (create, list, delete) and the server-sent event stream,
//! read by [`EventStream`] over the sans-IO [`crate::sse`] parser with a byte cap per event
//! and per stream and an idle timeout.
//!
//! ```no_run
//! # async fn demo(client: redfish_client::Client) -> Result<(), redfish_client::Error> {
//! use redfish_client::model::NewSubscription;
//! use redfish_client::sse::SseLimits;
//!
//! let sub = client.subscribe(&NewSubscription::new("https://collector.example/redfish")
//!     .registry_prefixes(["TaskEvent"])).await?;
//! let mut stream = client.event_stream(SseLimits::default()).await?;
//! while let Some(event) = stream.next().await? {
//!     for record in &event.events {
//!         println!("{:?} {:?}", record.message_id, record.message);
//!     }
//! }
//! client.unsubscribe(&sub).await?;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::model::{Event, EventDestination, EventService, NewSubscription};
use crate::odata::Resource;
use crate::sse::{SseError, SseLimits, SseMessage, SseParser};

impl Client {
    /// The EventService.
    pub async fn event_service(&self) -> Result<EventService> {
        let root = self.service_root().await?;
        let link = root.event_service.ok_or_else(|| {
            Error::unsupported("EventService", "the service root has no EventService")
        })?;
        self.get(link.id().as_str()).await
    }

    async fn subscriptions_path(&self) -> Result<String> {
        let es = self.event_service().await?;
        let link = es.subscriptions.ok_or_else(|| {
            Error::unsupported(
                "event subscriptions",
                "the EventService has no Subscriptions",
            )
        })?;
        Ok(link.id().as_str().to_owned())
    }

    /// Every subscription (`EventService/Subscriptions`), read.
    pub async fn subscriptions(&self) -> Result<Vec<EventDestination>> {
        let path = self.subscriptions_path().await?;
        self.members(&path).await
    }

    /// Create a subscription; returns it as the service stored it (read back from the
    /// `Location` it answered, or its body).
    pub async fn subscribe(&self, sub: &NewSubscription) -> Result<EventDestination> {
        let path = self.subscriptions_path().await?;
        let resp = self.post_raw(&path, sub).await?;
        if let Some(loc) = resp.location() {
            return self.get(loc).await;
        }
        let v = resp.json().map_err(|source| Error::Decode {
            path: path.clone(),
            what: "EventDestination",
            source,
        })?;
        if let Some(id) = v.get("@odata.id").and_then(|i| i.as_str()) {
            if v.get("Destination").is_none() {
                return self.get(id).await;
            }
        }
        serde_json::from_value(v).map_err(|source| Error::Decode {
            path,
            what: "EventDestination",
            source,
        })
    }

    /// Delete a subscription.
    pub async fn unsubscribe(&self, sub: &EventDestination) -> Result<()> {
        let path = sub.odata_id().ok_or_else(|| {
            Error::unsupported("unsubscribe", "the subscription has no @odata.id")
        })?;
        self.delete(path.as_str()).await?;
        Ok(())
    }

    /// Ask the service to send a test event (`#EventService.SubmitTestEvent`) to every
    /// subscription and stream; `body` names its `MessageId`, `Message`, `EventType`, ...
    /// (`{}` lets the service choose).
    pub async fn submit_test_event(&self, body: &serde_json::Value) -> Result<()> {
        let es = self.event_service().await?;
        let target = es
            .actions
            .as_ref()
            .and_then(|a| a.submit_test_event.as_ref())
            .and_then(|a| a.target.clone())
            .or_else(|| {
                es.odata_id()
                    .map(|id| format!("{id}/Actions/EventService.SubmitTestEvent"))
            })
            .ok_or_else(|| Error::unsupported("SubmitTestEvent", "no EventService path"))?;
        self.post_raw(&target, body).await?;
        Ok(())
    }

    /// Open the EventService's server-sent event stream (`ServerSentEventUri`).
    pub async fn event_stream(&self, limits: SseLimits) -> Result<EventStream> {
        let es = self.event_service().await?;
        let path = es.server_sent_event_uri.ok_or_else(|| {
            Error::unsupported("event stream", "the EventService has no ServerSentEventUri")
        })?;
        self.event_stream_at(&path, limits).await
    }

    /// Open a server-sent event stream at `path` (e.g. with a `$filter` query). A 401 logs
    /// in again once; the stream is not retried otherwise.
    pub async fn event_stream_at(&self, path: &str, limits: SseLimits) -> Result<EventStream> {
        self.open_event_stream(path, limits, None).await
    }

    /// Open `stream`'s path again after it ended or failed, with the same limits, sending
    /// `Last-Event-ID` (the last `id` it saw) so that a service that keeps events can
    /// resume where it left off.
    pub async fn resume_event_stream(&self, stream: &EventStream) -> Result<EventStream> {
        let last = stream.last_event_id().map(str::to_owned);
        let mut s = self
            .open_event_stream(&stream.path, *stream.parser.limits(), last.as_deref())
            .await?;
        s.parser.set_last_event_id(last);
        Ok(s)
    }

    async fn open_event_stream(
        &self,
        path: &str,
        limits: SseLimits,
        last_event_id: Option<&str>,
    ) -> Result<EventStream> {
        let method = Method::GET;
        let mut relogged = false;
        loop {
            let (req, generation) = self
                .build_request(&method, path, "text/event-stream", true)
                .await?;
            // The stream is meant to last: no whole-request timeout, the idle timeout instead.
            let mut req = req.timeout(Duration::from_secs(10 * 365 * 24 * 3600));
            if let Some(id) = last_event_id {
                let v = reqwest::header::HeaderValue::from_str(id)
                    .map_err(|e| Error::build("Last-Event-ID", e))?;
                req = req.header("Last-Event-ID", v);
            }
            let send = tokio::time::timeout(limits.idle(), req.send());
            let resp = match send.await {
                Ok(r) => r.map_err(|e| Client::transport_error(&method, path, e))?,
                Err(_) => {
                    return Err(Error::Timeout {
                        method,
                        path: path.to_owned(),
                    });
                }
            };
            if resp.status() == StatusCode::UNAUTHORIZED && self.uses_sessions() && !relogged {
                relogged = true;
                self.relogin(generation).await?;
                continue;
            }
            if !resp.status().is_success() {
                let resp = self.read_response(&method, path, resp).await?;
                return Err(match self.check(&method, path, resp) {
                    Err(e) => e,
                    Ok(_) => Error::unsupported("event stream", "unexpected answer"),
                });
            }
            return Ok(EventStream {
                path: path.to_owned(),
                resp: Some(resp),
                parser: SseParser::new(limits),
                queue: VecDeque::new(),
                failed: None,
            });
        }
    }
}

/// An open server-sent event stream. Call [`EventStream::next`] (typed [`Event`]s) or
/// [`EventStream::next_message`] (raw SSE messages) until it returns `None`.
///
/// A stream that sends nothing (not even a keep-alive comment) for the idle timeout, or
/// grows past its byte caps, ends with an error; after any such error, and after the service
/// closes it, the stream returns `None`. [`Client::resume_event_stream`] opens it again from
/// its last event id.
#[derive(Debug)]
pub struct EventStream {
    path: String,
    resp: Option<reqwest::Response>,
    parser: SseParser,
    queue: VecDeque<SseMessage>,
    failed: Option<SseError>,
}

impl EventStream {
    /// The next SSE message, or `None` when the stream has ended.
    pub async fn next_message(&mut self) -> Result<Option<SseMessage>> {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Ok(Some(m));
            }
            if let Some(e) = self.failed.take() {
                return Err(self.cap_error(e));
            }
            let Some(resp) = self.resp.as_mut() else {
                return Ok(None);
            };
            let idle = self.parser.limits().idle();
            let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
                Err(_) => {
                    self.resp = None;
                    return Err(Error::Timeout {
                        method: Method::GET,
                        path: self.path.clone(),
                    });
                }
                Ok(Err(e)) => {
                    self.resp = None;
                    return Err(Client::transport_error(&Method::GET, &self.path, e));
                }
                Ok(Ok(None)) => {
                    self.resp = None;
                    return Ok(None);
                }
                Ok(Ok(Some(c))) => c,
            };
            let mut out = Vec::new();
            let r = self.parser.feed_into(&chunk, &mut out);
            self.queue.extend(out);
            if let Err(e) = r {
                // Deliver the events completed before the cap was hit, then the error.
                self.resp = None;
                self.failed = Some(e);
            }
        }
    }

    fn cap_error(&self, e: SseError) -> Error {
        Error::EventStream {
            path: self.path.clone(),
            source: e,
        }
    }

    /// The next typed event (`data` parsed as a Redfish `Event`, raw JSON kept), or `None`
    /// when the stream has ended. Messages whose `data` is not a JSON object give an
    /// [`Error::Decode`]; the stream can still be read after it.
    pub async fn next(&mut self) -> Result<Option<Event>> {
        let Some(m) = self.next_message().await? else {
            return Ok(None);
        };
        Event::from_json(m.data.as_bytes())
            .map(Some)
            .map_err(|source| Error::Decode {
                path: self.path.clone(),
                what: "Event",
                source,
            })
    }

    /// The last event id seen (for `Last-Event-ID` when reconnecting).
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.parser.bytes_read()
    }
}
