//! MsgBuilder behaviour: nests, batches, both buffer kinds, and every refusal.

mod common;

use common::{attr, cat, genl, msg};
use nlcore::consts::*;
use nlcore::genl::{build_dump_families, build_get_family};
use nlcore::{Error, MessageIter, MsgBuilder, NlMsg, SliceBuffer};

#[test]
fn nest_end_patches_length_and_sets_nested_flag() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    b.genl_header(1, 1).unwrap();
    let nest = b.nest_start(5).unwrap();
    b.put_u32(1, 7).unwrap();
    b.put_u8(2, 9).unwrap();
    b.nest_end(nest).unwrap();
    b.finish().unwrap();
    let inner = cat(&[&attr(1, &7u32.to_ne_bytes()), &attr(2, &[9])]);
    let expected = msg(
        NLMSG_MIN_TYPE,
        0,
        1,
        &genl(1, &attr(5 | NLA_F_NESTED, &inner)),
    );
    assert_eq!(b.as_bytes(), &expected[..]);
}

#[test]
fn nest_cancel_drops_the_nest_and_its_contents() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    b.genl_header(1, 1).unwrap();
    b.put_u16(1, 3).unwrap();
    let nest = b.nest_start(2).unwrap();
    b.put_u64(3, u64::MAX).unwrap();
    let inner = b.nest_start(4).unwrap();
    b.put_flag(5).unwrap();
    b.nest_end(inner).unwrap();
    b.nest_cancel(nest);
    b.put_u32(6, 1).unwrap();
    assert_eq!(b.finish(), Ok(36));
    let expected = msg(
        NLMSG_MIN_TYPE,
        0,
        1,
        &genl(
            1,
            &cat(&[&attr(1, &3u16.to_ne_bytes()), &attr(6, &1u32.to_ne_bytes())]),
        ),
    );
    assert_eq!(b.as_bytes(), &expected[..]);
}

#[test]
fn nest_too_long_for_nla_len_is_removed() {
    let mut buf = vec![0u8; 100_000];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    let before = b.len();
    let nest = b.nest_start(1).unwrap();
    for _ in 0..3 {
        b.put_bytes(2, &[0xab; 30_000]).unwrap();
    }
    assert_eq!(b.nest_end(nest), Err(Error::TooLong));
    assert_eq!(b.len(), before, "the nest and its contents are gone");
    assert_eq!(b.finish(), Ok(16));
}

#[test]
fn attribute_too_long_for_nla_len() {
    let mut buf = vec![0u8; 70_000];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    // 65531 value bytes + 4 header bytes = 65535, the largest nla_len.
    b.put_bytes(1, &vec![0; 65_531]).unwrap();
    let len = b.len();
    assert_eq!(b.put_bytes(1, &vec![0; 65_532]), Err(Error::TooLong));
    assert_eq!(b.len(), len);
}

#[test]
fn batch_of_several_messages() {
    let mut buf = [0u8; 256];
    let mut b = MsgBuilder::new(&mut buf);
    for seq in 1..=4u32 {
        b.begin(NLMSG_MIN_TYPE + seq as u16, NLM_F_REQUEST, seq, 0)
            .unwrap();
        b.genl_header(seq as u8, 1).unwrap();
        // Different lengths, one not a multiple of 4 before padding.
        b.put_bytes(1, &vec![seq as u8; seq as usize]).unwrap();
        b.finish().unwrap();
    }
    let msgs: Vec<NlMsg> = MessageIter::new(b.as_bytes()).map(Result::unwrap).collect();
    assert_eq!(msgs.len(), 4);
    let mut expected = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let seq = i as u32 + 1;
        assert_eq!((m.seq(), m.ty()), (seq, NLMSG_MIN_TYPE + seq as u16));
        let value = vec![seq as u8; seq as usize];
        let one = msg(
            NLMSG_MIN_TYPE + seq as u16,
            NLM_F_REQUEST,
            seq,
            &genl(seq as u8, &attr(1, &value)),
        );
        assert_eq!(m.bytes(), &one[..]);
        expected.extend_from_slice(&one);
    }
    assert_eq!(b.as_bytes(), &expected[..]);
}

#[test]
fn raw_family_header_is_padded() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(20, 0, 1, 0).unwrap();
    b.put_raw(&[1, 2, 3, 4, 5, 6]).unwrap();
    b.put_u8(1, 1).unwrap();
    assert_eq!(b.finish(), Ok(16 + 8 + 8));
    let m = NlMsg::new_checked(b.as_bytes()).unwrap();
    assert_eq!(m.payload()[..8], [1, 2, 3, 4, 5, 6, 0, 0]);
    let a = m.attrs(6).unwrap().next().unwrap().unwrap();
    assert_eq!(a.get_u8(), Ok(1));
}

