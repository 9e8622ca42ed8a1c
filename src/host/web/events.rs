//! [`Events`]: what the backend pushes to every open page, as Server-Sent
//! Events (`GET /api/events`).

use super::http::sse_event;
use axum::body::Bytes;
use futures_util::Stream;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How many events a slow page may fall behind before it misses some (it
/// then gets the whole state again).
const BACKLOG: usize = 1024;

/// How often an idle stream carries a comment, so that proxies and the
/// browser keep it open and a page that went away is noticed.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event: its name and its data as JSON text.
#[derive(Debug, Clone)]
pub struct Event {
    /// `state`, `log`, `progress`, `chat`, `approval`, ...
    pub name: &'static str,
    /// The data, one line of JSON.
    pub data: Arc<str>,
}

/// The hub every page's event stream hangs off.
#[derive(Debug)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Events {
    /// Sends `data` as the event `name` to every open page.
    pub fn send(&self, name: &'static str, data: &impl Serialize) {
        let data = serde_json::to_string(data).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("unserializable event: {e}") }).to_string()
        });
        // No page open: nobody to tell, which is fine.
        let _ = self.sender.send(Event {
            name,
            data: data.into(),
        });
    }

    /// How many pages are listening now.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A page's stream: `first` (the state, framed), then every event,
    /// with keep-alive comments; `state` gives the state again after the
    /// page fell behind and missed events.
    pub fn stream(
        &self,
        first: Bytes,
        state: impl Fn() -> Bytes + Send + Sync + 'static,
    ) -> impl Stream<Item = Bytes> + Send + Sync + 'static {
        let receiver = self.sender.subscribe();
        futures_util::stream::unfold(
            (Some(first), receiver, state),
            |(first, mut receiver, state)| async move {
                if let Some(first) = first {
                    return Some((first, (None, receiver, state)));
                }
                let next = match tokio::time::timeout(KEEP_ALIVE, receiver.recv()).await {
                    Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                    Ok(Ok(event)) => sse_event(event.name, &event.data),
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => state(),
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                };
                Some((next, (None, receiver, state)))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn a_stream_starts_with_the_state_then_carries_events_and_recovers_from_lag() {
        let events = Events::default();
        let stream = events.stream(sse_event("state", "1"), || sse_event("state", "again"));
        let mut stream = Box::pin(stream);
        assert_eq!(events.listeners(), 1);
        events.send("log", &serde_json::json!({"data": "hi"}));
        assert_eq!(stream.next().await.unwrap(), sse_event("state", "1"));
        assert_eq!(
            stream.next().await.unwrap(),
            sse_event("log", r#"{"data":"hi"}"#)
        );
        for i in 0..BACKLOG + 10 {
            events.send("progress", &i);
        }
        assert_eq!(stream.next().await.unwrap(), sse_event("state", "again"));
        drop(stream);
        assert_eq!(events.listeners(), 0);
    }
}
