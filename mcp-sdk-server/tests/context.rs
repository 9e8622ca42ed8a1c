//! A `RequestContext` built for a unit test: what it carries, where what the
//! handler sends goes, and the clear error of a request to a client that is
//! not there.

use mcp_sdk::{ClientCapabilities, ErrorCode, Implementation, LoggingLevel, ProtocolVersion};
use mcp_sdk_server::{ClientInfo, RequestContext, SessionExtensions};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, PartialEq)]
struct Tenant(&'static str);

fn client(capabilities: serde_json::Value) -> ClientInfo {
    ClientInfo {
        protocol_version: ProtocolVersion::V2025_11_25,
        capabilities: serde_json::from_value::<ClientCapabilities>(capabilities).unwrap(),
        implementation: Implementation::new("test", "1"),
    }
}

#[tokio::test]
async fn a_built_context_carries_what_the_test_gave() {
    let (parts, ()) = http::Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("authorization", "Bearer t")
        .body(())
        .unwrap()
        .into_parts();
    let cancel = CancellationToken::new();
    let ctx = RequestContext::builder()
        .request_id("r-1")
        .http_parts(parts)
        .extension(Tenant("acme"))
        .client(client(serde_json::json!({"sampling": {}})))
        .cancellation_token(cancel.clone())
        .build();
    assert_eq!(ctx.request_id().to_string(), "r-1");
    let parts = ctx.http_parts().unwrap();
    assert_eq!(parts.headers["authorization"], "Bearer t");
    // An extension given beside the parts lands in the parts' extensions.
    assert_eq!(ctx.extensions().get::<Tenant>(), Some(&Tenant("acme")));
    assert_eq!(parts.extensions.get::<Tenant>(), Some(&Tenant("acme")));
    assert!(ctx.can_sample());
    assert!(!ctx.can_elicit());
    assert!(!ctx.can_list_roots());
    assert_eq!(ctx.protocol_version(), Some(ProtocolVersion::V2025_11_25));
    assert!(!ctx.is_cancelled());
    cancel.cancel();
    assert!(ctx.is_cancelled());
}

#[tokio::test]
async fn a_plain_built_context_has_no_http_no_client_and_empty_extensions() {
    let ctx = RequestContext::builder().build();
    assert!(ctx.http_parts().is_none());
    assert!(ctx.extensions().is_empty());
    assert!(ctx.client().is_none());
    assert!(!ctx.can_sample() && !ctx.can_elicit());
    // Progress without a token sends nothing and does not fail.
    ctx.progress(1.0, None, None).await.unwrap();
}

#[tokio::test]
async fn what_the_handler_sends_reaches_the_outbox_and_requests_fail_clearly() {
    let (ctx, mut sent) = RequestContext::builder()
        .progress_token("p")
        .client(client(serde_json::json!({"roots": {}, "elicitation": {}})))
        .build_with_outbox();
    ctx.progress(0.5, Some(1.0), Some("half")).await.unwrap();
    ctx.log(LoggingLevel::Info, "hello").await.unwrap();
    let progress = sent.recv().await.unwrap();
    assert_eq!(progress.method(), Some("notifications/progress"));
    let log = sent.recv().await.unwrap();
    assert_eq!(log.method(), Some("notifications/message"));

    let err = ctx.list_roots().await.unwrap_err();
    assert_eq!(err.code, ErrorCode::CONNECTION_CLOSED);
    assert!(
        err.message.contains("RequestContext::builder"),
        "{}",
        err.message
    );
    assert!(err.message.contains("roots/list"), "{}", err.message);
    assert!(sent.try_recv().is_err(), "a failed request sends nothing");
}

#[tokio::test]
async fn contexts_given_one_session_map_share_it() {
    let session = SessionExtensions::default();
    let first = RequestContext::builder()
        .session_extensions(session.clone())
        .build();
    let second = RequestContext::builder()
        .session_extensions(session.clone())
        .build();
    first.session_extensions().insert(Tenant("a"));
    assert_eq!(
        second.session_extensions().get::<Tenant>(),
        Some(Tenant("a"))
    );
    assert!(first
        .session_extensions()
        .same_map(second.peer().session_extensions()));
    let other = RequestContext::builder().build();
    assert!(!other.session_extensions().contains::<Tenant>());
    assert_eq!(session.remove::<Tenant>(), Some(Tenant("a")));
    assert!(!first.session_extensions().contains::<Tenant>());
}
