//! [`HostHandler`]: the host's side of MCP. Sampling requests are answered
//! by the host's own LLM once the user approves them, roots are the
//! directories the user gave, elicitation asks the user (when there is a
//! way to), and notifications are passed on for display.

use super::llm::{Llm, Message, ToolCall};
use mcp_sdk::{
    ClientCapabilities, CreateMessageParams, CreateMessageResult, ElicitRequestParams,
    ElicitResult, ElicitationCapability, Error, ErrorCode, ListRootsResult,
    LoggingMessageNotificationParams, ProgressNotificationParams, Role, Root, RootsCapability,
    SamplingCapability, SamplingContent, SamplingContentBlock, ToolChoiceMode, ToolUseContent,
};
use mcp_sdk_client::async_trait;
use mcp_sdk_client::{ClientHandler, RequestContext};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The JSON-RPC error code MCP uses for a sampling request the user
/// declined.
pub const USER_REJECTED: ErrorCode = ErrorCode(-1);

/// Decides whether a server's sampling request may go to the model.
#[async_trait]
pub trait Approver: Send + Sync + 'static {
    /// `Ok` to run it, or why not (shown to the server).
    async fn approve(&self, params: &CreateMessageParams) -> Result<(), String>;
}

/// Approves every request (`--auto-approve`).
#[derive(Debug, Clone, Copy)]
pub struct AutoApprove;

#[async_trait]
impl Approver for AutoApprove {
    async fn approve(&self, _params: &CreateMessageParams) -> Result<(), String> {
        Ok(())
    }
}

/// Asks the user for what a server's elicitation request wants.
#[async_trait]
pub trait Elicitor: Send + Sync + 'static {
    /// The user's answer.
    async fn elicit(&self, params: &ElicitRequestParams) -> Result<ElicitResult, Error>;
}

/// What the server tells the host besides answers.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A log message.
    Log(LoggingMessageNotificationParams),
    /// Progress of something no call waits on.
    Progress(ProgressNotificationParams),
    /// A list changed: `tools`, `prompts` or `resources`.
    ListChanged(&'static str),
    /// A subscribed resource changed.
    ResourceUpdated(String),
}

/// The roots a host offers, shared between its handler and whatever lets
/// the user change them (the web UI).
#[derive(Debug, Clone, Default)]
pub struct SharedRoots(Arc<std::sync::RwLock<Vec<Root>>>);

impl SharedRoots {
    /// The roots now.
    pub fn get(&self) -> Vec<Root> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the roots.
    pub fn set(&self, roots: Vec<Root>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = roots;
    }

