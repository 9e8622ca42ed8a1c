//! Asking the user on the terminal.
