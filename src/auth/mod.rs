//! Who sent a delivery: the proxy it came through and the client certificate that proxy saw.

pub mod forwarded;
pub mod pins;
pub mod sender;
