//! A received datagram: every message, its meaning (ack, error, done with ext-ack), and the
//! attributes of data messages. Must never panic; checks the iterator's length invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlcore::consts::NLMSG_HDRLEN;
use nlcore::{ExtAck, MessageIter, Payload};

fuzz_target!(|datagram: &[u8]| {
    let mut consumed = 0usize;
    for msg in MessageIter::new(datagram) {
        let Ok(msg) = msg else { break };
        let len = msg.bytes().len();
        assert!(len >= NLMSG_HDRLEN);
        assert_eq!(msg.header().len as usize, len);
        consumed += len;
        assert!(consumed <= datagram.len());
        match Payload::parse(msg) {
            Ok(Payload::Data(data)) => {
                if let Ok(attrs) = data.genl_attrs() {
                    for attr in attrs {
                        let Ok(attr) = attr else { break };
                        let _ = (attr.get_uint(), attr.get_str(), attr.nested().count());
                    }
                }
            }
            Ok(Payload::Error(err)) => {
                assert_ne!(err.errno, 0, "error 0 is an ACK");
                if let Some(echoed) = err.request_payload {
                    assert_eq!(echoed.len() + NLMSG_HDRLEN, err.request.len as usize);
                }
                let _ = err.ext_ack.msg.map(str::len);
            }
            Ok(Payload::Ack(ack)) => {
                let _ = ack.ext_ack.is_empty();
            }
            Ok(Payload::Done(done)) => {
                assert_eq!(done.interrupted, msg.is_dump_interrupted());
            }
            Ok(Payload::Noop | Payload::Overrun) | Err(_) => {}
        }
    }
    // The same bytes as bare ext-ack TLVs.
    let _ = ExtAck::parse(datagram);
});
