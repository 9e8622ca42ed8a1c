//! A TCP relay in front of a server, which a test can freeze: frozen, it
//! still accepts connections and reads what they send, but passes nothing
//! on in either direction, as a hung server with its sockets open would;
//! thawed, it passes on what it held back.
//!
//! The tests once hung a server with `SIGSTOP`, but a stopped child is only
//! as stopped as the machine lets it be: one CI run saw a stopped server
//! answer. The relay is in the test's own hands.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// A relay on a loopback port of its own to one target address.
pub struct Relay {
    /// Where clients connect instead of the target.
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Relay {
    /// Starts a thawed relay to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen, watching) = watch::channel(false);
        // The connections' pumps live in the accepting task's JoinSet, so
        // dropping the relay ends them all.
        let accepting = tokio::spawn(async move {
            let mut pumps = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                pumps.spawn(pump(client_read, server_write, watching.clone()));
                pumps.spawn(pump(server_read, client_write, watching.clone()));
            }
        });
        Relay {
            addr,
            frozen,
            accepting,
        }
    }

    /// From now on, holds back every byte in both directions.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Passes on what was held back, and everything after it.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Copies `from` to `to`, holding each chunk read while the relay is
/// frozen until it thaws; ends at end of stream or an error on either side.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
