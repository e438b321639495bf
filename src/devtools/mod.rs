//! Tools for trying the service by hand and for the end-to-end tests, not used by the service
//! itself: throwaway certificates, and a sender that plays GoCardless.

pub mod dev_certs;
pub mod send_test;
