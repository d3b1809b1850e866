//! Certificate pinning: trust a BMC by the SHA-256 fingerprint of its own certificate.
//!
//! Most BMCs ship a self-signed certificate whose name matches nothing, so the usual choice
//! is between a private CA (rarely deployed) and [`danger_accept_invalid_certs`], which lets
//! anyone on the path impersonate the BMC. A pin is the middle way: the certificate the BMC
//! presents must be exactly one of the pinned ones (its SHA-256 over the DER bytes, as
//! `openssl x509 -noout -fingerprint -sha256` prints it); its chain, name and dates are not
//! checked, but the TLS handshake's signatures still are, so only the holder of the pinned
//! certificate's private key gets through.
//!
//! [`danger_accept_invalid_certs`]: crate::client::ClientBuilder::danger_accept_invalid_certs

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Parse a SHA-256 fingerprint: 64 hex digits, with or without `:` between the bytes, in
/// either case (`AB:CD:..`, as openssl prints it, or `abcd..`).
pub(crate) fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256 Fingerprint=")
        .or_else(|| s.strip_prefix("SHA256 Fingerprint="))
        .unwrap_or(s);
    let hex: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// The rustls verifier: the end-entity certificate must be pinned; handshake signatures
/// are verified by the provider as usual.
#[derive(Debug)]
struct Pinned {
    pins: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.pins.contains(&fingerprint) {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                presented = %hex(&fingerprint),
                "the server's certificate is not one of the pinned ones"
            );
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A rustls client configuration (the `ring` provider, TLS 1.2 and 1.3) that trusts exactly
/// the pinned certificates.
pub(crate) fn client_config(pins: Vec<[u8; 32]>) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        pins,
        provider: provider.clone(),
    });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_in_openssl_and_plain_forms() {
        let plain = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let want: Vec<u8> = (0..2)
            .flat_map(|_| {
                [
                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                    0xdd, 0xee, 0xff,
                ]
            })
            .collect();
        assert_eq!(parse_fingerprint(plain).unwrap().to_vec(), want);
        let colons = plain
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap().to_vec(), want);
        let openssl = format!("sha256 Fingerprint={colons}\n");
        assert_eq!(parse_fingerprint(&openssl).unwrap().to_vec(), want);
        assert!(parse_fingerprint("").is_none());
        assert!(parse_fingerprint(&plain[..62]).is_none());
        assert!(parse_fingerprint(&format!("{}zz", &plain[..62])).is_none());
        assert!(parse_fingerprint(&format!("{plain}00")).is_none());
        // Multi-byte characters are not hex digits, never a panic.
        assert!(parse_fingerprint(&"é".repeat(32)).is_none());
    }

    proptest::proptest! {
        /// Any fingerprint comes back from its hex, in either case, with or without colons.
        #[test]
        fn round_trip(bytes: [u8; 32], upper: bool, colons: bool) {
            let parts: Vec<String> = bytes
                .iter()
                .map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") })
                .collect();
            let text = parts.join(if colons { ":" } else { "" });
            proptest::prop_assert_eq!(parse_fingerprint(&text), Some(bytes));
        }

        /// Any text: an answer, never a panic.
        #[test]
        fn any_text(text: String) {
            let _ = parse_fingerprint(&text);
        }
    }
}
