//! The resources reference server (being written).
