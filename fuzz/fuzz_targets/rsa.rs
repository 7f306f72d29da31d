//! entra-rsa (AVX-512 IFMA) against aws-lc on RS256 signatures near a valid one: the
//! input picks a message and edits a real signature of it (byte writes, truncation,
//! extension), and both backends must give the same verdict. Where the CPU has no
//! IFMA both keys are aws-lc's and the target checks nothing but the plumbing.
#![no_main]

use std::sync::OnceLock;

use entra_jose::{Algorithm, RsaBackend, RsaSigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

struct Keys {
    signer: RsaSigningKey,
    fast: VerifyingKey,
    aws: VerifyingKey,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let pk8 = include_bytes!("../../crates/jose/testdata/rsa2048.pk8");
        let signer = RsaSigningKey::from_pkcs8_der(pk8).unwrap();
        let public = signer.public_key();
        let fast = public
            .verifying_key_with(Algorithm::RS256, RsaBackend::Auto)
            .unwrap();
        let aws = public
            .verifying_key_with(Algorithm::RS256, RsaBackend::AwsLc)
            .unwrap();
        Keys { signer, fast, aws }
    })
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    // [message length][message][edits: (position hi, position lo, value)...]
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (message, edits) = rest.split_at((len as usize).min(rest.len()));
    let mut sig = k.signer.sign(Algorithm::RS256, message).unwrap();
    for e in edits.chunks(3) {
        match *e {
            [0xff, 0xff, n] => sig.truncate(n as usize),
            [0xff, 0xfe, b] => sig.push(b),
            [hi, lo, v] => {
                let at = (usize::from(hi) << 8 | usize::from(lo)) % sig.len().max(1);
                if let Some(byte) = sig.get_mut(at) {
                    *byte = v;
                }
            }
            _ => {}
        }
    }
    let fast = k.fast.verify(message, &sig);
    let aws = k.aws.verify(message, &sig);
    assert_eq!(fast, aws, "the backends disagree");
});
