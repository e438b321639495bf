//! The client certificate a reverse proxy forwards to us in a request header.
//!
//! TLS ends at the proxy, so the only trace of the client certificate that reaches this service
//! is a header. Proxies disagree on how to write it:
//!
//! | proxy | header value |
//! |---|---|
//! | nginx `$ssl_client_escaped_cert`, Envoy `Cert=` | PEM, percent-encoded |
//! | load balancers that leave `+` `/` `=` alone | PEM, percent-encoded except those three |
//! | nginx `$ssl_client_cert` (deprecated) | PEM with a tab after every newline |
//! | Traefik v3 | base64 DER, certificates separated by commas |
//! | older Traefik | the same, percent-encoded |
//! | RFC 9440 `Client-Cert` | base64 DER between colons |
//!
//! [`decode`] accepts all of them. It undoes percent-escapes and nothing else: a `+` is a base64
//! digit, never a space, so a value that went through form decoding on the way is refused rather
//! than guessed at.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode;
use x509_cert::der::{self, Decode as _};
use x509_cert::Certificate;

/// The longest header value [`decode`] looks at. A leaf with a few intermediates, percent-encoded
/// PEM, RSA 4096, stays under 16 KiB; anything far larger is not a certificate header.
pub const MAX_HEADER_LEN: usize = 64 * 1024;

/// The most certificates one header may hold: the leaf and its chain.
pub const MAX_CERTIFICATES: usize = 8;

/// The client certificate a proxy forwarded: the leaf first, then any chain.
#[derive(Clone, Debug)]
pub struct ForwardedCert {
    /// The client's own certificate, the first one in the header.
    pub leaf: Certificate,
    /// The leaf exactly as it was encoded in the header, for hashing.
    pub leaf_der: Vec<u8>,
    /// How many certificates followed the leaf. They are checked to be well-formed and then
    /// dropped: the proxy has already verified the chain, and pins apply to the leaf only.
    pub chain_len: usize,
}

/// Why a certificate header was refused.
///
/// No message quotes the header value: it may be large, and it belongs in a debug log at most.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Nothing but whitespace.
    #[error("certificate header is empty")]
    Empty,
    /// Over [`MAX_HEADER_LEN`] bytes.
    #[error("certificate header is {0} bytes long; at most {MAX_HEADER_LEN} are accepted")]
    TooLarge(usize),
    /// A control byte other than tab, CR or LF, as received.
    #[error("certificate header contains a raw control character")]
    RawControlCharacter,
    /// A control byte other than tab, CR or LF, written as a percent-escape.
    #[error("certificate header contains a percent-escaped control character")]
    EscapedControlCharacter,
    /// A byte above 0x7F, as received or percent-escaped.
    #[error("certificate header contains a byte outside ASCII")]
    NonAscii,
    /// A `%` not followed by two hex digits.
    #[error("certificate header contains a `%` that does not start a percent-escape")]
    MalformedEscape,
    /// Text before the first `-----BEGIN` line or after the last `-----END` line.
    #[error("certificate header has text outside its PEM blocks")]
    TextOutsidePem,
    /// A `-----BEGIN` line with no matching `-----END` line, e.g. a truncated header.
    #[error("certificate header has a PEM block without its END line")]
    UnterminatedPem,
    /// PEM armour the `pem` crate could not make sense of.
    #[error("certificate header is not valid PEM: {0}")]
    Pem(&'static str),
    /// The base64 inside a PEM block is broken.
    #[error("certificate header is not valid base64 inside its PEM armour: {0}")]
    PemBase64(#[source] base64::DecodeError),
    /// A PEM block with another label, such as `PRIVATE KEY`.
    #[error("certificate header holds a PEM block labelled {0:?}, not CERTIFICATE")]
    NotACertificate(String),
    /// A PEM block with RFC 1421 headers such as `Proc-Type`, which certificates never carry.
    #[error("certificate header holds a PEM block with header lines")]
    PemHeaders,
    /// Nothing to decode once the framing is removed.
    #[error("certificate header holds no certificate")]
    NoCertificate,
    /// More than [`MAX_CERTIFICATES`].
    #[error("certificate header holds {0} certificates; at most {MAX_CERTIFICATES} are accepted")]
    TooManyCertificates(usize),
    /// An empty entry in a comma-separated list.
    #[error("certificate {0} in the header is empty")]
    EmptyEntry(usize),
    /// A bare or RFC 9440 entry that is not strict base64. Counted from 1.
    #[error("certificate {index} in the header is not valid base64: {source}")]
    Base64 {
        /// Position in the header, counted from 1.
        index: usize,
        /// What the base64 decoder objected to.
        source: base64::DecodeError,
    },
    /// Bytes that are not exactly one DER certificate. Counted from 1.
    #[error("certificate {index} in the header is not valid DER: {source}")]
    Der {
        /// Position in the header, counted from 1.
        index: usize,
        /// What the DER decoder objected to.
        source: der::Error,
    },
}

/// Decodes a forwarded client-certificate header in any of the forms listed in the
/// [module documentation](self).
///
/// # Errors
///
/// Every way the value can fail is a [`DecodeError`]. No input makes this function panic.
pub fn decode(value: &[u8]) -> Result<ForwardedCert, DecodeError> {
    let text = unescape(value)?;
    let text = text.trim_ascii();
    if text.is_empty() {
        return Err(DecodeError::Empty);
    }

    let ders = if text.contains("-----BEGIN") {
        pem_certificates(text)?
    } else {
        base64_certificates(text)?
    };
    parse_certificates(ders)
}

/// Checks the raw bytes, undoes percent-escapes, and checks the result again, so that a
/// control character cannot slip through either written out or escaped.
fn unescape(value: &[u8]) -> Result<String, DecodeError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(DecodeError::TooLarge(value.len()));
    }
    check_bytes(value, DecodeError::RawControlCharacter)?;
    check_escapes(value)?;

    let decoded: Vec<u8> = percent_decode(value).collect();
    check_bytes(&decoded, DecodeError::EscapedControlCharacter)?;
    // All ASCII by now, so this cannot fail; mapping the error keeps the function panic-free.
    String::from_utf8(decoded).map_err(|_| DecodeError::NonAscii)
}

