//! The bearer token that opens the read-only admin endpoints.

use subtle::ConstantTimeEq;

/// `ADMIN_TOKEN`; its `Debug` never shows it.
#[derive(Clone)]
pub struct AdminSecret(String);

impl AdminSecret {
    pub fn new(token: String) -> Self {
        AdminSecret(token)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares in constant time, so the answer's timing does not reveal the token.
    pub fn accepts(&self, offered: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(offered.as_bytes()))
    }
}

impl std::fmt::Debug for AdminSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("AdminSecret([redacted])")
    }
}
