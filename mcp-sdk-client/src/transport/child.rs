//! A server run as a child process, spoken to over its stdin and stdout.

use super::io::IoTransport;
use super::{Incoming, Transport};
use crate::ClientError;
use async_trait::async_trait;
use mcp_sdk::Message;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// How long a server may take to exit after its stdin closes before it is
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A server started as a child process (the stdio transport).
///
/// The process is killed when the transport is dropped. Its stderr is
/// forwarded to `tracing` (target `mcp_sdk_client::stderr`), and when it exits
/// every waiting call fails with its exit status.
///
/// ```no_run
/// # async fn run() -> Result<(), mcp_sdk_client::ClientError> {
/// use mcp_sdk_client::{Client, transport::ChildProcess};
/// use tokio::process::Command;
///
/// let server = ChildProcess::spawn(Command::new("npx").args(["-y", "@modelcontextprotocol/server-everything"]))?;
/// let client = Client::connect(server).await?;
/// for tool in client.list_all_tools().await? {
///     println!("{}", tool.name);
/// }
/// # Ok(()) }
/// ```
pub struct ChildProcess {
    io: IoTransport,
    child: Arc<Mutex<Child>>,
    program: String,
}

impl std::fmt::Debug for ChildProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildProcess")
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl ChildProcess {
    /// Starts `command` with piped stdin, stdout and stderr. Its arguments,
    /// environment and working directory are whatever `command` says.
    pub fn spawn(command: &mut Command) -> Result<Self, ClientError> {
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ClientError::Transport(format!("could not start {program}: {e}")))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_stderr(program.clone(), stderr));
        }
        let child = Arc::new(Mutex::new(child));
        let end = {
            let child = Arc::downgrade(&child);
            let program = program.clone();
            Box::pin(async move {
                let Some(child) = child.upgrade() else {
                    return ClientError::Closed(format!("{program} was stopped"));
                };
                let status = tokio::time::timeout(EXIT_GRACE, child.lock().await.wait()).await;
                ClientError::Closed(match status {
                    Ok(Ok(status)) => format!("the server process {program} exited ({status})"),
                    _ => format!("the server process {program} closed its stdout"),
                })
            }) as super::io::EndReason
        };
        Ok(ChildProcess {
            io: IoTransport::with_end_reason(stdout, stdin, end),
            child,
            program,
        })
    }

    /// The process id, while the process runs.
    pub async fn id(&self) -> Option<u32> {
        self.child.lock().await.id()
    }
}

#[async_trait]
impl Transport for ChildProcess {
    async fn send(&self, msg: Message) -> Result<(), ClientError> {
        self.io.send(msg).await
    }

    async fn receive(&self) -> Option<Incoming> {
        self.io.receive().await
    }

    /// Closes the server's stdin, gives it a moment (`EXIT_GRACE`) to exit, then
    /// kills it.
    async fn close(&self) {
        self.io.shutdown_writer().await;
        let mut child = self.child.lock().await;
        if tokio::time::timeout(EXIT_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

async fn forward_stderr(program: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "mcp_sdk_client::stderr", %program, "{line}");
    }
}
