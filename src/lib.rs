//! Receives GoCardless webhooks for Payymo and stores each event exactly once.
//!
//! A delivery travels through the modules in this order: [`config`] decides what is trusted,
//! [`api`] receives the request, [`auth`] checks who sent it, [`events`] checks what was sent,
//! and [`store`] writes it in one transaction before the answer goes out.

pub mod api;
pub mod auth;
pub mod config;
pub mod devtools;
pub mod events;
pub mod inspect;
pub mod metrics;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod watch;
