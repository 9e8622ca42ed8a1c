//! The sampling reference server (being written).