    /// Changes the roots in place; gives what `change` returns.
    pub fn update<T>(&self, change: impl FnOnce(&mut Vec<Root>) -> T) -> T {
        change(&mut self.0.write().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where notices go.
pub type NoticeSink = Arc<dyn Fn(Notice) + Send + Sync>;

/// The host's [`ClientHandler`].
#[derive(Clone)]
pub struct HostHandler {
    llm: Arc<dyn Llm>,
    approver: Arc<dyn Approver>,
    roots: SharedRoots,
    elicitor: Option<Arc<dyn Elicitor>>,
    notices: Option<NoticeSink>,
    apps: bool,
}

impl HostHandler {
    /// Sampling through `llm` after `approver` agrees; no roots, no
    /// elicitation, notices ignored.
    pub fn new(llm: Arc<dyn Llm>, approver: Arc<dyn Approver>) -> Self {
        HostHandler {
            llm,
            approver,
            roots: SharedRoots::default(),
            elicitor: None,
            notices: None,
            apps: false,
        }
    }

    /// Declares the MCP Apps extension (`io.modelcontextprotocol/ui`): for
    /// a host that renders apps (the web page; a terminal cannot).
    pub fn apps(mut self) -> Self {
        self.apps = true;
        self
    }

    /// Offers these roots.
    pub fn roots(self, roots: Vec<Root>) -> Self {
        self.roots.set(roots);
        self
    }

    /// The roots offered, which may be changed while connected (then tell
    /// the server with `Client::notify_roots_list_changed`).
    pub fn shared_roots(&self) -> SharedRoots {
        self.roots.clone()
    }

    /// Answers elicitation through `elicitor`; without one the capability is
    /// not declared, so servers know not to ask.
    pub fn elicitor(mut self, elicitor: Arc<dyn Elicitor>) -> Self {
        self.elicitor = Some(elicitor);
        self
    }

    /// Passes notifications to `sink`.
    pub fn notices(mut self, sink: NoticeSink) -> Self {
        self.notices = Some(sink);
        self
    }

    fn notice(&self, notice: Notice) {
        if let Some(sink) = &self.notices {
            sink(notice);
        }
    }
}

/// A root for a directory: its canonical path as a `file://` URI, named
/// after the directory. Fails with a message naming the path when it is not
/// a directory.
pub fn directory_root(dir: &Path) -> Result<Root, String> {
    let path = std::fs::canonicalize(dir)
        .map_err(|e| format!("the root {} cannot be used: {e}", dir.display()))?;
    if !path.is_dir() {
        return Err(format!("the root {} is not a directory", dir.display()));
    }
    let mut uri = String::from("file://");
    let text = path.to_string_lossy().replace('\\', "/");
    if !text.starts_with('/') {
        uri.push('/');
    }
    // Percent-encode what may not stand in a URI path as it is.
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| text.clone());
    Ok(Root::new(uri).with_name(name))
}

/// The values an elicitation form field allows, when it is a choice
/// (`enum`, `oneOf` of `const`s, or the same on an array's items); empty
/// when any value of its type will do.
pub fn field_choices(schema: &Value) -> Vec<String> {
    let strings = |values: &Vec<Value>, key: Option<&str>| -> Vec<String> {
        values
            .iter()
            .filter_map(|v| match key {
                Some(key) => v[key].as_str(),
                None => v.as_str(),
            })
            .map(str::to_owned)
            .collect()
    };
    if let Some(values) = schema["enum"]
        .as_array()
        .or_else(|| schema["items"]["enum"].as_array())
    {
        return strings(values, None);
    }
    schema["oneOf"]
        .as_array()
        .or_else(|| schema["items"]["anyOf"].as_array())
        .map(|values| strings(values, Some("const")))
        .unwrap_or_default()
}

/// A sampling request's conversation in the LLM's terms.
pub fn sampling_messages(params: &CreateMessageParams) -> Vec<Message> {
    let mut messages = Vec::new();
    if let Some(system) = params.system_prompt.as_ref().filter(|s| !s.is_empty()) {
        messages.push(Message::System(system.clone()));
    }
    // Tool results name only the id of their use; the name comes from it.
    let mut uses: Vec<(String, String)> = Vec::new();
    for message in &params.messages {
        let mut texts = Vec::new();
        let mut calls = Vec::new();
        for block in message.content.blocks() {
            match block {
                SamplingContentBlock::Text(t) => texts.push(t.text.clone()),
                SamplingContentBlock::Image(i) => texts.push(format!("[image {}]", i.mime_type)),
                SamplingContentBlock::Audio(a) => texts.push(format!("[audio {}]", a.mime_type)),
                SamplingContentBlock::ToolUse(u) => {
                    uses.push((u.id.clone(), u.name.clone()));
                    calls.push(ToolCall {
                        id: u.id.clone(),
                        name: u.name.clone(),
                        arguments: Value::Object(u.input.clone()).to_string(),
                    });
                }
                SamplingContentBlock::ToolResult(r) => {
                    let name = uses
                        .iter()
                        .find(|(id, _)| *id == r.tool_use_id)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_default();
                    let content: Vec<String> =
                        r.content.iter().map(super::chat::content_text).collect();
                    messages.push(Message::Tool {
                        call_id: r.tool_use_id.clone(),
                        name,
                        content: content.join("\n"),
                        is_error: r.is_error == Some(true),
                    });
                }
            }
        }
        let text = (!texts.is_empty()).then(|| texts.join("\n"));
        match message.role {
            Role::User => {
                if let Some(text) = text {
                    messages.push(Message::User(text));
                }
            }
            Role::Assistant => {
                if text.is_some() || !calls.is_empty() {
                    messages.push(Message::Assistant {
                        text,
                        tool_calls: calls,
                    });
                }
            }
        }
    }
    messages
}

#[async_trait]
impl ClientHandler for HostHandler {
    fn capabilities(&self) -> ClientCapabilities {
        let mut caps = ClientCapabilities::default()
            .with_roots(RootsCapability::default())
            .with_sampling(SamplingCapability::default().with_tools());
        // Both elicitors (terminal and web page) take forms and URLs.
        if self.elicitor.is_some() {
            caps = caps.with_elicitation(ElicitationCapability::default().with_form().with_url());
        }
        if self.apps {
            caps = caps.with_extra("extensions", mcp_sdk_server::apps::client_capability());
        }
        caps
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
        _cx: RequestContext,
    ) -> Result<CreateMessageResult, Error> {
        self.approver
            .approve(&params)
            .await
            .map_err(|reason| Error::new(USER_REJECTED, reason))?;
        let tools_allowed = params
            .tool_choice
            .as_ref()
            .and_then(|c| c.mode)
            .is_none_or(|mode| mode != ToolChoiceMode::None);
        let tools = match (&params.tools, tools_allowed) {
            (Some(tools), true) => tools.clone(),
            _ => Vec::new(),
        };
        let reply = self
            .llm
            .complete(&sampling_messages(&params), &tools)
            .await
            .map_err(|e| Error::internal(format_args!("the host's model failed: {e}")))?;
        if reply.tool_calls.is_empty() || tools.is_empty() {
            return Ok(CreateMessageResult::text(
                reply.model,
                reply.text.unwrap_or_default(),
            ));
        }
        let mut blocks = Vec::new();
        if let Some(text) = reply.text.filter(|t| !t.is_empty()) {
            blocks.push(SamplingContentBlock::text(text));
        }
        for call in reply.tool_calls {
            let input = call.parsed_arguments().map_err(|e| {
                Error::internal(format_args!("the host's model made a bad tool call: {e}"))
            })?;
            blocks.push(SamplingContentBlock::ToolUse(ToolUseContent::new(
                call.id, call.name, input,
            )));
        }
        Ok(CreateMessageResult::new(
            Role::Assistant,
            SamplingContent::Multiple(blocks),
            reply.model,
        )
        .with_stop_reason(CreateMessageResult::TOOL_USE))
    }

    async fn list_roots(&self, _cx: RequestContext) -> Result<ListRootsResult, Error> {
        Ok(ListRootsResult::new(self.roots.get()))
    }

    async fn elicit(
        &self,
        params: ElicitRequestParams,
        _cx: RequestContext,
    ) -> Result<ElicitResult, Error> {
        match &self.elicitor {
            Some(elicitor) => elicitor.elicit(&params).await,
            None => Err(Error::method_not_found("elicitation/create")),
        }
    }

    async fn on_tool_list_changed(&self) {
        self.notice(Notice::ListChanged("tools"));
    }

    async fn on_resource_list_changed(&self) {
        self.notice(Notice::ListChanged("resources"));
    }

    async fn on_prompt_list_changed(&self) {
        self.notice(Notice::ListChanged("prompts"));
    }

    async fn on_resource_updated(&self, params: mcp_sdk::ResourceUpdatedNotificationParams) {
        self.notice(Notice::ResourceUpdated(params.uri));
    }

    async fn on_log(&self, params: LoggingMessageNotificationParams) {
        self.notice(Notice::Log(params));
    }

    async fn on_progress(&self, params: ProgressNotificationParams) {
        self.notice(Notice::Progress(params));
    }
}
