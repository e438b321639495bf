//! Who sent a delivery: the proxy it came through, the client certificate that proxy saw, the
//! signature over the body, and the GoCardless environment it says it came from.

pub mod admin;
pub mod forwarded;
pub mod origin;
pub mod pins;
pub mod sender;
pub mod signature;
