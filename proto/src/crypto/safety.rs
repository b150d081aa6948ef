//! Safety numbers: a short string two people compare (in person, or over a
//! call) to be sure neither the node nor anyone else swapped their keys.
//!
//! For fingerprints `a` and `b`, sorted so both sides compute the same:
//! `h = SHA-256("OnionChat-v1/safety-number" || 0x00 || min(a,b) || max(a,b))`;
//! the first 30 bytes of `h`, read as six big-endian 5-byte integers each
//! reduced mod 100000, give six groups of five digits.

use super::sha256;
use crate::wire::Fingerprint;

/// The safety number of a pair, as `"12345 67890 …"` (six groups).
pub fn safety_number(a: &Fingerprint, b: &Fingerprint) -> String {
    let (lo, hi) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    let mut input = Vec::with_capacity(27 + 64);
    input.extend_from_slice(b"OnionChat-v1/safety-number\0");
    input.extend_from_slice(&lo.0);
    input.extend_from_slice(&hi.0);
    let h = sha256(&input);
    h[..30]
        .chunks(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a QR code for in-person verification carries:
/// `onionchat-verify:1:<hex fp a>:<hex fp b>` with the two fingerprints sorted.
pub fn qr_payload(a: &Fingerprint, b: &Fingerprint) -> String {
    let (lo, hi) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    format!("onionchat-verify:1:{}:{}", lo.to_hex(), hi.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_distinct() {
        let a = Fingerprint([1; 32]);
        let b = Fingerprint([2; 32]);
        let c = Fingerprint([3; 32]);
        assert_eq!(safety_number(&a, &b), safety_number(&b, &a));
        assert_ne!(safety_number(&a, &b), safety_number(&a, &c));
        let s = safety_number(&a, &b);
        assert_eq!(s.len(), 6 * 5 + 5);
        assert!(
            s.split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|d| d.is_ascii_digit()))
        );
        assert_eq!(qr_payload(&a, &b), qr_payload(&b, &a));
    }
}
