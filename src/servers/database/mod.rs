//! The database reference server (being written).
