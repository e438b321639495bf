//! Which GoCardless environment a delivery came from, by the `Origin` header it sends.

use std::str::FromStr;

const LIVE_ORIGIN: &str = "https://api.gocardless.com";
const SANDBOX_ORIGIN: &str = "https://api-sandbox.gocardless.com";

/// GoCardless's live or sandbox environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoCardlessEnvironment {
    Live,
    Sandbox,
}

impl GoCardlessEnvironment {
    /// The environment an `Origin` header names, if it names one.
    pub fn from_origin(origin: Option<&[u8]>) -> Option<Self> {
        match origin? {
            value if value == LIVE_ORIGIN.as_bytes() => Some(GoCardlessEnvironment::Live),
            value if value == SANDBOX_ORIGIN.as_bytes() => Some(GoCardlessEnvironment::Sandbox),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GoCardlessEnvironment::Live => "live",
            GoCardlessEnvironment::Sandbox => "sandbox",
        }
    }

    pub fn origin(self) -> &'static str {
        match self {
            GoCardlessEnvironment::Live => LIVE_ORIGIN,
            GoCardlessEnvironment::Sandbox => SANDBOX_ORIGIN,
        }
    }
}

impl FromStr for GoCardlessEnvironment {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "live" => Ok(GoCardlessEnvironment::Live),
            "sandbox" => Ok(GoCardlessEnvironment::Sandbox),
            other => Err(format!("{other:?} is neither \"live\" nor \"sandbox\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GoCardlessEnvironment::{self, Live, Sandbox};

    #[test]
    fn the_two_origins_gocardless_sends_are_told_apart_and_nothing_else_counts() {
        let of = |origin: &str| GoCardlessEnvironment::from_origin(Some(origin.as_bytes()));
        assert_eq!(of("https://api.gocardless.com"), Some(Live));
        assert_eq!(of("https://api-sandbox.gocardless.com"), Some(Sandbox));
        assert_eq!(of("https://api.gocardless.com.evil.example"), None);
        assert_eq!(of("http://api.gocardless.com"), None);
        assert_eq!(GoCardlessEnvironment::from_origin(None), None);
    }
}
