//! Typed params and results of every MCP method and notification.