#[test]
fn heapless_vec_buffer() {
    let mut vec = heapless::Vec::<u8, 64>::new();
    let mut b = MsgBuilder::new_in(&mut vec);
    build_get_family(&mut b, "test1", 1).unwrap();
    build_dump_families(&mut b, 2).unwrap();
    assert_eq!(vec.len(), 32 + 20);
    let seqs: Vec<u32> = MessageIter::new(&vec).map(|m| m.unwrap().seq()).collect();
    assert_eq!(seqs, [1, 2]);
    // The same bytes as into a slice.
    let mut buf = [0u8; 64];
    let mut s = MsgBuilder::new(&mut buf);
    build_get_family(&mut s, "test1", 1).unwrap();
    build_dump_families(&mut s, 2).unwrap();
    assert_eq!(s.as_bytes(), vec.as_slice());
}

#[test]
fn heapless_vec_too_small_leaves_nothing_behind() {
    let mut vec = heapless::Vec::<u8, 24>::new();
    let mut b = MsgBuilder::new_in(&mut vec);
    assert_eq!(
        build_get_family(&mut b, "test1", 1),
        Err(Error::BufferFull { need: 12, free: 4 })
    );
    assert!(!b.in_message());
    assert!(b.is_empty());
    assert!(vec.is_empty());
}

#[test]
fn slice_too_small_keeps_earlier_messages() {
    let mut buf = [0u8; 40];
    let mut b = MsgBuilder::new(&mut buf);
    build_dump_families(&mut b, 1).unwrap();
    let first = b.as_bytes().to_vec();
    assert_eq!(
        build_get_family(&mut b, "nlctrl", 2),
        Err(Error::BufferFull { need: 12, free: 0 })
    );
    assert_eq!(b.as_bytes(), &first[..]);
}

#[test]
fn put_str_with_interior_nul_is_refused() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    let len = b.len();
    assert_eq!(b.put_str(1, "eth\x000"), Err(Error::InteriorNul));
    assert_eq!(b.len(), len, "nothing written");
    b.put_str(1, "eth0").unwrap();
    b.put_cstr(2, c"eth1").unwrap();
    b.finish().unwrap();
    let m = NlMsg::new_checked(b.as_bytes()).unwrap();
    let names: Vec<&str> = m
        .attrs(0)
        .unwrap()
        .map(|a| a.unwrap().get_str().unwrap())
        .collect();
    assert_eq!(names, ["eth0", "eth1"]);
}

#[test]
fn finish_without_begin_is_out_of_order() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    assert_eq!(b.finish(), Err(Error::OutOfOrder));
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    b.finish().unwrap();
    assert_eq!(b.finish(), Err(Error::OutOfOrder), "finished twice");
}

#[test]
fn begin_twice_is_out_of_order() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    assert_eq!(b.begin(NLMSG_MIN_TYPE, 0, 2, 0), Err(Error::OutOfOrder));
    assert_eq!(b.finish(), Ok(16));
}

#[test]
fn cancel_and_clear() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    build_dump_families(&mut b, 1).unwrap();
    b.begin(NLMSG_MIN_TYPE, 0, 2, 0).unwrap();
    b.put_u32(1, 1).unwrap();
    b.cancel();
    assert_eq!(b.len(), 20);
    assert!(!b.in_message());
    b.cancel(); // no open message: nothing happens
    assert_eq!(b.len(), 20);
    b.clear();
    assert!(b.is_empty());
    build_dump_families(&mut b, 3).unwrap();
    assert_eq!(NlMsg::new_checked(b.as_bytes()).unwrap().seq(), 3);
}

#[test]
fn network_byte_order_attributes() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    b.put_be16(1 | NLA_F_NET_BYTEORDER, 0x1234).unwrap();
    b.put_be32(2 | NLA_F_NET_BYTEORDER, 0xc000_0201).unwrap();
    b.put_be64(3 | NLA_F_NET_BYTEORDER, 0x0102_0304_0506_0708)
        .unwrap();
    b.finish().unwrap();
    let m = NlMsg::new_checked(b.as_bytes()).unwrap();
    let attrs: Vec<_> = m.attrs(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(attrs[0].value(), [0x12, 0x34]);
    assert_eq!(attrs[1].value(), [192, 0, 2, 1]);
    assert!(attrs.iter().all(|a| a.is_net_byteorder()));
    assert_eq!(attrs[0].get_uint(), Ok(0x1234));
    assert_eq!(attrs[1].get_uint(), Ok(0xc000_0201));
    assert_eq!(attrs[2].get_uint(), Ok(0x0102_0304_0506_0708));
    assert_eq!(attrs[2].get_be64(), Ok(0x0102_0304_0506_0708));
}

#[test]
fn slice_buffer_into_written() {
    let mut buf = [0xffu8; 64];
    let mut b = MsgBuilder::new_in(SliceBuffer::new(&mut buf));
    build_dump_families(&mut b, 9).unwrap();
    let written = b.into_inner().into_written();
    assert_eq!(written.len(), 20);
    assert_eq!(NlMsg::new_checked(written).unwrap().seq(), 9);
}
