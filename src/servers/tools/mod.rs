//! The tools reference server (being written).
