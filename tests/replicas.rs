//! More than one replica behind a real load balancer (HAProxy, round-robin,
//! no stickiness; see tests/support/haproxy.rs): what works across replicas.

mod support;

use std::net::SocketAddr;
use support::haproxy::{Balancer, HealthCheck};
use support::PATIENCE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend that answers every HTTP request with its own `name`.
async fn named_backend(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // One request per connection (HAProxy closes the server side).
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return, // a TCP health check
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn haproxy_spreads_requests_round_robin_without_stickiness() {
    let test = "haproxy_spreads_requests_round_robin_without_stickiness";
    let backends = [
        named_backend("a").await,
        named_backend("b").await,
        named_backend("c").await,
    ];
    let Some(balancer) = Balancer::start(test, &backends, HealthCheck::Tcp).await else {
        return;
    };
    // One client, keep-alive on its side: each request is balanced anew.
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let answer = tokio::time::timeout(PATIENCE, http.get(&balancer.base).send())
            .await
            .expect("an answer in time")
            .expect("the balancer answers");
        assert!(
            answer.status().is_success(),
            "{}\n{}",
            answer.status(),
            balancer.log()
        );
        seen.push(answer.text().await.unwrap());
    }
    // Round-robin: every replica in turn, each twice, never one twice in a row.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "a", "b", "b", "c", "c"], "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    assert_eq!(seen[..3], seen[3..], "{seen:?}");
}
