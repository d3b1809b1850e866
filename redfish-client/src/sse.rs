//! A sans-IO parser of server-sent events (the WHATWG `text/event-stream` format), used by
//! [`crate::Client::event_stream`] for the EventService's `ServerSentEventUri`.
//!
//! It takes bytes as they arrive, in chunks of any size, and yields [`SseMessage`]s: lines end
//! with CRLF, LF or CR (also split across chunks), `:` starts a comment, `data` lines of one
//! event are joined with `\n`, `id` sets the last event id (kept across events, ignored when
//! it contains NUL), `retry` sets the reconnection delay, an optional BOM is dropped, and
//! an event is dispatched by an empty line (an unfinished one at the end of the stream is
//! dropped, as the standard says). Invalid UTF-8 is replaced, never an error.
//!
//! Memory is bounded: an event (its field lines plus the line being read) may not exceed
//! [`SseLimits::max_event_bytes`], and the stream may not exceed
//! [`SseLimits::max_stream_bytes`]; past either the parser fails with [`SseError`] and stays
//! failed. Comments do not count toward an event, so keep-alive comments never fill it.
//!
//! ```
//! use redfish_client::sse::{SseLimits, SseParser};
//! let mut p = SseParser::new(SseLimits::default());
//! let mut out = p.feed(b": keep-alive\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r").unwrap();
//! assert!(out.is_empty());
//! out = p.feed(b"\n\r\n").unwrap();
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].data, "{\"a\":\n1}");
//! assert_eq!(out[0].id.as_deref(), Some("7"));
//! assert_eq!(out[0].event, "message");
//! ```

use std::time::Duration;

/// Bounds of an event stream.
///
/// ```
/// use std::time::Duration;
/// use redfish_client::sse::SseLimits;
/// let l = SseLimits::default()
///     .max_event_bytes(64 << 10)
///     .max_stream_bytes(Some(1 << 30))
///     .idle_timeout(Duration::from_secs(90));
/// assert_eq!(l.event_limit(), 64 << 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    max_event_bytes: usize,
    max_stream_bytes: Option<u64>,
    idle_timeout: Duration,
}

impl Default for SseLimits {
    /// 1 MiB per event, no limit on the stream, 5 minutes without a byte ends it.
    fn default() -> Self {
        Self {
            max_event_bytes: 1 << 20,
            max_stream_bytes: None,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl SseLimits {
    /// Largest event (its field lines, or a single unfinished line).
    pub fn max_event_bytes(mut self, n: usize) -> Self {
        self.max_event_bytes = n.max(1);
        self
    }
    /// Most bytes read from one stream (`None`: unbounded, the stream is meant to last).
    pub fn max_stream_bytes(mut self, n: Option<u64>) -> Self {
        self.max_stream_bytes = n;
        self
    }
    /// Longest silence (not even a keep-alive comment) before the stream is given up; used by
    /// the IO shell ([`crate::events::EventStream`]).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
    /// The per-event cap.
    pub fn event_limit(&self) -> usize {
        self.max_event_bytes
    }
    /// The per-stream cap.
    pub fn stream_limit(&self) -> Option<u64> {
        self.max_stream_bytes
    }
    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle_timeout
    }
}

/// One dispatched event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SseMessage {
    /// `event` type (`message` when the event named none).
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
    /// The last event id in effect (to resume with `Last-Event-ID`), if any was sent.
    pub id: Option<String>,
    /// A `retry` delay sent with this event.
    pub retry: Option<Duration>,
}

/// Why the stream cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// An event (or a line) grew past the per-event cap.
    #[error("server-sent event larger than {limit} bytes")]
    EventTooLarge {
        /// The cap.
        limit: usize,
    },
    /// The stream grew past the per-stream cap.
    #[error("event stream longer than {limit} bytes")]
    StreamTooLarge {
        /// The cap.
        limit: u64,
    },
}

/// The parser's state; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SseParser {
    limits: SseLimits,
    line: Vec<u8>,
    after_cr: bool,
    first_line: bool,
    event_type: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<Duration>,
    event_bytes: usize,
    stream_bytes: u64,
    failed: Option<SseError>,
}

impl SseParser {
    /// A parser for a new stream.
    pub fn new(limits: SseLimits) -> Self {
        Self {
            limits,
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            event_type: String::new(),
            data: String::new(),
            has_data: false,
            last_id: None,
            retry: None,
            event_bytes: 0,
            stream_bytes: 0,
            failed: None,
        }
    }

    /// The limits in effect.
    pub fn limits(&self) -> &SseLimits {
        &self.limits
    }