/// Refuses bytes outside printable ASCII, except the tab, CR and LF that PEM line breaks (and
/// nginx's tab-folded form) are made of.
fn check_bytes(bytes: &[u8], control_error: DecodeError) -> Result<(), DecodeError> {
    if !bytes.is_ascii() {
        return Err(DecodeError::NonAscii);
    }
    let is_forbidden = |b: &u8| b.is_ascii_control() && !matches!(b, b'\t' | b'\r' | b'\n');
    if bytes.iter().any(is_forbidden) {
        Err(control_error)
    } else {
        Ok(())
    }
}

/// `percent_decode` passes a malformed escape through unchanged; refusing it here gives a
/// clearer error than the base64 decoder tripping over a `%` later.
fn check_escapes(bytes: &[u8]) -> Result<(), DecodeError> {
    let well_formed = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| {
            bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        });
    if well_formed {
        Ok(())
    } else {
        Err(DecodeError::MalformedEscape)
    }
}

/// The DER of every block of a PEM text, which must hold nothing but CERTIFICATE blocks.
///
/// The `pem` crate drops all whitespace inside a block, which is what lets the tab-folded and
/// space-unfolded nginx forms through; it also skips anything before a `-----BEGIN` and stops
/// quietly at a block without an END line, so both of those are checked here.
fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, DecodeError> {
    if !text.starts_with("-----BEGIN ") || !text.ends_with("-----") {
        return Err(DecodeError::TextOutsidePem);
    }
    let blocks = pem::parse_many(text).map_err(pem_error)?;
    if blocks.len() != text.matches("-----BEGIN ").count() {
        return Err(DecodeError::UnterminatedPem);
    }

    check_count(blocks.len())?;
    blocks.into_iter().map(certificate_contents).collect()
}

fn certificate_contents(block: pem::Pem) -> Result<Vec<u8>, DecodeError> {
    if block.tag() != "CERTIFICATE" {
        return Err(DecodeError::NotACertificate(short_label(block.tag())));
    }
    if block.headers().iter().next().is_some() {
        return Err(DecodeError::PemHeaders);
    }
    Ok(block.into_contents())
}

/// A PEM label for an error message, cut short in case the header is hostile.
fn short_label(label: &str) -> String {
    const MAX: usize = 40;
    match label.get(..MAX) {
        Some(start) if label.len() > MAX => format!("{start}..."),
        _ => label.to_owned(),
    }
}

/// Some `pem` errors quote the offending header line or labels, which come from the request;
/// these messages keep the request's text out of the log.
fn pem_error(err: pem::PemError) -> DecodeError {
    match err {
        pem::PemError::InvalidData(source) => DecodeError::PemBase64(source),
        pem::PemError::MismatchedTags(..) => DecodeError::Pem("BEGIN and END labels differ"),
        pem::PemError::InvalidHeader(_) => DecodeError::Pem("a block has a blank line inside"),
        _ => DecodeError::Pem("malformed BEGIN or END line"),
    }
}

