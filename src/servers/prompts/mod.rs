//! The prompts reference server (being written).