    /// The last event id seen (for `Last-Event-ID` when reconnecting).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Start from a known last event id (when resuming a stream).
    pub fn set_last_event_id(&mut self, id: Option<String>) {
        self.last_id = id;
    }

    /// Bytes fed so far.
    pub fn bytes_read(&self) -> u64 {
        self.stream_bytes
    }

    /// Feed the next bytes of the stream; returns the events they completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseMessage>, SseError> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out)?;
        Ok(out)
    }

    /// [`SseParser::feed`], appending to `out` (events completed before an error are kept).
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<SseMessage>) -> Result<(), SseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.stream_bytes = self.stream_bytes.saturating_add(chunk.len() as u64);
        if let Some(limit) = self.limits.max_stream_bytes {
            if self.stream_bytes > limit {
                return Err(self.fail(SseError::StreamTooLarge { limit }));
            }
        }
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
            self.after_cr = false;
        }
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.line.extend_from_slice(rest);
                    self.check_event_size()?;
                    break;
                }
                Some(i) => {
                    self.line.extend_from_slice(&rest[..i]);
                    self.check_event_size()?;
                    let cr = rest[i] == b'\r';
                    rest = &rest[i + 1..];
                    if cr {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, out)?;
                    // Reuse the allocation for the next line.
                    self.line = line;
                    self.line.clear();
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, e: SseError) -> SseError {
        self.failed = Some(e.clone());
        self.line = Vec::new();
        self.data = String::new();
        e
    }

    fn check_event_size(&mut self) -> Result<(), SseError> {
        let limit = self.limits.max_event_bytes;
        if self.event_bytes.saturating_add(self.line.len()) > limit {
            return Err(self.fail(SseError::EventTooLarge { limit }));
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseMessage>) -> Result<(), SseError> {
        let mut line = line;
        if self.first_line {
            self.first_line = false;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.event_bytes += line.len() + 1;
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event_bytes += line.len();
                self.event_type = String::from_utf8_lossy(value).into_owned();
            }
            b"id" if !value.contains(&0) => {
                self.event_bytes += line.len();
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All digits; too many for a u64 is ignored like any other bad value.
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
        self.check_event_size()
    }

    fn dispatch(&mut self, out: &mut Vec<SseMessage>) {
        self.event_bytes = 0;
        let retry = self.retry.take();
        if !self.has_data {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last '\n'
        self.has_data = false;
        let event = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(SseMessage {
            event,
            data,
            id: self.last_id.clone(),
            retry,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<SseMessage> {
        SseParser::new(SseLimits::default()).feed(input).unwrap()
    }

    #[test]
    fn fields_comments_and_line_ends() {
        let m =
            all(b"\xEF\xBB\xBFevent: alert\nid: 1\nretry: 2500\ndata:a\ndata\ndata:  b\n\n: c\n\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].event, "alert");
        assert_eq!(m[0].data, "a\n\n b");
        assert_eq!(m[0].retry, Some(Duration::from_millis(2500)));
        let m = all(b"data: x\r\rdata: y\r\n\r\n");
        assert_eq!(
            m.iter().map(|m| m.data.as_str()).collect::<Vec<_>>(),
            ["x", "y"]
        );
        // No data: nothing dispatched; an id persists to the next event.
        let m = all(b"id: 5\nevent: x\n\ndata: z\n\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].event, "message");
        assert_eq!(m[0].id.as_deref(), Some("5"));
        // Unfinished event at the end: not dispatched; an id with NUL is ignored.
        assert!(all(b"data: half").is_empty());
        let m = all(b"id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n");
        assert_eq!(m[1].id.as_deref(), Some("1"));
        // Bad retry is ignored.
        assert_eq!(all(b"retry: 1s\ndata: a\n\n")[0].retry, None);
    }

    #[test]
    fn caps() {
        let mut p = SseParser::new(SseLimits::default().max_event_bytes(16));
        assert_eq!(
            p.feed(b"data: 0123456789abcdef\n"),
            Err(SseError::EventTooLarge { limit: 16 })
        );
        assert!(p.feed(b"\n").is_err(), "a failed parser stays failed");
        // Comments do not fill an event.
        let mut p = SseParser::new(SseLimits::default().max_event_bytes(16));
        for _ in 0..100 {
            p.feed(b": keep-alive\n").unwrap();
        }
        assert_eq!(p.feed(b"data: ok\n\n").unwrap()[0].data, "ok");
        let mut p = SseParser::new(SseLimits::default().max_stream_bytes(Some(10)));
        assert!(p.feed(b"data: 1\n\n").is_ok());
        assert_eq!(
            p.feed(b"data: 2\n\n"),
            Err(SseError::StreamTooLarge { limit: 10 })
        );
    }
}
