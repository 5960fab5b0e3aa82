//! The legacy sync socket's two ends: a server that Go replicas can sync from, and a
//! replica that can sync from a Go server (SPEC §4 and §5).
//!
//! The frames and bodies are in [`crate::wire`]; this module holds the conversations:
//!
//! - [`server`]: [`serve`] accepts replicas and streams the store to them, read-only,
//!   waking on the writer's [`Signal`](crate::store::Signal) instead of polling every second;
//! - [`client`]: [`run`] keeps a local [`Store`](crate::Store) byte-identical to a server's,
//!   reconnecting with backoff and applying retention;
//! - the store-side halves of each (which records go next, which day to ask for, which
//!   days to delete) are shared with the native sync, in [`crate::replication`].
//!
//! Both ends read frames in a task of their own (`conn`): [`read_frame`](crate::wire::read_frame)
//! is not cancel-safe, so it must never be one arm of a `select!` that may drop it mid-frame.

pub mod client;
mod conn;
pub mod server;

pub use client::{LegacyClientConfig, run};
pub use server::{LegacyServerConfig, serve};
