//! Transports: each moves bytes and hands messages to a session; none knows
//! about dispatch.

pub mod http;
pub mod stdio;
