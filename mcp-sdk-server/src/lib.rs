//! Model Context Protocol server SDK.
