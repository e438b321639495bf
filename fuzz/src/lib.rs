//! The service's two parsers of untrusted input, compiled from the service's own source files:
//! the forwarded certificate header decoder and the webhook body parser.

#[path = "../../src/auth/forwarded.rs"]
pub mod forwarded;

#[path = "../../src/events/mod.rs"]
pub mod events;
