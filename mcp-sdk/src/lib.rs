//! # mcp-sdk: the Model Context Protocol core
//!
//! Typed JSON-RPC 2.0 envelopes ([`jsonrpc`]), every MCP message of the
//! session-era revisions ([`types`]), one error type ([`Error`]) and protocol
//! versions with negotiation ([`ProtocolVersion`]). This crate does no I/O:
//! the server and client crates put it on the wire.
//!
//! ```
//! use mcp_sdk::jsonrpc::{decode, Message};
//!
//! let msg = decode(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
//! assert!(matches!(msg, Message::Request(ref r) if r.method == "ping"));
//!
//! // A broken line gives a precise JSON-RPC error, with the id when it could be read.
//! let err = decode(br#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#).unwrap_err();
//! assert_eq!(err.error.code, mcp_sdk::ErrorCode::INVALID_REQUEST);
//! assert_eq!(err.id, Some(mcp_sdk::jsonrpc::RequestId::Number(7)));
//! ```
#![warn(missing_docs)]

pub mod error;
#[cfg(feature = "tokio")]
pub mod framing;
pub mod jsonrpc;
pub mod time;
pub mod trace;
pub mod types;
pub mod version;

pub use error::{Error, ErrorCode};
pub use jsonrpc::{Message, RequestId};
pub use types::*;
pub use version::ProtocolVersion;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
