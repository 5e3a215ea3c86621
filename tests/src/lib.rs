//! testkit
pub mod emulator;
pub mod gguf;