/// The DER of every entry of a comma-separated list of base64 certificates, each either bare
/// (Traefik) or wrapped in colons (an RFC 9440 byte sequence).
fn base64_certificates(text: &str) -> Result<Vec<Vec<u8>>, DecodeError> {
    check_count(text.split(',').count())?;
    text.split(',')
        .enumerate()
        .map(|(i, entry)| decode_base64_entry(i + 1, entry))
        .collect()
}

fn decode_base64_entry(index: usize, entry: &str) -> Result<Vec<u8>, DecodeError> {
    // RFC 9110 allows optional whitespace around list separators.
    let entry = entry.trim_matches([' ', '\t']);
    let digits = entry
        .strip_prefix(':')
        .and_then(|inner| inner.strip_suffix(':'))
        .unwrap_or(entry);
    if digits.is_empty() {
        return Err(DecodeError::EmptyEntry(index));
    }
    STANDARD
        .decode(digits)
        .map_err(|source| DecodeError::Base64 { index, source })
}

fn check_count(count: usize) -> Result<(), DecodeError> {
    match count {
        0 => Err(DecodeError::NoCertificate),
        n if n > MAX_CERTIFICATES => Err(DecodeError::TooManyCertificates(n)),
        _ => Ok(()),
    }
}

/// Parses every certificate, so a corrupt chain is noticed, and keeps the first as the leaf.
fn parse_certificates(ders: Vec<Vec<u8>>) -> Result<ForwardedCert, DecodeError> {
    let mut ders = ders.into_iter();
    let leaf_der = ders.next().ok_or(DecodeError::NoCertificate)?;
    let leaf = parse_der(1, &leaf_der)?;

    let mut chain_len = 0;
    for der in ders {
        chain_len += 1;
        parse_der(chain_len + 1, &der)?;
    }
    Ok(ForwardedCert {
        leaf,
        leaf_der,
        chain_len,
    })
}

