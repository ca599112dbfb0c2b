//! The codec benchmark's Rust side: the workload of `shared/bench-workload.md` on nlcore
//! and on netlink-packet-core. `cargo xtask bench codec` builds the `codec-bench` binary
//! with the `bench-speed` profile and runs it beside the libmnl program in `c/`.

pub mod with_nlcore;
pub mod with_npc;
pub mod workload;

#[cfg(test)]
mod tests {
    use super::workload::*;
    use super::*;

    fn batch_from(mut encode: impl FnMut(u64, &mut [u8]) -> usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        for i in 0..BATCH as u64 {
            buf.fill(0xAA);
            let len = encode(i, &mut buf);
            assert_eq!(len, MSG_LEN, "message {i}");
            out.extend_from_slice(&buf[..len]);
        }
        out
    }

    #[test]
    fn encoders_agree_and_decoders_find_every_value() {
        let ours = batch_from(|i, b| with_nlcore::encode(i, b).unwrap());
        let mut npc = with_npc::Encoder::default();
        let theirs = batch_from(|i, b| npc.encode(i, b));
        assert_eq!(ours, theirs);
        // The name attribute: nla_len 43, one pad byte, as the workload table says.
        assert_eq!(&ours[104..108], &[43, 0, ATTR_NAME as u8, 0]);
        assert_eq!(&ours[146..148], &[0, 0]);
        let expected = expected_batch_checksum();
        assert_eq!(with_nlcore::decode_batch(&ours).unwrap(), expected);
        assert_eq!(with_npc::decode_batch(&ours).unwrap(), expected);
    }

    #[test]
    fn decoders_reject_a_wrong_integer_size_and_a_missing_nul() {
        let mut msg = batch_from(|i, b| with_nlcore::encode(i, b).unwrap());
        msg.truncate(MSG_LEN);
        // IFINDEX (at 20) claims 7 bytes: 3 value bytes instead of 4.
        let mut short_int = msg.clone();
        short_int[20] = 7;
        assert!(with_nlcore::decode_batch(&short_int).is_err());
        assert!(with_npc::decode_batch(&short_int).is_err());
        // The name's NUL (at 146) overwritten.
        let mut no_nul = msg.clone();
        no_nul[146] = b'x';
        assert!(with_nlcore::decode_batch(&no_nul).is_err());
        assert!(with_npc::decode_batch(&no_nul).is_err());
    }
}
