//! The server the official MCP conformance suite tests.
