//! The roots reference server (being written).
