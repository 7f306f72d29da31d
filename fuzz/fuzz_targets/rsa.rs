//! entra-rsa (AVX-512 IFMA) against aws-lc on RS256 and PS256 signatures near a valid
//! one: the input picks the algorithm and a message and edits a real signature of it
//! (byte writes, truncation, extension), and both backends must give the same verdict. Where the CPU has no
//! IFMA both keys are aws-lc's and the target checks nothing but the plumbing.
#![no_main]

use std::sync::OnceLock;

use entra_jose::{Algorithm, RsaBackend, RsaSigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

struct Keys {
    signer: RsaSigningKey,
    /// (entra-rsa, aws-lc) for RS256, then for PS256.
    rs256: (VerifyingKey, VerifyingKey),
    ps256: (VerifyingKey, VerifyingKey),
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let pk8 = include_bytes!("../../crates/jose/testdata/rsa2048.pk8");
        let signer = RsaSigningKey::from_pkcs8_der(pk8).unwrap();
        let public = signer.public_key();
        let pair = |alg| {
            (
                public.verifying_key_with(alg, RsaBackend::Auto).unwrap(),
                public.verifying_key_with(alg, RsaBackend::AwsLc).unwrap(),
            )
        };
        let (rs256, ps256) = (pair(Algorithm::RS256), pair(Algorithm::PS256));
        Keys {
            signer,
            rs256,
            ps256,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    // [message length; its low bit picks PS256][message][edits: (hi, lo, value)...]
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (alg, (fast, aws)) = if len & 1 == 1 {
        (Algorithm::PS256, &k.ps256)
    } else {
        (Algorithm::RS256, &k.rs256)
    };
    let (message, edits) = rest.split_at((len as usize).min(rest.len()));
    let mut sig = k.signer.sign(alg, message).unwrap();
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
    assert_eq!(
        fast.verify(message, &sig),
        aws.verify(message, &sig),
        "the backends disagree on {alg:?}"
    );
});