/// `from_der` refuses trailing bytes, so the DER we hash is exactly the certificate we parsed.
fn parse_der(index: usize, der: &[u8]) -> Result<Certificate, DecodeError> {
    Certificate::from_der(der).map_err(|source| DecodeError::Der { index, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/client-cert"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    /// One `NAME=value` line of forwarded-forms.txt.
    fn form(name: &str) -> String {
        let forms = fixture("forwarded-forms.txt");
        let prefix = format!("{name}=");
        let line = forms.lines().find(|line| line.starts_with(&prefix));
        line.unwrap()[prefix.len()..].to_owned()
    }

    /// The tab form is written shell-style in the fixture: quoted, with `\n` and `\t` escapes.
    fn nginx_tab_form() -> String {
        let quoted = form("NGINX_TAB_REPR");
        let inner = quoted.trim_matches('\'');
        inner.replace("\\n", "\n").replace("\\t", "\t")
    }

    fn leaf_pem() -> String {
        fixture("leaf.pem")
    }

    fn leaf_der() -> Vec<u8> {
        pem::parse(leaf_pem()).unwrap().into_contents()
    }

    fn intermediate_der() -> Vec<u8> {
        pem::parse(fixture("intermediate.pem"))
            .unwrap()
            .into_contents()
    }

    /// The leaf's base64 body, without armour or line breaks.
    fn leaf_base64() -> String {
        STANDARD.encode(leaf_der())
    }

    /// The leaf as PEM with the given line width and line end.
    fn leaf_pem_wrapped(width: usize, line_end: &str) -> String {
        let body = leaf_base64();
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(width)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        let mut pem = format!("-----BEGIN CERTIFICATE-----{line_end}");
        for line in lines {
            pem.push_str(line);
            pem.push_str(line_end);
        }
        pem.push_str("-----END CERTIFICATE-----");
        pem.push_str(line_end);
        pem
    }

    /// Percent-encodes every byte that is not alphanumeric, with lower- or upper-case hex.
    fn escape_everything(text: &str, lower: bool) -> String {
        text.bytes()
            .map(|b| match (b.is_ascii_alphanumeric(), lower) {
                (true, _) => (b as char).to_string(),
                (false, true) => format!("%{b:02x}"),
                (false, false) => format!("%{b:02X}"),
            })
            .collect()
    }

    fn assert_decodes_to_leaf(value: &str, chain_len: usize) {
        let cert = decode(value.as_bytes()).unwrap();
        assert_eq!(cert.leaf_der, leaf_der());
        assert_eq!(cert.leaf.tbs_certificate.subject.to_string(), "CN=BC");
        assert_eq!(cert.chain_len, chain_len);
    }

    #[test]
    fn nginx_escaped_pem_decodes_to_the_rfc9440_leaf() {
        assert_decodes_to_leaf(&form("NGINX_ESCAPED"), 0);
    }

    #[test]
    fn load_balancer_pem_with_raw_plus_slash_and_equals_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&form("ALB_LEAF"), 0);
    }

    #[test]
    fn envoy_cert_value_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&form("ENVOY_CERT"), 0);
    }

    #[test]
    fn traefik_v3_bare_base64_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&form("TRAEFIK_V3"), 0);
    }

    #[test]
    fn old_traefik_escaped_base64_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&form("TRAEFIK_V2_OLD"), 0);
    }

    #[test]
    fn rfc9440_byte_sequence_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&form("RFC9440"), 0);
    }

    #[test]
    fn nginx_tab_folded_pem_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&nginx_tab_form(), 0);
    }

    #[test]
    fn nginx_tab_form_with_its_newlines_unfolded_to_spaces_decodes_to_the_leaf() {
        assert_decodes_to_leaf(&nginx_tab_form().replace('\n', " "), 0);
        assert_decodes_to_leaf(&nginx_tab_form().replace("\n\t", " "), 0);
    }

    #[test]
    fn traefik_chain_decodes_with_the_first_certificate_as_leaf() {
        assert_decodes_to_leaf(&form("TRAEFIK_V3_CHAIN"), 1);
    }

    #[test]
    fn rfc9440_list_of_byte_sequences_decodes_with_the_first_as_leaf() {
        let value = format!(
            ":{}:, :{}:",
            leaf_base64(),
            STANDARD.encode(intermediate_der())
        );
        assert_decodes_to_leaf(&value, 1);
    }

    #[test]
    fn pem_with_several_certificates_takes_the_first_as_leaf() {
        let bundle = leaf_pem() + &fixture("intermediate.pem");
        assert_decodes_to_leaf(&escape_everything(&bundle, false), 1);

        let reversed = fixture("intermediate.pem") + &leaf_pem();
        let cert = decode(reversed.as_bytes()).unwrap();
        assert_eq!(cert.leaf_der, intermediate_der());
    }

    #[test]
    fn lower_case_escapes_decode_the_same_as_upper_case() {
        assert_decodes_to_leaf(&escape_everything(&leaf_pem(), true), 0);
        assert_decodes_to_leaf(&form("NGINX_ESCAPED").replace("%2F", "%2f"), 0);
    }

    #[test]
    fn crlf_line_ends_decode_the_same_as_lf() {
        let pem = leaf_pem_wrapped(64, "\r\n");
        assert_decodes_to_leaf(&pem, 0);
        assert_decodes_to_leaf(&escape_everything(&pem, false), 0);
    }

    #[test]
    fn pem_wrapped_at_76_or_20_columns_decodes_the_same() {
        for width in [76, 20] {
            let pem = leaf_pem_wrapped(width, "\n");
            assert_decodes_to_leaf(&escape_everything(&pem, false), 0);
        }
    }

    #[test]
    fn raw_control_characters_are_refused() {
        for control in ["\x00", "\x01", "\x1b", "\x7f"] {
            let value = format!("{control}{}", form("TRAEFIK_V3"));
            let err = decode(value.as_bytes()).unwrap_err();
            assert!(
                matches!(err, DecodeError::RawControlCharacter),
                "{control:?}"
            );

            let value = nginx_tab_form().replacen('\t', control, 1);
            let err = decode(value.as_bytes()).unwrap_err();
            assert!(
                matches!(err, DecodeError::RawControlCharacter),
                "{control:?}"
            );
        }
    }

    #[test]
    fn escaped_control_characters_are_refused() {
        let value = form("NGINX_ESCAPED").replacen("%0A", "%00", 1);
        let err = decode(value.as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::EscapedControlCharacter));
    }

    #[test]
    fn bytes_outside_ascii_are_refused_raw_or_escaped() {
        let raw = [form("TRAEFIK_V3").as_bytes(), "é".as_bytes()].concat();
        assert!(matches!(decode(&raw), Err(DecodeError::NonAscii)));

        let escaped = form("NGINX_ESCAPED") + "%C3%A9";
        assert!(matches!(
            decode(escaped.as_bytes()),
            Err(DecodeError::NonAscii)
        ));
    }

    #[test]
    fn a_plus_turned_into_a_space_is_refused_not_repaired() {
        let alb = form("ALB_LEAF");
        assert!(alb.contains('+'));
        assert!(decode(alb.replace('+', " ").as_bytes()).is_err());
        assert!(decode(alb.replace('+', "%20").as_bytes()).is_err());
        assert!(decode(form("TRAEFIK_V3").replace('+', " ").as_bytes()).is_err());
    }

    #[test]
    fn malformed_percent_escapes_are_refused() {
        for value in ["%zz", "MIIB%4", "MIIB%"] {
            let err = decode(value.as_bytes()).unwrap_err();
            assert!(matches!(err, DecodeError::MalformedEscape), "{value}");
        }
    }

    #[test]
    fn a_certificate_followed_by_extra_bytes_is_refused() {
        let mut der = leaf_der();
        der.push(0);
        let err = decode(STANDARD.encode(&der).as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Der { index: 1, .. }));
    }

    #[test]
    fn a_corrupt_chain_certificate_is_refused_and_named() {
        let value = format!(
            "{},{}",
            leaf_base64(),
            STANDARD.encode(b"not a certificate")
        );
        let err = decode(value.as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Der { index: 2, .. }));
        assert!(err.to_string().starts_with("certificate 2 in the header"));
    }

    #[test]
    fn base64_with_a_missing_padding_or_a_url_safe_alphabet_is_refused() {
        let unpadded = leaf_base64().trim_end_matches('=').to_owned();
        assert!(matches!(
            decode(unpadded.as_bytes()),
            Err(DecodeError::Base64 { .. })
        ));

        let url_safe = leaf_base64().replace('+', "-").replace('/', "_");
        assert!(matches!(
            decode(url_safe.as_bytes()),
            Err(DecodeError::Base64 { .. })
        ));
    }

    #[test]
    fn empty_and_blank_values_are_refused() {
        for value in ["", "   ", "\t\r\n"] {
            let err = decode(value.as_bytes()).unwrap_err();
            assert!(matches!(err, DecodeError::Empty), "{value:?}");
        }
        for value in [",", "::", &format!("{},", leaf_base64())] {
            assert!(decode(value.as_bytes()).is_err(), "{value:?}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for value in [
            "hello",
            "-----BEGIN",
            "-----BEGIN CERTIFICATE-----",
            ":::",
            "%41%42",
        ] {
            assert!(decode(value.as_bytes()).is_err(), "{value:?}");
        }
    }

    #[test]
    fn text_around_or_a_truncated_pem_block_is_refused() {
        let pem = leaf_pem();
        let before = format!("x{pem}");
        assert!(matches!(
            decode(before.as_bytes()),
            Err(DecodeError::TextOutsidePem)
        ));

        let after = format!("{pem}x");
        assert!(matches!(
            decode(after.as_bytes()),
            Err(DecodeError::TextOutsidePem)
        ));

        let truncated = format!("{pem}-----BEGIN CERTIFICATE-----\nMIIB-----");
        assert!(matches!(
            decode(truncated.as_bytes()),
            Err(DecodeError::UnterminatedPem)
        ));
    }

    #[test]
    fn a_pem_holding_only_a_private_key_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = decode(key.as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::NotACertificate(ref label) if label == "PRIVATE KEY"));
    }

    #[test]
    fn a_value_over_the_size_limit_is_refused_without_quoting_it() {
        let value = vec![b'A'; MAX_HEADER_LEN + 1];
        let err = decode(&value).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge(_)));
        assert!(err.to_string().len() < 100);
    }

    #[test]
    fn more_certificates_than_the_limit_are_refused() {
        let value = vec![leaf_base64(); MAX_CERTIFICATES + 1].join(",");
        let err = decode(value.as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::TooManyCertificates(9)));

        let value = vec![leaf_base64(); MAX_CERTIFICATES].join(",");
        assert_eq!(
            decode(value.as_bytes()).unwrap().chain_len,
            MAX_CERTIFICATES - 1
        );
    }

    #[test]
    fn error_messages_never_quote_the_header() {
        let long_label = format!(
            "-----BEGIN {0}-----\nAAAA\n-----END {0}-----",
            "X".repeat(500)
        );
        let long_junk = format!("{}!", "A".repeat(5000));
        for value in [long_label, long_junk] {
            let message = decode(value.as_bytes()).unwrap_err().to_string();
            assert!(message.len() < 150, "{message}");
        }
    }

    #[test]
    fn every_prefix_and_single_byte_change_of_each_form_is_handled_without_panic() {
        let forms = [form("NGINX_ESCAPED"), form("RFC9440"), nginx_tab_form()];
        for value in forms.iter().map(String::as_bytes) {
            for end in 0..value.len() {
                let _ = decode(&value[..end]);
            }
            for at in (0..value.len()).step_by(7) {
                for replacement in [b'%', b'-', b'\n', b':', b',', 0xff] {
                    let mut changed = value.to_vec();
                    changed[at] = replacement;
                    let _ = decode(&changed);
                }
            }
        }
    }
}
