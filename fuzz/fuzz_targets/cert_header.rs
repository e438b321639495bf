//! Any bytes as the forwarded certificate header: the decoder never panics, and whatever it
//! accepts is exactly one well-formed leaf, the same bytes that get hashed for the pin.

#![no_main]

use gocardless_webhooks_fuzz::forwarded::{self, MAX_CERTIFICATES, MAX_HEADER_LEN};
use libfuzzer_sys::fuzz_target;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// Error messages reach the log and the client; none may carry a copy of the header.
const MAX_MESSAGE_LEN: usize = 200;

fuzz_target!(|value: &[u8]| {
    match forwarded::decode(value) {
        Ok(cert) => {
            assert!(value.len() <= MAX_HEADER_LEN);
            assert!(cert.chain_len < MAX_CERTIFICATES);
            let again = Certificate::from_der(&cert.leaf_der).expect("the leaf parses again");
            assert_eq!(again, cert.leaf);
            let encoded = cert.leaf.to_der().expect("the leaf encodes");
            assert_eq!(
                encoded, cert.leaf_der,
                "the hashed bytes are the parsed certificate"
            );
        }
        Err(err) => {
            let message = err.to_string();
            assert!(message.len() <= MAX_MESSAGE_LEN, "{message}");
        }
    }
});
