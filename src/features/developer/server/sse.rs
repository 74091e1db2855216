//! Server-sent events as the developer API sends them: each frame flushed as it is made, a
//! keep-alive comment whenever the stream is quiet (proxies and load balancers close silent
//! connections), and headers that tell proxies not to buffer or transform the stream.

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use http::{header, HeaderValue};
use std::convert::Infallible;
use std::time::Duration;

pub struct Frame {
    event: Option<&'static str>,
    data: String,
}

impl Frame {
    /// `event: <name>` and the value as its data.
    pub fn named(event: &'static str, value: serde_json::Value) -> Self {
        Frame { event: Some(event), data: value.to_string() }
    }

    /// A data-only frame (OpenAI's stream).
    pub fn data(data: String) -> Self {
        Frame { event: None, data }
    }
}

pub fn response(frames: impl Stream<Item = Frame> + Send + 'static, keep_alive_secs: u64) -> Response {
    // axum writes fields in the order they are set: the name first, as readers expect.
    let events = frames.map(|f| {
        let event = match f.event {
            Some(name) => Event::default().event(name),
            None => Event::default(),
        };
        Ok::<_, Infallible>(event.data(f.data))
    });
    let keep_alive = KeepAlive::new().interval(Duration::from_secs(keep_alive_secs.max(1))).text("keep-alive");
    let mut response = Sse::new(events).keep_alive(keep_alive).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
