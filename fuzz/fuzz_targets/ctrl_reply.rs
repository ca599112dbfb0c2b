//! Generic netlink controller replies: FamilyInfo::parse and its op / group iterators.
//! The first byte picks the framing: odd wraps the rest as the attributes of a controller
//! message (so mutations reach the attributes directly); even takes it as a datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlcore::consts::{CTRL_CMD_NEWFAMILY, GENL_ID_CTRL, NLMSG_HDRLEN};
use nlcore::genl::FamilyInfo;
use nlcore::{MessageIter, NlMsg};

fn check(msg: NlMsg<'_>) {
    let Ok(info) = FamilyInfo::parse(msg) else {
        return;
    };
    assert!(
        info.name.len() < 16,
        "GENL_NAMSIZ holds the name and its NUL"
    );
    for op in info.ops() {
        let _ = op;
    }
    let mut groups = 0;
    for group in info.mcast_groups() {
        if let Ok(group) = group {
            assert!(!group.name.contains('\0'));
        }
        groups += 1;
    }
    let _ = (info.mcast_group("notify"), groups);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let len = NLMSG_HDRLEN + 4 + rest.len();
        let Ok(len32) = u32::try_from(len) else {
            return;
        };
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(&len32.to_ne_bytes());
        buf.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes());
        buf.extend_from_slice(&[0; 10]);
        buf.extend_from_slice(&[CTRL_CMD_NEWFAMILY, 2, 0, 0]);
        buf.extend_from_slice(rest);
        if let Ok(msg) = NlMsg::new_checked(&buf) {
            check(msg);
        }
    } else {
        for msg in MessageIter::new(rest).map_while(Result::ok) {
            check(msg);
        }
    }
});
