//! The internet reference server (being written).
