//! The MCP host (the client application): it connects to the session
//! manager or any MCP server, in either protocol era, and lets a language
//! model use the server's tools.
//!
//! - [`llm`]: the [`Llm`](llm::Llm) trait and [`from_env`](llm::from_env),
//!   with the providers [`openai`] (any OpenAI-compatible chat-completions
//!   API), [`anthropic`] (the messages API) and [`offline`] (the built-in
//!   assistant used when no model is configured);
//! - [`chat`]: the tool-use loop;
//! - [`handler`]: the host's side of MCP (sampling through the same model
//!   after approval, roots, elicitation, notifications);
//! - [`connect`]: reaching a server by URL or command;
//! - [`history`]: the JSON-RPC messages exchanged, kept for inspection;
//! - [`sign_in`]: OAuth for servers that ask for it (`client login`);
//! - [`cli`] and [`terminal`]: the command-line client;
//! - [`web`]: the web UI (`client web`).

pub mod anthropic;
pub mod chat;
pub mod cli;
pub mod connect;
pub mod error;
pub mod handler;
pub mod history;
pub mod llm;
pub mod offline;
pub mod openai;
pub mod sign_in;
pub mod terminal;
pub mod web;

pub use error::HostError;
