//! ai-router server library.
